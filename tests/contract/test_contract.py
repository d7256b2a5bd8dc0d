"""DESIGN §4: the checks every layer's installed service must pass."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from supervisors import Systemd
from target import Target


def _service_procs(target: Target, main_pid: int) -> list[dict[str, Any]]:
    """The main process and all its descendants (e.g. gunicorn's workers)."""
    procs = target.probe("procs")
    found = [p for p in procs if p["pid"] == main_pid]
    pids = {main_pid}
    while children := [p for p in procs if p["ppid"] in pids and p["pid"] not in pids]:
        found += children
        pids |= {p["pid"] for p in children}
    return found


def _writable_by(entry: dict[str, Any], uid: int, gid: int) -> bool:
    mode = entry["mode"]
    return bool(
        (entry["uid"] == uid and mode & 0o200)
        or (entry["gid"] == gid and mode & 0o020)
        or mode & 0o002
    )


# --- process and supervisor ---------------------------------------------------------


def test_runs_as_service_user_not_root(target: Target, supervisor: Systemd) -> None:
    svc = target.service
    pid = supervisor.main_pid()
    assert pid > 0, f"{svc['name']} has no main process under {supervisor.kind}"
    procs = _service_procs(target, pid)
    assert procs, f"main pid {pid} not found on the target"
    for p in procs:
        assert p["uid"] != 0, f"pid {p['pid']} ({p['cmd']}) runs as root"
        assert p["uid"] == svc["uid"], f"pid {p['pid']} runs as uid {p['uid']}, not {svc['uid']}"


def test_service_user_is_a_system_user_without_login(host: Any, target: Target) -> None:
    svc = target.service
    entry = host.check_output("getent passwd %s", svc["user"]).split(":")
    assert int(entry[2]) == svc["uid"] and int(entry[3]) == svc["gid"]
    assert int(entry[2]) < 1000, "not a system user"
    assert entry[6] in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"), entry[6]


def test_listens_on_configured_port(target: Target) -> None:
    assert target.probe("listening", str(target.service["port"])), "nothing listens on the port"


# --- HTTP ------------------------------------------------------------------------------


def test_healthz_and_readyz(target: Target) -> None:
    assert target.http("GET", "/healthz")[0] == 200
    assert target.http("GET", "/readyz")[0] == 200


def test_version_reports_version_interpreter_and_layer(target: Target, kit: dict[str, Any]) -> None:
    status, doc = target.http("GET", "/version")
    assert status == 200
    assert doc["version"] == kit["kit_version"]
    assert doc["executable"] == target.contract["interpreter"]
    assert doc["layer"] == kit["kit_layer"]


def test_metrics_are_prometheus_text(target: Target) -> None:
    status, text = target.http("GET", "/metrics")
    assert status == 200 and "# TYPE sample_service_requests_total counter" in text


# --- files -----------------------------------------------------------------------------


def test_config_owned_by_root_and_not_writable_by_service(target: Target) -> None:
    svc, config = target.service, target.contract["config"]
    parent = config.rsplit("/", 1)[0]
    facts = target.probe("stat", config, parent)
    assert facts[config]["exists"], f"{config} missing"
    for path, entry in facts.items():
        assert entry["uid"] == 0, f"{path} is owned by uid {entry['uid']}, not root"
        assert not _writable_by(entry, svc["uid"], svc["gid"]), (
            f"{path} (mode {entry['mode']:o}) is writable by the service user"
        )


def test_data_dir_writable_by_service_only(target: Target) -> None:
    svc, data = target.service, target.contract["data_dir"]
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
    assert tree["elf"], "no ELF files found — the compiled dependency should ship one"
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


def test_restart_keeps_data(target: Target, supervisor: Systemd) -> None:
    name = f"restart-{uuid.uuid4().hex[:8]}"
    status, item = target.http("POST", "/items", {"name": name})
    assert status == 201, item
    supervisor.restart()
    target.wait_healthy()
    status, back = target.http("GET", f"/items/{item['id']}")
    assert status == 200 and back["name"] == name


def test_sigterm_stops_cleanly(target: Target, supervisor: Systemd) -> None:
    target.http("POST", "/items", {"name": "before-stop"})
    try:
        result = supervisor.stop()
        assert result["Result"] == "success", result
        assert result["ExecMainStatus"] == "0", f"exit status {result['ExecMainStatus']}"
        leftovers = [
            f
            for f in target.probe("files", target.contract["data_dir"])
            if f.endswith(("-journal", "-wal", "-shm"))
        ]
        assert not leftovers, f"database not closed cleanly: {leftovers}"
    finally:
        supervisor.start()
        target.wait_healthy()


def test_crash_is_restarted_by_supervisor(target: Target, supervisor: Systemd) -> None:
    old = supervisor.crash()
    new = supervisor.wait_new_main_pid(old)
    assert new != old
    target.wait_healthy()
