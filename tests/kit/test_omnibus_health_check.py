"""omnibus/health-check.sh, Omnibus's health check: every ELF under install_dir loads its
libraries from inside it or from the allow-list. Proven on real ELF files of this host: a
tree holding only allow-listed dependencies passes; the same tree with a binary that loads
the host's libcrypto and libz fails, naming the file and each library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "omnibus" / "health-check.sh"
ALLOW = ROOT / "omnibus" / "health-allowlist.txt"


def _run(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CHECK), str(tree), str(ALLOW)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _needs(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """/opt/<name> in miniature: an executable that needs only libc (allow-listed) and a
    file that is not ELF (skipped)."""
    root = tmp_path / "opt" / "svc"
    (root / "embedded" / "bin").mkdir(parents=True)
    shutil.copy2("/bin/true", root / "embedded" / "bin" / "true")
    (root / "version-manifest.json").write_text("{}\n")
    return root


def test_allow_listed_tree_passes(tree: Path) -> None:
    proc = _run(tree)
    assert proc.returncode == 0, proc.stderr
    assert "1 ELF files under" in proc.stdout


def test_host_library_sneaking_in_fails(tree: Path) -> None:
    ssh = shutil.which("ssh")
    if ssh is None or "libcrypto.so.3" not in _needs(ssh):
        pytest.skip(
            "no ssh linked against libcrypto.so.3 on this host (apt-get install openssh-client)"
        )
    shutil.copy2(ssh, tree / "embedded" / "bin" / "ssh")
    proc = _run(tree)
    assert proc.returncode == 1
    assert "embedded/bin/ssh loads libcrypto.so.3 from /" in proc.stderr, proc.stderr
    assert "outside" in proc.stderr and "not allow-listed — fix: embed it" in proc.stderr
    assert "health check: FAILED" in proc.stderr
    assert "embedded/bin/true" not in proc.stderr  # the clean file is not blamed


def test_library_not_found_fails(tree: Path, tmp_path: Path) -> None:
    """A library that resolves nowhere (its file gone) is a finding too."""
    ssh = shutil.which("ssh")
    if ssh is None:
        pytest.skip("no ssh on this host")
    fake = tree / "embedded" / "bin" / "needs-missing"
    shutil.copy2(ssh, fake)
    # Rename a needed soname inside the copy to one no host has (same length: the ELF stays valid).
    data = fake.read_bytes()
    assert b"libz.so.1" in data
    fake.write_bytes(data.replace(b"libz.so.1", b"libq.so.9", 1))
    proc = _run(tree)
    assert proc.returncode == 1
    assert "embedded/bin/needs-missing needs libq.so.9: not found" in proc.stderr, proc.stderr


def test_not_a_directory_is_named(tmp_path: Path) -> None:
    proc = _run(tmp_path / "absent")
    assert proc.returncode == 2
    assert "is not a directory — fix: build first" in proc.stderr
