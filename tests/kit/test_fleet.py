"""The fleet (ansible/playbooks/fleet, scenario ansible/molecule/fleet): `kit test fleet`
runs the scenario on the right releases, the scenario is the fleet it claims to be, the
rollout playbook stops before any change unless every host passed, and the broken
release of the drill really is a package that installs and never serves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kitcli import cli, fleet
from kitcli.settings import ROOT

SCENARIO = ROOT / "ansible" / "molecule" / "fleet"
PLAYBOOKS = ROOT / "ansible" / "playbooks" / "fleet"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Stand-ins for the slow parts: record which stage ran on which release."""
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(fleet, "test", lambda settings, distro: seen.append(("fleet", distro)))
    monkeypatch.setattr(
        cli.harness,
        "test",
        lambda settings, layer, distro, prebuilt=False: seen.append((layer.name, distro)),
    )
    monkeypatch.setenv("KIT_TIER", "")  # --matrix sets it; keep the process clean
    return seen


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["test", "fleet"], [("fleet", "trixie")]),
        (["test", "fleet", "--distro", "bookworm"], [("fleet", "bookworm")]),
        (["test", "fleet", "--matrix"], [("fleet", "trixie"), ("fleet", "bookworm")]),
    ],
)
def test_kit_test_fleet_runs_the_scenario_per_release(
    calls: list[tuple[str, str]], args: list[str], expected: list[tuple[str, str]]
) -> None:
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert calls == expected


def test_a_layer_run_does_not_run_the_fleet(calls: list[tuple[str, str]]) -> None:
    result = CliRunner().invoke(cli.app, ["test", "wheel"])
    assert result.exit_code == 0, result.output
    assert ("fleet", "trixie") not in calls


def test_fleet_is_available_here() -> None:
    assert fleet.available()


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_scenario_is_three_hosts_and_a_repository_on_an_internal_network() -> None:
    molecule = _load(SCENARIO / "molecule.yml")
    platforms = molecule["platforms"]
    hosts = [p["name"] for p in platforms if "fleet" in p.get("groups", [])]
    repo = [p for p in platforms if "repo" in p.get("groups", [])]
    assert hosts == ["kit-fleet-1", "kit-fleet-2", "kit-fleet-3"]
    assert len(repo) == 1 and repo[0]["volumes"][0].endswith(":/srv/repo:ro")
    assert repo[0]["docker_networks"] == [{"name": "kit-fleet", "internal": True}]
    for p in platforms:
        assert p["networks"] == [{"name": "kit-fleet"}], p["name"]
        assert "published_ports" not in p, f"{p['name']} must not be reachable from outside"
    sequence = molecule["scenario"]["test_sequence"]
    assert sequence.index("converge") < sequence.index("idempotence") < sequence.index("verify")


def test_rollout_is_preflight_verdict_then_serial_with_no_failures_allowed() -> None:
    plays = _load(PLAYBOOKS / "rollout.yml")
    assert len(plays) == 3
    preflight, verdict, rolling = plays
    assert "serial" not in preflight
    assert [t["ansible.builtin.include_role"]["name"] for t in preflight["tasks"][1:3]] == [
        "repo_client",
        "rollout",
    ]
    assert verdict["hosts"] == "localhost"
    assert "ansible.builtin.assert" in verdict["tasks"][0]
    assert rolling["serial"] == "{{ fleet_serial | default(1) }}"
    assert rolling["max_fail_percentage"] == 0
    assert rolling["roles"] == [{"role": "rollout"}]
    rollback = _load(PLAYBOOKS / "rollback.yml")
    assert rollback[0]["ansible.builtin.import_playbook"] == "rollout.yml"
    assert rollback[0]["vars"] == {"rollout_allow_downgrade": True}


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def _package(tmp_path: Path, version: str = "1.0.1") -> Path:
    root = tmp_path / "pkg"
    init = root / "opt/venvs/svc/lib/python3.13/site-packages/svc/__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text('__version__ = "1.0.1"\n')
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        f"Package: svc\nVersion: {version}\nArchitecture: all\nMaintainer: a <a@b.c>\n"
        "Description: test\n"
    )
    out = tmp_path / "svc_1.0.1_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(root), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def _break(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCENARIO / "break-deb.sh"), *args], capture_output=True, text=True
    )


@needs_dpkg
def test_break_deb_makes_a_package_that_exits_at_import(tmp_path: Path) -> None:
    src = _package(tmp_path)
    out = tmp_path / "out" / "svc_broken.deb"
    done = _break(str(src), str(out), "1.0.1~broken1", "svc")
    assert done.returncode == 0, done.stderr
    show = subprocess.run(
        ["dpkg-deb", "--showformat=${Version}", "--show", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert show.stdout == "1.0.1~broken1"
    unpacked = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(out), str(unpacked)], check=True)
    init = unpacked / "opt/venvs/svc/lib/python3.13/site-packages/svc/__init__.py"
    code = subprocess.run(["python3", str(init)], capture_output=True, text=True)
    assert code.returncode == 1 and "broken on purpose" in code.stderr
    md5 = subprocess.run(
        ["dpkg-deb", "-I", str(out), "md5sums"], capture_output=True, text=True, check=True
    ).stdout
    assert "opt/venvs/svc/lib/python3.13/site-packages/svc/__init__.py" in md5


@needs_dpkg
def test_break_deb_names_the_fix_for_a_wrong_import_name(tmp_path: Path) -> None:
    done = _break(str(_package(tmp_path)), str(tmp_path / "o.deb"), "2~b", "nosuch")
    assert done.returncode == 2
    assert "0 nosuch/__init__.py" in done.stderr and "fix: " in done.stderr
    assert not (tmp_path / "o.deb").exists()


def test_break_deb_names_the_fix_for_a_missing_package(tmp_path: Path) -> None:
    done = _break(str(tmp_path / "none.deb"), str(tmp_path / "o.deb"), "2", "svc")
    assert done.returncode == 2 and "./kit build deb" in done.stderr
