"""The contract plugin's skip rule (tests/contract/plugin.py), run on throw-away suites:
a skip is allowed only as "not applicable", or as an upgrade check the bounded tier
leaves to --matrix (KIT_UPGRADE=skip:<layer>) — never anything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kitcli.settings import ROOT

SUITE = """
import pytest

@pytest.mark.upgrade
def test_upgrade():
    pass

def test_other():
    pass
"""


def _pytest(tmp_path: Path, suite: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(suite)
    environ = {k: v for k, v in os.environ.items() if k != "KIT_UPGRADE"} | env
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.contract.plugin", "-p", "no:cacheprovider",
         "-rs", "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, env=environ, check=False, cwd=tmp_path,
    )  # fmt: skip


def test_upgrade_checks_run_unless_the_tier_leaves_them(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, SUITE)
    assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout


def test_the_tier_skips_only_the_upgrade_checks_and_says_who_proves_them(
    tmp_path: Path,
) -> None:
    proc = _pytest(tmp_path, SUITE, KIT_UPGRADE="skip:deb")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 1 skipped" in proc.stdout
    assert "left to ./kit test --matrix: this target upgrades with the deb layer's" in proc.stdout


def test_a_tier_reason_on_another_check_fails_the_run(tmp_path: Path) -> None:
    sneaky = (
        SUITE
        + """
def test_sneaky():
    pytest.skip("left to ./kit test --matrix: too slow today")
"""
    )
    proc = _pytest(tmp_path, sneaky, KIT_UPGRADE="skip:deb")
    assert proc.returncode == 1, proc.stdout
    assert "FAIL: 1 skip reason(s)" in proc.stdout


def test_a_tier_reason_without_the_tier_fails_the_run(tmp_path: Path) -> None:
    early = """
import pytest

@pytest.mark.upgrade
def test_upgrade():
    pytest.skip("left to ./kit test --matrix: says who")
"""
    proc = _pytest(tmp_path, early)
    assert proc.returncode == 1, proc.stdout
