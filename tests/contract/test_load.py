"""The load check: a short wrk run (bounded in time, loopback only) of concurrent writers
and readers against the installed service must hold — no error of any kind — with its
requests/s and p99 latency printed in the report."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.contract.target import Target

LUA = Path(__file__).with_name("load.lua")  # the request mix; prints the KIT_LOAD line
SECONDS = 5  # the whole check stays under ~10 s: CI runners have 2 cores
THREADS, CONNECTIONS = 2, 8  # wrk threads, concurrent keep-alive connections
TIMEOUT = "10s"  # a reply slower than this is a wrk timeout error (SQLite waits <= 5 s)
ERRORS = ("non2xx", "connect", "read", "write", "timeout", "status")


def _wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.fail(
            "wrk is not installed on this host (the contract's load generator) — fix: "
            "./kit doctor --fix, or apt-get install wrk"
        )
    return wrk


def _seed(target: Target, items: str) -> int:
    """An item for the readers' first GET, created over the same endpoint wrk uses."""
    body = json.dumps({"name": f"load-seed-{uuid.uuid4().hex[:8]}"}).encode()
    req = urllib.request.Request(
        target.url(items), data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201, f"POST {items} gave {resp.status}"
        return int(json.load(resp)["id"])


def _summary(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("KIT_LOAD "):
            summary: dict[str, Any] = json.loads(line.removeprefix("KIT_LOAD "))
            return summary
    raise AssertionError(f"wrk printed no KIT_LOAD summary ({LUA.name} done()):\n{stdout}")


def test_load_holds_with_concurrent_writers_and_readers(target: Target) -> None:
    items = target.path("items", "the load check (its writers POST items)")
    health = target.service["http"]["health"]
    wrk = _wrk()
    target.wait_healthy()
    seed = _seed(target, items)
    cmd = [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{SECONDS}s",
        "--timeout",
        TIMEOUT,
        "-s",
        str(LUA),
        target.url(),
        "--",
        items,
        health,
        str(seed),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 30, check=False)
    assert run.returncode == 0, f"wrk failed (rc {run.returncode}): {run.stderr.strip()}"
    s = _summary(run.stdout)
    seconds = s["duration_us"] / 1e6
    print(
        f"load: {s['requests']} req in {seconds:.1f} s = {s['requests'] / seconds:.0f} req/s, "
        f"p99 {s['p99_us'] / 1000:.1f} ms (p50 {s['p50_us'] / 1000:.1f}, max "
        f"{s['max_us'] / 1000:.1f}), writers {s['writes']}/readers {s['reads']} "
        f"(wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s)"
    )
    errors = {k: s[k] for k in ERRORS if s[k]}
    assert not errors, (
        f"the load got errors {errors} out of {s['requests']} requests; first non-2xx: "
        f"{s['first_non2xx'] or '-'} — fix: the service's log names the cause (a 5xx from "
        "SQLite lock contention: the store's connection settings, sample_service/db.py)"
    )
    assert s["writes"] > 0 and s["reads"] > 0, f"the load did not both write and read: {s}"
