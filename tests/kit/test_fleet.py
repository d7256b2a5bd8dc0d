"""The fleet (ansible/playbooks/fleet, scenario ansible/molecule/fleet): `kit test fleet`
runs the scenario on the right releases, the scenario is the fleet it claims to be, the
rollout playbook stops before any change unless every host passed, and the broken
release of the drill really is a package that installs and never serves."""

from __future__ import annotations

import os
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


def test_an_emulated_vm_stage_runs_after_the_others(calls: list[tuple[str, str]]) -> None:
    """Emulated VMs take turns with the background's Pi VM: packer's stage goes last,
    so the foreground never idles on that turn (CI waited 586 s for it mid-run)."""
    result = CliRunner().invoke(cli.app, ["test", "packer", "deb", "fleet", "wheel"])
    assert result.exit_code == 0, result.output
    assert calls == [
        ("deb", "trixie"),
        ("wheel", "trixie"),
        ("fleet", "trixie"),
        ("packer", "trixie"),
    ]
    assert cli.runs_late(cli.layers.get("packer"))
    assert not cli.runs_late(cli.layers.get("hardware")), (
        "a background layer waits at the end anyway"
    )
    assert not cli.runs_late(cli.layers.get("deb"))


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
    shared = _load(ROOT / ".config" / "molecule" / "config.yml")  # under every scenario
    sequence = (molecule.get("scenario") or shared["scenario"])["test_sequence"]
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


def test_rpm_host_runs_the_rpm_layer_image_or_idles_without_it() -> None:
    assert fleet.rpm_host_env("kit/deb", "kit/rpm") == {
        "KIT_RPM_IMAGE": "kit/rpm",
        "KIT_FLEET_RPM_GROUP": "fleet_rpm",
    }
    assert fleet.rpm_host_env("kit/deb", None) == {
        "KIT_RPM_IMAGE": "kit/deb",
        "KIT_FLEET_RPM_GROUP": "idle",
    }


def test_scenario_has_an_rpm_host_in_the_group_the_plays_name() -> None:
    platforms = _load(SCENARIO / "molecule.yml")["platforms"]
    (rpm,) = [p for p in platforms if p["name"] == "kit-fleet-rpm"]
    assert rpm["groups"] == [f"${{KIT_FLEET_RPM_GROUP:-{fleet.RPM_GROUP}}}"]
    assert rpm["image"].startswith("${KIT_RPM_IMAGE:-")
    (play,) = _load(PLAYBOOKS / "rpm.yml")
    assert play["hosts"] == "{{ fleet_rpm_hosts | default('fleet_rpm') }}"
    assert play["gather_facts"] is False  # fact gathering creates /var/lib/rpm
    assert play["max_fail_percentage"] == 0


# acme-rpm-fetch (rpm/acme-rpm-fetch) against a signed repository made here the way
# repo_publish makes it: createrepo_c, repomd.xml signed (detached, armored) by a
# throwaway key. Each tampering must be refused with its one line, nothing installed.
FETCH = ROOT / "rpm" / "acme-rpm-fetch"
needs_repo_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("rpmbuild", "createrepo_c", "gpg", "gpgv", "curl")),
    reason="needs rpmbuild, createrepo_c, gpg, gpgv, curl (./kit doctor --fix)",
)


@pytest.fixture
def signed_repo(tmp_path: Path) -> dict[str, Path]:
    """A repository of one empty noarch package svc in versions 1.0 and 1.1, signed."""
    (tmp_path / "svc.spec").write_text(
        "Name: svc\nVersion: %{ver}\nRelease: 1\nSummary: t\nLicense: MIT\n"
        "BuildArch: noarch\n%description\nt\n%files\n"
    )
    repo = tmp_path / "repo"
    (repo / "Packages").mkdir(parents=True)
    for ver in ("1.0", "1.1"):
        subprocess.run(
            ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {tmp_path / 'top'}",
             "--define", f"ver {ver}", "--define", f"_rpmdir {repo / 'Packages'}",
             "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
             str(tmp_path / "svc.spec")],
            check=True, capture_output=True,
        )  # fmt: skip
    subprocess.run(
        ["createrepo_c", "--quiet", "--no-database", "--general-compress-type=gz", str(repo)],
        check=True,
    )
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(gnupg), "PATH": "/usr/bin:/bin"}
    gpg = ["gpg", "--batch", "--passphrase", ""]
    for uid in ("test <t@example.invalid>", "other <o@example.invalid>"):
        subprocess.run([*gpg, "--quick-gen-key", uid, "ed25519", "sign", "never"], env=env,
                       check=True, capture_output=True)  # fmt: skip
    repomd = repo / "repodata" / "repomd.xml"
    subprocess.run([*gpg, "--local-user", "test", "--armor", "--detach-sign", "-o",
                    f"{repomd}.asc", str(repomd)], env=env, check=True)  # fmt: skip
    keys = {}
    for uid in ("test", "other"):
        keys[uid] = tmp_path / f"{uid}.gpg"
        subprocess.run([*gpg, "--export", "-o", str(keys[uid]), f"<{uid[0]}@example.invalid>"],
                       env=env, check=True)  # fmt: skip
    root = tmp_path / "acme"
    (root / "bin").mkdir(parents=True)
    for tool in ("acme-rpm", "acme-rpm-fetch"):
        shutil.copy(ROOT / "rpm" / tool, root / "bin" / tool)
    gpgconf = ["gpgconf", "--homedir", str(gnupg), "--kill", "all"]
    subprocess.run(gpgconf, check=False, capture_output=True)
    return {"repo": repo, "root": root, "key": keys["test"], "other": keys["other"]}


