"""Container mutations: swap the layer's container for a twin that lacks one hardening
property (same image, volume, config and ports); the contract must fail on exactly that
check, and pass again once the original container is back."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.selftest.test_contract_catches_breakage import assert_contract, wait_healthy


@pytest.fixture(scope="module")
def kit(kit: dict[str, Any]) -> dict[str, Any]:  # narrows the plugin's fixture
    if kit["kit_contract"]["supervisor"] != "docker":
        pytest.skip("not applicable: these mutations swap containers; not a docker layer")
    return kit


def docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr.strip()}"
    return proc.stdout


def run_args(info: dict[str, Any], **change: Any) -> list[str]:
    """`docker run` arguments that recreate a container from its inspect data, with the
    hardening flags named in `change` replaced (read_only, cap_drop, security_opt,
    stop_timeout)."""
    hc = info["HostConfig"]
    read_only = change.get("read_only", hc["ReadonlyRootfs"])
    cap_drop = change.get("cap_drop", hc["CapDrop"] or [])
    security_opt = change.get("security_opt", hc["SecurityOpt"] or [])
    stop_timeout = change.get("stop_timeout", info["Config"].get("StopTimeout"))
    args = ["--name", info["Name"].lstrip("/"), "--restart", hc["RestartPolicy"]["Name"]]
    args += ["--read-only"] if read_only else []
    for cap in cap_drop:
        args += ["--cap-drop", cap]
    for opt in security_opt:
        args += ["--security-opt", opt]
    for path, opts in (hc["Tmpfs"] or {}).items():
        args += ["--tmpfs", f"{path}:{opts}" if opts else path]
    for m in info["Mounts"]:
        source = m["Name"] if m["Type"] == "volume" else m["Source"]
        args += ["-v", f"{source}:{m['Destination']}" + ("" if m["RW"] else ":ro")]
    for port, binds in (hc["PortBindings"] or {}).items():
        for b in binds:
            args += ["-p", f"{b['HostIp']}:{b['HostPort']}:{port}"]
    if stop_timeout:
        args += ["--stop-timeout", str(stop_timeout)]
    return [*args, info["Image"]]


@contextmanager
def twin(host: Any, kit: dict[str, Any], **change: Any) -> Iterator[None]:
    name = host.backend.name
    info = json.loads(docker("inspect", "--type", "container", name))[0]
    docker("stop", name)
    docker("rename", name, f"{name}-selftest-original")
    try:
        docker("run", "-d", *run_args(info, **change))
        wait_healthy(host, kit)
        yield
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        docker("rename", f"{name}-selftest-original", name)
        docker("start", name)
        wait_healthy(host, kit)


def test_contract_catches_writable_root_filesystem(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    with twin(host, kit, read_only=False):
        assert_contract(request, "test_root_filesystem_is_read_only", passes=False)
    assert_contract(request, "test_root_filesystem_is_read_only", passes=True)


def test_contract_catches_capabilities_and_new_privileges(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    check = "test_main_process_has_no_capabilities_and_no_new_privileges"
    with twin(host, kit, cap_drop=[], security_opt=[]):
        assert_contract(request, check, passes=False)
    assert_contract(request, check, passes=True)


def test_contract_catches_stop_timeout_shorter_than_the_drain(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    # docker SIGKILLs after 1 s, while the contract's request is still in flight.
    with twin(host, kit, stop_timeout=1):
        assert_contract(request, "test_stop_drains_in_flight_request", passes=False)
    assert_contract(request, "test_stop_drains_in_flight_request", passes=True)
