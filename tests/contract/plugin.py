"""The contract as a pytest plugin (loaded by the kit root's conftest.py): one --kit-vars
option and the fixtures every suite shares — the contract (tests/contract), its
self-test (tests/selftest) and each layer's own tests (deb/tests, rpm/tests, …).

Run by molecule's verify step (ansible/tasks/contract.yml), or by hand against any host:
    pytest tests/contract --hosts=docker://kit-sample-service-wheel-trixie \
        --kit-vars dist/wheel/trixie/kit-vars.json
A container-image layer (supervisor "docker") is probed as root inside its container:
    pytest tests/contract --hosts=docker://root@kit-sample-service-docker-trixie \
        --kit-vars dist/docker/trixie/kit-vars.json
(`./kit build LAYER` / `./kit test LAYER` write kit-vars.json: kit.toml's facts + the layer's.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.contract.supervisors import Supervisor, for_target
from tests.contract.target import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kit-vars",
        default=os.environ.get("KIT_VARS"),
        help="the layer's kit-vars.json (default: $KIT_VARS)",
    )
    parser.addoption(
        "--kit-endpoint",
        default=os.environ.get("KIT_ENDPOINT"),
        help="HOST:PORT where this host reaches the service's port on the target (default: "
        "$KIT_ENDPOINT, else the port a docker:// target publishes on 127.0.0.1)",
    )


# A check may be skipped only when it cannot apply to this kind of layer or the service
# does not declare the feature in kit.toml; such skips say so with this prefix. Any other
# skip (a harness that could not reach something, a missing tool) fails the run.
APPLICABLE = "not applicable:"
# The one other skip allowed: an upgrade check the bounded tier leaves to --matrix
# (KIT_UPGRADE=skip:<layer>, see pytest_collection_modifyitems).
TIER = "left to ./kit test --matrix:"


def _allowed(report: Any, reason: str) -> bool:
    if reason.startswith(APPLICABLE):
        return True
    return (
        reason.startswith(TIER)
        and os.environ.get("KIT_UPGRADE", "").startswith("skip")
        and "upgrade" in report.keywords
    )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the skips grouped by reason; fail the run on a skip for any other reason."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    by_reason: dict[str, list[str]] = {}
    bad = set()
    for report in skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "?"
        reason = reason.removeprefix("Skipped: ")
        by_reason.setdefault(reason, []).append(report.nodeid.split("::")[-1].split("[")[0])
        if not _allowed(report, reason):
            bad.add(reason)
    terminalreporter.section("skips by reason")
    for reason, tests in sorted(by_reason.items()):
        terminalreporter.write_line(f"{len(tests)} skipped: {reason}\n    {', '.join(tests)}")
    if bad:
        terminalreporter.write_line(
            f"FAIL: {len(bad)} skip reason(s) are not 'not applicable' — a check may be skipped "
            "only when it cannot apply to this layer or kit.toml does not declare the feature "
            "(or it is an upgrade check the tier leaves to --matrix, KIT_UPGRADE); "
            "fix the harness or the target instead",
            red=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Runs before the terminal summary: decide from the reports themselves.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    for report in reporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        if not _allowed(report, reason.removeprefix("Skipped: ")):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The upgrade check changes the installed version, so it always runs last.
    items.sort(key=lambda item: item.get_closest_marker("upgrade") is not None)
    # KIT_UPGRADE=skip:<layer> (the kit's bounded tier, for a layer with tests.upgrade =
    # "matrix"): this target installs <layer>'s package, whose upgrade that layer's
    # contract proves in the same tier; `./kit test --matrix` runs it here too.
    skip, _, proven_by = os.environ.get("KIT_UPGRADE", "").partition(":")
    if skip == "skip":
        mark = pytest.mark.skip(
            reason=f"{TIER} this target upgrades with the {proven_by or 'package'} layer's "
            "package, whose upgrade that layer's contract proves in this tier"
        )
        for item in items:
            if item.get_closest_marker("upgrade") is not None:
                item.add_marker(mark)


@pytest.fixture(scope="session")
def kit(request: pytest.FixtureRequest) -> dict[str, Any]:
    path = request.config.getoption("--kit-vars")
    if not path:
        raise pytest.UsageError(
            "no --kit-vars given — fix: pass --kit-vars dist/<layer>/<distro>/kit-vars.json "
            "(written by `./kit build LAYER`) or set KIT_VARS"
        )
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


@pytest.fixture(scope="module")
def target(host: Any, kit: dict[str, Any], request: pytest.FixtureRequest) -> Target:
    return Target(host, kit, request.config.getoption("--kit-endpoint") or "")


@pytest.fixture(scope="module")
def supervisor(host: Any, kit: dict[str, Any]) -> Supervisor:
    return for_target(kit["kit_contract"]["supervisor"], host, kit["kit_service"]["name"])
