"""The service_pex role's first step on a target: the interpreter that will run the .pex
must be a CPython the file carries (its manifest's "pythons"), else one line naming the
Python found and the ones supported, before anything is installed. The role runs this
very file (ansible/roles/service_pex/files/pex-python-check.py) with the target's python3;
here it runs with this host's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = Path(__file__).resolve().parents[2] / "ansible/roles/service_pex/files/pex-python-check.py"
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def run(*supported: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), *supported], capture_output=True, text=True, check=False
    )


def test_a_carried_python_passes() -> None:
    done = run("3.13", HERE)
    assert done.returncode == 0, done.stderr
    assert f"CPython {HERE}" in done.stdout


def test_another_python_is_refused_in_one_line_naming_both() -> None:
    done = run("3.9", "3.10") if HERE not in ("3.9", "3.10") else run("3.8")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"cpython {HERE}" in lines[0] and "CPython 3." in lines[0] and "fix:" in lines[0]
    assert sys.executable in lines[0]
