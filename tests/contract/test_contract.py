"""DESIGN §4: the checks every layer's installed service must pass."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from typing import Any

import pytest

from tests.contract.supervisors import Docker, Stopped, Supervisor
from tests.contract.target import Target


def _service_procs(target: Target, main_pid: int) -> list[dict[str, Any]]:
    """The main process and all its descendants (e.g. gunicorn's workers)."""
    procs = target.probe("procs")
    found = [p for p in procs if p["pid"] == main_pid]
    pids = {main_pid}
    while children := [p for p in procs if p["ppid"] in pids and p["pid"] not in pids]:
        found += children
        pids |= {p["pid"] for p in children}
    return found


def _docker(supervisor: Supervisor, check: str) -> Docker:
    """The docker supervisor, or skip (the reason is printed in the report): `check` only
    exists for a container image."""
    if not isinstance(supervisor, Docker):
        pytest.skip(
            f"not applicable: {check} is a container-image check; "
            f"this layer runs under {supervisor.kind}"
        )
    return supervisor


def _writable_by(entry: dict[str, Any], uid: int, gid: int) -> bool:
    mode = entry["mode"]
    return bool(
        (entry["uid"] == uid and mode & 0o200)
        or (entry["gid"] == gid and mode & 0o020)
        or mode & 0o002
    )


# --- process and supervisor ---------------------------------------------------------


def test_runs_as_service_user_not_root(target: Target, supervisor: Supervisor) -> None:
    svc = target.service
    pid = supervisor.main_pid()
    assert pid > 0, f"{svc['name']} has no main process under {supervisor.kind}"
    procs = _service_procs(target, pid)
    assert procs, f"main pid {pid} not found on the target"
    for p in procs:
        assert p["uid"] != 0, f"pid {p['pid']} ({p['cmd']}) runs as root"
        assert p["uid"] == svc["uid"], f"pid {p['pid']} runs as uid {p['uid']}, not {svc['uid']}"


MAX_EXPOSURE = 1.2  # systemd-analyze security's 0-10 scale; templates/unit.service.j2


def test_unit_is_hardened(target: Target, supervisor: Supervisor) -> None:
    """`systemd-analyze security` scores the unit as loaded (drop-ins included)."""
    if supervisor.kind != "systemd":
        pytest.skip(f"not applicable: the layer runs under {supervisor.kind}, not a systemd unit")
    unit = f"{target.service['name']}.service"
    out = target.host.run("systemd-analyze security --no-pager %s", unit)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
    assert found, f"systemd-analyze security {unit} gave no score: {out.stderr.strip()}"
    exposure = float(found.group(1))
    print(f"systemd-analyze security {unit}: exposure {exposure} (limit {MAX_EXPOSURE})")
    assert exposure <= MAX_EXPOSURE, (
        f"{unit} exposure {exposure} > {MAX_EXPOSURE} — fix: keep the hardening of "
        "templates/unit.service.j2 (a drop-in or a layer's own unit weakened it)"
    )


def test_service_user_is_a_system_user_without_login(target: Target) -> None:
    svc = target.service
    entry = target.probe("user", svc["user"])
    assert entry["exists"], f"no user {svc['user']} in the target's account database"
    assert entry["uid"] == svc["uid"] and entry["gid"] == svc["gid"], entry
    assert entry["uid"] < 1000, "not a system user"
    assert entry["shell"] in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"), entry["shell"]


def test_listens_on_configured_port(target: Target) -> None:
    assert target.probe("listening", str(target.service["port"])), "nothing listens on the port"


# --- HTTP ------------------------------------------------------------------------------


def test_health(target: Target) -> None:
    path = target.service["http"]["health"]
    status, body = target.http("GET", path)
    assert status == 200, f"GET {path} gave {status}: {body}"


def test_ready(target: Target) -> None:
    path = target.path("ready", "the readiness check")
    status, body = target.http("GET", path)
    assert status == 200, f"GET {path} gave {status}: {body}"


def test_version_reports_version_interpreter_and_layer(target: Target, kit: dict[str, Any]) -> None:
    path = target.path("version", "the version/interpreter/layer report")
    status, doc = target.http("GET", path)
    assert status == 200, f"GET {path} gave {status}: {doc}"
    assert doc["version"] == kit["kit_version"]
    assert doc["executable"] == target.contract["interpreter"]
    assert doc["layer"] == kit["kit_layer"], (
        f"the service says layer {doc['layer']!r} — fix: the supervisor must set "
        f"{target.service['layer_env']}={kit['kit_layer']} (the unit's Environment=, the "
        "image's ENV)"
    )


def test_metrics_are_prometheus_text(target: Target) -> None:
    path = target.path("metrics", "the metrics check")
    status, text = target.http("GET", path)
    assert status == 200, f"GET {path} gave {status}"
    assert re.search(r"^# TYPE \S+ (counter|gauge|histogram|summary|untyped)$", text, re.M), (
        f"GET {path} is not Prometheus text (no `# TYPE name kind` line): {text[:200]!r}"
    )


# --- files -----------------------------------------------------------------------------


def test_config_owned_by_root_and_not_writable_by_service(target: Target) -> None:
    svc, config = target.service, target.config
    if not config:
        pytest.skip("not applicable: the service has no config file (kit.toml config_template)")
    parent = config.rsplit("/", 1)[0]
    facts = target.probe("stat", config, parent)
    assert facts[config]["exists"], f"{config} missing"
    for path, entry in facts.items():
        assert entry["uid"] == 0, f"{path} is owned by uid {entry['uid']}, not root"
        assert not _writable_by(entry, svc["uid"], svc["gid"]), (
            f"{path} (mode {entry['mode']:o}) is writable by the service user"
        )


def test_data_dir_writable_by_service_only(target: Target) -> None:
    svc, data = target.service, target.data_dir
    entry = target.probe("stat", data)[data]
    assert entry["exists"] and entry["dir"], f"{data} missing"
    assert entry["uid"] == svc["uid"] and entry["mode"] & 0o200, "service user cannot write it"
    assert not entry["mode"] & 0o022, f"{data} (mode {entry['mode']:o}) writable by others"


@pytest.fixture(scope="module")
def tree(target: Target, kit: dict[str, Any]) -> dict[str, Any]:
    needles = [kit["kit_root"], *target.contract.get("build_paths", [])]
    facts: dict[str, Any] = target.probe("tree", target.contract["install_root"], *needles)
    return facts


def test_install_tree_not_writable_by_service(target: Target, tree: dict[str, Any]) -> None:
    svc = target.service
    bad = [
        p
        for p, uid, gid, mode in tree["writable"]
        if _writable_by({"uid": uid, "gid": gid, "mode": mode}, svc["uid"], svc["gid"])
    ]
    assert not bad, f"writable by the service user: {bad[:5]}"


def test_install_tree_has_no_build_paths(tree: dict[str, Any]) -> None:
    assert not tree["needles"], f"build paths leaked into the install: {tree['needles'][:5]}"


def test_install_tree_has_no_compilers(tree: dict[str, Any]) -> None:
    assert not tree["compilers"], f"compilers shipped: {tree['compilers']}"


def test_every_shipped_elf_resolves_its_libraries(target: Target, tree: dict[str, Any]) -> None:
    if not tree["elf"]:
        pytest.skip("not applicable: the install tree ships no ELF file (pure-Python deps)")
    unresolved = target.probe("ldd", *tree["elf"])
    assert not unresolved, f"unresolved libraries: {unresolved}"


def test_python_is_precompiled(target: Target, tree: dict[str, Any]) -> None:
    if not target.contract.get("precompiled", False):
        pytest.skip(
            "not applicable: this layer compiles .pyc lazily (contract.precompiled = false)"
        )
    missing = tree["py_without_pyc"]
    assert not missing, f"{len(missing)} .py files without .pyc, e.g. {missing[:3]}"


# --- lifecycle -------------------------------------------------------------------------


def test_restart_keeps_data(target: Target, supervisor: Supervisor) -> None:
    items = target.path("items", "the data-survives-restart check")
    name = f"restart-{uuid.uuid4().hex[:8]}"
    status, item = target.http("POST", items, {"name": name})
    assert status == 201, item
    supervisor.restart()
    target.wait_healthy()
    status, back = target.http("GET", f"{items}/{item['id']}")
    assert status == 200 and back["name"] == name


def _assert_clean_stop(result: Stopped, supervisor: Supervisor) -> None:
    assert result.exit_status == 0, f"exit status {result.exit_status}: {result.detail}"
    assert result.clean, f"{supervisor.kind} does not call the stop clean: {result.detail}"


def test_sigterm_stops_cleanly(target: Target, supervisor: Supervisor) -> None:
    if target.service["http"]["items"]:  # give the store something to close
        target.http("POST", target.service["http"]["items"], {"name": "before-stop"})
    try:
        result = supervisor.stop()
        _assert_clean_stop(result, supervisor)
        leftovers = [
            f
            for f in supervisor.list_dir(target, target.data_dir)
            if f.endswith(("-journal", "-wal", "-shm"))
        ]
        assert not leftovers, f"database not closed cleanly: {leftovers}"
    finally:
        supervisor.start()
        target.wait_healthy()


def test_stop_drains_in_flight_request(target: Target, supervisor: Supervisor) -> None:
    """A request that is in flight when the stop begins is answered; then the exit is clean."""
    items = target.path("items", "the in-flight drain check (it holds a POST open)")
    endpoint = target.endpoint()
    body = json.dumps({"name": f"in-flight-{uuid.uuid4().hex[:8]}"}).encode()
    head = (
        b"POST %s HTTP/1.1\r\nHost: contract\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (items.encode(), len(body))
    )
    stopped: list[Stopped] = []
    stopper = threading.Thread(target=lambda: stopped.append(supervisor.stop()))
    try:
        with socket.create_connection(endpoint, timeout=60) as sock:
            sock.sendall(head + body[:4])  # a worker now waits for the rest of the body
            time.sleep(0.5)
            stopper.start()
            time.sleep(1.5)  # SIGTERM is in; the server must keep this request alive
            sock.sendall(body[4:])
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        stopper.join()
        status_line = reply.split(b"\r\n", 1)[0].decode(errors="replace")
        assert status_line.split()[1:2] == ["201"], f"in-flight request got {status_line!r}"
        assert stopped, "the stop did not return"
        _assert_clean_stop(stopped[0], supervisor)
        assert stopped[0].seconds >= 1.0, "the stop did not wait for the in-flight request"
    finally:
        if stopper.is_alive():
            stopper.join()
        supervisor.start()
        target.wait_healthy()


def test_crash_is_restarted_by_supervisor(target: Target, supervisor: Supervisor) -> None:
    old = supervisor.crash()
    new = supervisor.wait_restarted(old, timeout=30 * target.scale)
    assert new != old
    target.wait_healthy()


# --- container image (docker supervisor) --------------------------------------------------


def test_image_user_is_numeric_and_not_root(target: Target, supervisor: Supervisor) -> None:
    user = _docker(supervisor, "the image's Config.User").image_config()["User"]
    assert re.fullmatch(r"\d+(:\d+)?", user or ""), (
        f"Config.User is {user!r} — fix: USER <uid>:<gid> with numbers, so runtimes can "
        "enforce runAsNonRoot without reading /etc/passwd"
    )
    uid = int(user.split(":")[0])
    assert uid != 0, "Config.User is root"
    assert uid == target.service["uid"], f"Config.User {user}, kit.toml uid {target.service['uid']}"


def test_main_process_has_no_capabilities_and_no_new_privileges(
    target: Target, supervisor: Supervisor
) -> None:
    _docker(supervisor, "CapEff/NoNewPrivs of the container's processes")
    for proc in _service_procs(target, supervisor.main_pid()):
        st = target.probe("status", str(proc["pid"]))
        for cap in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
            assert int(st[cap], 16) == 0, (
                f"pid {proc['pid']} {cap}={st[cap]} — fix: run with --cap-drop ALL"
            )
        assert st["NoNewPrivs"] == "1", (
            f"pid {proc['pid']} NoNewPrivs={st['NoNewPrivs']} — fix: run with "
            "--security-opt no-new-privileges"
        )


@pytest.fixture(scope="module")
def fs_audit(target: Target, supervisor: Supervisor) -> dict[str, Any]:
    _docker(supervisor, "the image's filesystem audit (setuid/setgid, ownership, read-only /)")
    audit: dict[str, Any] = target.probe("fs_audit", str(target.service["uid"]), target.data_dir)
    return audit


def test_no_setuid_or_setgid_files(supervisor: Supervisor, fs_audit: dict[str, Any]) -> None:
    _docker(supervisor, "a setuid/setgid-free image")
    assert not fs_audit["setid"], (
        f"setuid/setgid files in the image: {fs_audit['setid'][:10]} — fix: remove them, "
        "or strip the bits (chmod u-s,g-s) in the build"
    )


def test_nothing_but_the_data_dir_owned_by_service_user(
    target: Target, supervisor: Supervisor, fs_audit: dict[str, Any]
) -> None:
    _docker(supervisor, "an image whose files the service cannot own")
    owned = fs_audit["owned"]
    assert not owned, (
        f"owned by uid {target.service['uid']} outside {target.data_dir}: "
        f"{owned[:10]} — fix: leave image files root-owned (COPY without --chown)"
    )


def test_root_filesystem_is_read_only(supervisor: Supervisor, fs_audit: dict[str, Any]) -> None:
    docker = _docker(supervisor, "a read-only root filesystem")
    assert docker.inspect()["HostConfig"]["ReadonlyRootfs"], (
        "the container's root filesystem is writable — fix: run it with --read-only"
    )
    assert fs_audit["root_write"] == "EROFS", (
        f"a write to / gave {fs_audit['root_write']}, not EROFS — fix: run with --read-only"
    )
