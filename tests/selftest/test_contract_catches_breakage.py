"""Each mutation makes a correct target wrong in one way; the contract must fail on it
(and only because of it), and pass again once the mutation is undone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.contract.target import Target

CONTRACT = Path(__file__).resolve().parent.parent / "contract"


@pytest.fixture(scope="module")
def kit(kit: dict[str, Any]) -> dict[str, Any]:  # narrows the plugin's fixture
    if kit["kit_contract"]["supervisor"] != "systemd":
        pytest.skip("not applicable: these mutations drive systemd; not a systemd layer")
    return kit


def run_contract(
    request: pytest.FixtureRequest, test_name: str
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        str(CONTRACT),
        "-p",
        "no:cacheprovider",
        "-q",
        f"--hosts={request.config.getoption('hosts')}",
        f"--kit-vars={request.config.getoption('--kit-vars')}",
        "-k",
        test_name,
    ]
    # The same transport as this run (a VM: its ssh config, sudo, the forwarded port).
    config = request.config
    if config.getoption("ssh_config"):
        argv.append(f"--ssh-config={config.getoption('ssh_config')}")
    if config.getoption("sudo"):
        argv.append("--sudo")
    if config.getoption("--kit-endpoint"):
        argv.append(f"--kit-endpoint={config.getoption('--kit-endpoint')}")
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def assert_contract(request: pytest.FixtureRequest, test_name: str, *, passes: bool) -> None:
    proc = run_contract(request, test_name)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    if passes:
        assert proc.returncode == 0 and "1 passed" in summary, proc.stdout[-2000:]
    else:
        assert proc.returncode == 1 and "1 failed" in summary, (
            f"the contract did not catch the breakage: {summary}\n{proc.stdout[-2000:]}"
        )


def wait_healthy(host: Any, kit: dict[str, Any]) -> None:
    """After a mutation is undone: the contract's own health wait (tests/contract/target.py)."""
    Target(host, kit).wait_healthy(timeout=30)


@contextmanager
def unit_dropin(host: Any, kit: dict[str, Any], body: str) -> Iterator[None]:
    unit = kit["kit_service"]["name"]
    path = f"/etc/systemd/system/{unit}.service.d/zz-selftest.conf"
    host.check_output("mkdir -p %s", path.rsplit("/", 1)[0])
    host.check_output("printf '%%s\\n' %s > %s", body, path)
    host.check_output("systemctl daemon-reload")
    host.check_output("systemctl restart %s", unit)
    try:
        yield
    finally:
        host.check_output("rm -f %s", path)
        host.check_output("systemctl daemon-reload")
        host.check_output("systemctl restart %s", unit)
        wait_healthy(host, kit)


def test_contract_catches_service_running_as_root(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    # The unit drops all capabilities, so root would lack DAC_OVERRIDE for the data dir.
    body = (
        "[Service]\nUser=root\nGroup=root\n"
        "CapabilityBoundingSet=\nCapabilityBoundingSet=CAP_DAC_OVERRIDE"
    )
    with unit_dropin(host, kit, body):
        wait_healthy(host, kit)
        assert_contract(request, "test_runs_as_service_user_not_root", passes=False)
    assert_contract(request, "test_runs_as_service_user_not_root", passes=True)


def test_contract_catches_config_writable_by_service_user(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    svc, config = kit["kit_service"], kit["kit_service"]["config_file"]
    if not config:
        pytest.skip("not applicable: the service has no config file (kit.toml config_template)")
    host.check_output("chown %s %s", svc["user"], config)
    try:
        assert_contract(request, "test_config_owned_by_root", passes=False)
    finally:
        host.check_output("chown root %s", config)
    assert_contract(request, "test_config_owned_by_root", passes=True)


def test_contract_catches_world_writable_data_dir(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    data = kit["kit_service"]["data_dir"]
    host.check_output("chmod o+w %s", data)
    try:
        assert_contract(request, "test_data_dir_writable_by_service_only", passes=False)
    finally:
        host.check_output("chmod o-w %s", data)
    assert_contract(request, "test_data_dir_writable_by_service_only", passes=True)