def _fetch(
    where: dict[str, Path], *args: str, key: str = "key", fetcher: str = "curl"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(where["root"] / "bin" / "acme-rpm-fetch"), "--url", f"file://{where['repo']}",
         "--key", str(where[key]), *args],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "ACME_RPM_FETCHER": fetcher},
    )  # fmt: skip


def _installed(where: dict[str, Path]) -> str:
    return subprocess.run(
        [str(where["root"] / "bin" / "acme-rpm"), "-qa"], capture_output=True, text=True
    ).stdout.strip()


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@needs_repo_tools
@pytest.mark.parametrize("fetcher", ["curl", "python3"])
def test_fetch_verifies_and_finds_the_version(signed_repo: dict[str, Path], fetcher: str) -> None:
    done = _fetch(signed_repo, "--check", "svc", "1.1", fetcher=fetcher)
    assert done.returncode == 0, done.stderr
    assert "offers svc-1.1-1.noarch" in done.stdout
    missing = _fetch(signed_repo, "--check", "svc", "9.9", fetcher=fetcher)
    assert missing.returncode == 2
    assert "svc 9.9 is not in the repository" in missing.stderr
    assert "(offered: 1.0-1.noarch, 1.1-1.noarch)" in missing.stderr


@needs_repo_tools
def test_fetch_refuses_a_tampered_repomd(signed_repo: dict[str, Path]) -> None:
    repomd = signed_repo["repo"] / "repodata" / "repomd.xml"
    repomd.write_text(repomd.read_text().replace("<revision>", "<revision>1"))
    done = _fetch(signed_repo, "svc", "1.1")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        f"acme-rpm-fetch: repomd.xml from file://{signed_repo['repo']}/ does not verify"
    )
    assert "BAD signature" in line and line.endswith("; nothing was installed")


@needs_repo_tools
def test_fetch_trusts_only_the_given_key(signed_repo: dict[str, Path]) -> None:
    done = _fetch(signed_repo, "--check", key="other")
    assert done.returncode == 2
    assert f"does not verify against {signed_repo['other']}" in done.stderr


@needs_repo_tools
def test_fetch_refuses_a_tampered_primary(signed_repo: dict[str, Path]) -> None:
    (primary,) = (signed_repo["repo"] / "repodata").glob("*-primary.xml.gz")
    _flip(primary)
    done = _fetch(signed_repo, "--check")
    assert done.returncode == 2
    assert "primary.xml.gz from file://" in done.stderr
    assert "but the signed repomd.xml says" in done.stderr


@needs_repo_tools
@pytest.mark.skipif(os.geteuid() != 0, reason="acme-rpm creates the company rpmdb as root")
def test_fetch_refuses_a_tampered_package_then_installs_the_good_one(
    signed_repo: dict[str, Path],
) -> None:
    package = signed_repo["repo"] / "Packages" / "svc-1.1-1.noarch.rpm"
    good = package.read_bytes()
    _flip(package)
    done = _fetch(signed_repo, "svc", "1.1")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "acme-rpm-fetch: svc-1.1-1.noarch.rpm from file://" in line
    assert "but the signed metadata says" in line and line.endswith("; nothing was installed")
    assert _installed(signed_repo) == ""
    package.write_bytes(good)
    done = _fetch(signed_repo, "svc", "1.1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("installed svc-1.1-1.noarch from file://")
    assert _installed(signed_repo) == "svc-1.1-1.noarch"
    again = _fetch(signed_repo, "svc", "1.1")
    assert again.stdout.startswith("unchanged: svc-1.1-1 is installed")
    older = _fetch(signed_repo, "svc", "1.0")
    assert older.returncode == 2 and _installed(signed_repo) == "svc-1.1-1.noarch"
    assert _fetch(signed_repo, "--oldpackage", "svc", "1.0").returncode == 0
    assert _installed(signed_repo) == "svc-1.0-1.noarch"
