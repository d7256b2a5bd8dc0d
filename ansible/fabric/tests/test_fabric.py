"""The fabric tasks (ansible/fabric/fabfile.py) against a real SSH host: a local systemd
container with sshd (kit images: the systemd-python target + openssh-server), reached on a
loopback port with a key made for the test. Every task is run the way a user runs it —
`fab -r ansible/fabric -H root@127.0.0.1:PORT -i KEY …` — on the deb layer's real .deb
files (this version, the next, and the next repacked to exit at import).

`./kit test fleet` runs it after the fleet scenario, with KIT_VARS (the deb layer's
kit-vars.json) and KIT_FABRIC_IMAGE set; by hand, after `./kit test fleet` has built both:

    KIT_VARS=dist/deb/trixie/kit-vars.json KIT_FABRIC_IMAGE=kit/debian:trixie-systemd-python-openssh-server \\
      .kit/venv/bin/python -m pytest -s -m fabric ansible/fabric/tests
"""  # noqa: E501

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
FAB = Path(sys.executable).parent / "fab"
BREAK_DEB = ROOT / "ansible" / "molecule" / "fleet" / "break-deb.sh"

pytestmark = pytest.mark.fabric


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"{name} is not set — fix: run it through ./kit test fleet (see the docstring)")
    return value


@pytest.fixture(scope="module")
def facts() -> dict[str, Any]:
    known: dict[str, Any] = json.loads(Path(_env("KIT_VARS")).read_text())
    return known


def _deb(directory: str) -> Path:
    found = sorted(Path(directory).glob("*.deb"))
    if len(found) != 1:
        pytest.fail(f"{len(found)} .deb in {directory} — fix: ./kit build deb (both versions)")
    return found[0]


@pytest.fixture(scope="module")
def debs(facts: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    svc = facts["kit_service"]
    broken = tmp_path_factory.mktemp("broken") / f"{svc['name']}_broken.deb"
    subprocess.run(
        ["bash", str(BREAK_DEB), str(_deb(facts["kit_next_artifact_dir"])), str(broken),
         f"{svc['next_version']}~broken1", svc["python_package"]],
        check=True,
    )  # fmt: skip
    return {
        "v1": _deb(facts["kit_artifact_dir"]),
        "v2": _deb(facts["kit_next_artifact_dir"]),
        "broken": broken,
    }


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """root@127.0.0.1:PORT of a fresh systemd + sshd container, and the key it trusts."""
    keydir = tmp_path_factory.mktemp("ssh")
    key = keydir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    name = f"kit-fabric-{os.getpid()}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--cap-add", "SYS_ADMIN",
         "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
         "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
         "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns", "host",
         "-p", "127.0.0.1::22", _env("KIT_FABRIC_IMAGE"), "/sbin/init"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        pub = (keydir / "id_ed25519.pub").read_text()
        subprocess.run(
            ["docker", "exec", "-i", name, "sh", "-c",
             "install -d -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys"],
            input=pub, text=True, check=True,
        )  # fmt: skip
        port = (
            subprocess.run(
                ["docker", "port", name, "22/tcp"], capture_output=True, text=True, check=True
            )
            .stdout.split(":")[-1]
            .strip()
        )
        _wait_for_sshd(int(port))
        yield f"root@127.0.0.1:{port}", key
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _wait_for_sshd(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                if conn.recv(16).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"sshd did not answer on 127.0.0.1:{port} within {seconds:.0f} s")


def fab(host: tuple[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(FAB), "-r", str(ROOT / "ansible" / "fabric"), "-H", host[0], "-i", str(host[1])]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, cwd=ROOT)
    shown = (done.stdout + done.stderr).splitlines()
    more = f"\n  (… {len(shown) - 6} more lines)" if len(shown) > 6 else ""
    print(f"$ fab … {' '.join(args)}\n" + "\n".join(shown[:6]) + more)
    return done


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """A failure: exit 2 and exactly one line, which names the fix."""
    assert done.returncode == 2, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and " — fix: " in lines[0], lines
    return lines[0]


def test_deploy_status_rollback_logs(
    host: tuple[str, Path], debs: dict[str, Path], facts: dict[str, Any]
) -> None:
    svc, v1, v2 = facts["kit_service"], facts["kit_version"], facts["kit_service"]["next_version"]
    done = fab(host, "deploy", "--artifact", str(debs["v1"]))
    assert done.returncode == 0 and f"{svc['name']} {v1} serves" in done.stdout, done.stderr
    done = fab(host, "status")
    assert f"installed {v1}, unit active, health 200, serves {v1}" in done.stdout, done.stderr
    assert "kept current=current.deb" in done.stdout

    done = fab(host, "deploy", "--artifact", str(debs["v2"]))
    assert done.returncode == 0 and f"{v2} serves" in done.stdout, done.stderr
    assert "kept current=current.deb previous=previous.deb" in fab(host, "status").stdout

    # A release that installs and never serves: the gate catches it, the kept one is back.
    line = one_line(fab(host, "deploy", "--gate-seconds", "8", "--artifact", str(debs["broken"])))
    assert f"{v2}~broken1 failed" in line and f"rolled back to {v2}, which serves" in line
    assert f"installed {v2}, unit active, health 200, serves {v2}" in fab(host, "status").stdout

    done = fab(host, "rollback")
    assert done.returncode == 0 and f"rolled back to {v1}, which serves" in done.stdout
    assert f"installed {v1}, unit active, health 200, serves {v1}" in fab(host, "status").stdout

    done = fab(host, "logs", "--lines", "20")
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    assert "broken on purpose" in fab(host, "logs", "--lines", "400").stdout


def test_bad_input_is_one_line(host: tuple[str, Path], tmp_path: Path) -> None:
    line = one_line(fab(host, "deploy", "--artifact", str(tmp_path / "none_1.0_amd64.deb")))
    assert "no such artifact — fix: ./kit build deb" in line
    tarball = tmp_path / "x.wheelhouse.tar.gz"
    tarball.write_bytes(b"x")
    assert "fabric deploys packages" in one_line(fab(host, "deploy", "--artifact", str(tarball)))


def test_unreachable_and_refused_are_one_line(host: tuple[str, Path], tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    line = one_line(fab((f"root@127.0.0.1:{free}", host[1]), "status"))
    assert "cannot reach the host over SSH" in line
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    line = one_line(fab((host[0], other), "status"))  # a key the host does not trust
    assert "SSH refused the login" in line
