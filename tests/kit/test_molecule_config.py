"""The shared molecule config (.config/molecule/config.yml): molecule itself merges it
under every scenario — found at the repository root, and named by the kit — and every
scenario then has the driver, target, facts file and test sequence it claims."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kitcli import harness
from kitcli.settings import ROOT

MOLECULE = ROOT / ".kit" / "venv" / "bin" / "molecule"
# The scenarios that take the shared default target (one systemd container).
SHARED_TARGET = ("wheel", "deb", "rpm", "pex", "omnibus")


def listing(tmp_path: Path, *base: str) -> dict[str, list[tuple[str, str]]]:
    """`molecule list` from ansible/: scenario → [(instance, driver)]."""
    env = os.environ | {
        "KIT_VARS": str(tmp_path / "kit-vars.json"),
        "KIT_PORT": "8080",
        "KIT_INSTANCE": "kit-test-instance",
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "molecule"),
        "PY_COLORS": "0",
        "NO_COLOR": "1",
        "PATH": f"{MOLECULE.parent}:{os.environ.get('PATH', '')}",
    }
    done = subprocess.run(
        [str(MOLECULE), *base, "list", "-f", "plain"],
        cwd=harness.ANSIBLE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert done.returncode == 0, f"molecule list failed: {errors or done.stderr[-2000:]}"
    out = done.stdout
    rows: dict[str, list[tuple[str, str]]] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 6:  # instance, driver, provisioner, scenario, created, converged
            rows.setdefault(fields[3], []).append((fields[0], fields[1]))
    return rows


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, str]]]:
    return listing(tmp_path_factory.mktemp("named"), *harness.molecule()[1:3])


def test_the_kit_names_the_shared_config() -> None:
    base = harness.molecule("test")
    assert base[1] == "--base-config"
    assert (harness.ANSIBLE / base[2]).resolve() == ROOT / ".config" / "molecule" / "config.yml"


def test_every_scenario_loads(named: dict[str, list[tuple[str, str]]]) -> None:
    scenarios = sorted(p.parent.name for p in (harness.ANSIBLE / "molecule").glob("*/molecule.yml"))
    assert sorted(named) == scenarios, "a scenario molecule could not load"


@pytest.mark.parametrize("scenario", SHARED_TARGET)
def test_package_scenarios_take_the_shared_target(
    named: dict[str, list[tuple[str, str]]], scenario: str
) -> None:
    if not (harness.ANSIBLE / "molecule" / scenario).is_dir():
        raise AssertionError(f"scenario {scenario} is gone: update SHARED_TARGET")
    assert named[scenario] == [("kit-test-instance", "docker")]


def test_molecule_finds_it_at_the_repository_root(
    tmp_path: Path, named: dict[str, list[tuple[str, str]]]
) -> None:
    if not (ROOT / ".git").exists():
        raise AssertionError("run from a git checkout: molecule looks for the file at its root")
    assert listing(tmp_path) == named
