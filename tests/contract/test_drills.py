"""Fault drills against the installed service, bounded to seconds each: a crash while
clients write, a full disk under the data dir, a broken config file. Each ends with the
service healthy again, so the rest of the contract runs on.

Trials of the crash drill: 5 on a target at native speed (~5 s a trial); 3 on an
emulated one (a VM under TCG, contract.timeout_scale > 1: 10-25 s a trial), the bounded
tier `./kit test` runs. `./kit test --matrix` runs 10 everywhere, `./kit drill LAYER
--trials N` as many as asked (both set KIT_DRILL_TRIALS)."""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
import uuid

import pytest

from tests.contract.supervisors import Supervisor
from tests.contract.target import Target

TRIALS = int(os.environ.get("KIT_DRILL_TRIALS", "0"))  # 0: by the target's speed


def trials(target: Target) -> int:
    return TRIALS or (5 if target.scale <= 1 else 3)


class Writers:
    """Client threads POSTing items through the target's published port; each 201 is an
    acknowledged write the service has promised to keep."""

    def __init__(self, target: Target, items: str, threads: int = 3) -> None:
        self.target, self.items = target, items
        self.acked: dict[int, str] = {}
        self.failed = 0
        self.server_errors: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def _run(self, n: int) -> None:
        conn: http.client.HTTPConnection | None = None
        serial = 0
        while not self.stop.is_set():
            serial += 1
            name = f"drill-{n}-{serial}-{uuid.uuid4().hex[:6]}"
            try:
                # Resolved per connection: a restarted container may publish another port.
                conn = conn or http.client.HTTPConnection(*self.target.endpoint(), timeout=5)
                body = json.dumps({"name": name})
                conn.request("POST", self.items, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status == 201:
                    with self.lock:
                        self.acked[int(json.loads(data)["id"])] = name
                    continue
                if resp.status >= 500 and resp.status not in (502, 503):
                    self.server_errors.append(f"{resp.status} {data[:200]!r}")
            except (OSError, http.client.HTTPException, AssertionError):
                pass  # the service is down: not acknowledged, nothing promised
            self.failed += 1
            if conn is not None:
                conn.close()
                conn = None
            time.sleep(0.05)
        if conn is not None:
            conn.close()

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def wait_for(self, more: int, timeout: float = 15) -> None:
        timeout *= self.target.scale
        goal, deadline = self.count() + more, time.monotonic() + timeout
        while self.count() < goal:
            assert time.monotonic() < deadline, f"writes did not resume within {timeout} s"
            time.sleep(0.05)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def _lost(target: Target, items: str, acked: dict[int, str]) -> list[int]:
    conn = http.client.HTTPConnection(*target.endpoint(), timeout=10)
    lost = []
    try:
        for item_id, name in sorted(acked.items()):
            conn.request("GET", f"{items}/{item_id}")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or json.loads(body).get("name") != name:
                lost.append(item_id)
    finally:
        conn.close()
    return lost


def test_kill_9_while_clients_write_loses_no_acknowledged_write(
    target: Target, supervisor: Supervisor
) -> None:
    items = target.path("items", "the crash drill (it needs a write endpoint)")
    target.wait_healthy()
    started, runs = time.monotonic(), trials(target)
    with Writers(target, items) as writers:
        for _ in range(runs):
            supervisor.reset_limits()  # systemd's 5 starts/10 s, docker's back-off
            writers.wait_for(5)
            old = supervisor.crash()
            supervisor.wait_restarted(old, timeout=30 * target.scale)
            target.wait_healthy()
            writers.wait_for(3)  # writes resume on the new process
    lost = _lost(target, items, writers.acked)
    integrity = f"ok ({target.database_state()})"
    print(
        f"kill -9 drill: {runs} trials in {time.monotonic() - started:.1f} s, "
        f"{len(writers.acked)} acknowledged writes, {len(lost)} lost, "
        f"{writers.failed} refused while down, database {integrity}"
    )
    assert not writers.server_errors, f"server errors: {writers.server_errors[:5]}"
    assert not lost, f"acknowledged writes lost after kill -9: ids {lost[:20]}"


# What a clear log line about a full disk says.
FULL = re.compile(r"\b(full|no space|ENOSPC|SQLITE_FULL)\b", re.IGNORECASE)


def test_full_disk_refuses_writes_keeps_reads_and_recovers(
    target: Target, supervisor: Supervisor
) -> None:
    items = target.path("items", "the disk-full drill (it needs a write endpoint)")
    with supervisor.small_data_dir(target, kib=1024) as (small, sup):
        status, item = small.http("POST", items, {"name": "before-full"})
        assert status == 201, item
        since = time.time()
        filler = small.probe_as_service("fill", small.data_dir)
        name = "x" * 200
        answers: list[int] = []
        try:
            for _ in range(300):
                status, body = small.http("POST", items, {"name": name})
                answers.append(status)
                if status != 201:
                    break
            assert answers[-1] in (507, 503), (
                f"with the disk full, writes gave {sorted(set(answers))}, last {body!r} — fix: "
                "answer 507 (or 503) when storage refuses a write, never 500"
            )
            assert isinstance(body, dict), f"the {answers[-1]} has no JSON body: {body!r}"
            status, back = small.http("GET", f"{items}/{item['id']}")
            assert status == 200 and back["name"] == "before-full", "reads broke on a full disk"
            health = small.service["http"]["health"]
            assert small.http("GET", health)[0] == 200, "health failed on a full disk"
            logs = sup.logs_since(since)
            said = [line for line in logs.splitlines() if FULL.search(line)]
            assert said, f"no log line says the disk is full; the log since: {logs[-1500:]}"
        finally:
            small.probe_as_service("unlink", filler["path"])
        status, body = small.http("POST", items, {"name": "after-full"})
        assert status == 201, f"writes did not recover once space returned: {status} {body}"
        print(
            f"disk-full drill ({target.kit['kit_layer']}): {len(answers) - 1} writes fit, then "
            f"{answers[-1]}; reads 200; log: {said[0][:160]}; recovered: 201"
        )


def test_invalid_config_refuses_to_start_and_leaves_data(
    target: Target, supervisor: Supervisor
) -> None:
    if not target.config:
        pytest.skip("not applicable: the service has no config file (kit.toml config_template)")
    edit_host, path = supervisor.config_source(target.config)
    size = edit_host.check_output("stat -c %%s %s", path)
    supervisor.stop()
    before = supervisor.data_hashes(target)
    since = time.time()
    try:
        # Appended in place: a bind-mounted config file keeps its inode.
        edit_host.check_output("printf '%%s\\n' %s >> %s", "[[[ not toml", path)
        supervisor.start()
        status = supervisor.wait_failed(timeout=30 * target.scale)
        logs = supervisor.logs_since(since)
        said = [line for line in logs.splitlines() if "config" in line.lower()]
        after = supervisor.data_hashes(target)
    finally:
        edit_host.check_output("truncate -s %s %s", size, path)
        supervisor.restart()  # from failed (systemd) or restart back-off (docker)
        target.wait_healthy()
    assert status != 0, "the service exited 0 on an invalid config"
    assert said, f"no log line names the config problem; the log since: {logs[-1500:]}"
    assert after == before, f"the data dir changed on a refused start: {before} → {after}"
    print(f"invalid-config drill: exit {status}; log: {said[-1][:200]}; data untouched")
