"""hardware/build.sh checks hardware/image.conf before any emulated minute is spent: a bad
setting stops it with one line naming the key and the fix (run on a copy of the layer)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """A copy of hardware/ + lib/ and a rendered-looking build dir for arm64."""
    shutil.copytree(
        ROOT / "hardware", tmp_path / "hardware", ignore=shutil.ignore_patterns("firstboot")
    )
    shutil.copytree(ROOT / "lib", tmp_path / "lib")
    build = tmp_path / "build"
    build.mkdir()
    (build / "kit.env").write_text(
        "KIT_ROOT=/nonexistent\nKIT_NAME=svc\nKIT_VERSION=1.0.0\nKIT_DISTRO=trixie\n"
        "KIT_ARCH=arm64\nKIT_MACHINE=aarch64\n"
    )
    return tmp_path


def _build(layer: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "bash",
            str(layer / "hardware/build.sh"),
            "--build-dir",
            str(layer / "build"),
            "--out",
            str(layer / "out"),
            "--deb",
            str(layer / "deb"),
            "--cache-dir",
            str(layer / "cache"),
            "--mirror",
            "http://deb.invalid/debian",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("PI_XZ_LEVEL", "11", "PI_XZ_LEVEL=11 in hardware/image.conf is not an xz level 0..9"),
        ("PI_XZ_LEVEL", "-6", "PI_XZ_LEVEL=-6 in hardware/image.conf is not an xz level 0..9"),
        ("PI_BOOT_MIB", "32", "PI_BOOT_MIB=32 in hardware/image.conf is not a size ≥ 64"),
        ("PI_BOOT_MIB", "big", "PI_BOOT_MIB=big in hardware/image.conf is not a size ≥ 64"),
        ("PI_ROOT_FREE_MIB", "1G", "PI_ROOT_FREE_MIB=1G in hardware/image.conf is not a whole"),
        ("PI_PACKAGES", "()", "PI_PACKAGES in hardware/image.conf is empty"),
    ],
)
def test_bad_setting_stops_before_any_work(
    layer: Path, setting: str, value: str, message: str
) -> None:
    conf = layer / "hardware/image.conf"
    conf.write_text(conf.read_text() + f"\n{setting}={value}\n")
    proc = _build(layer)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert " — fix: " in proc.stderr, proc.stderr
    assert not (layer / "out" / "svc-1.0.0-trixie-arm64.build-times.tsv").exists()  # no step ran


def test_syntax_error_in_settings_is_named(layer: Path) -> None:
    conf = layer / "hardware/image.conf"
    conf.write_text(conf.read_text() + "\nPI_PACKAGES=(unclosed\n")
    proc = _build(layer)
    assert proc.returncode != 0
    assert "hardware/image.conf does not parse" in proc.stderr, proc.stderr


def test_shipped_settings_pass_the_check(layer: Path) -> None:
    """The shipped image.conf gets past the settings check (to the next, host-dependent one)."""
    proc = _build(layer)
    assert "in hardware/image.conf" not in proc.stderr, proc.stderr


def test_card_checks_refuse_a_card_a_that_is_not_up(tmp_path: Path) -> None:
    """The scenario lends its VM as card A (--card-a); a name with no VM up stops the
    checks before booting anything, naming how to boot it."""
    (tmp_path / "x.img").write_bytes(b"")
    proc = subprocess.run(
        ["bash", str(ROOT / "hardware/tests/boot-checks.sh"), "--image-dir", str(tmp_path),
         "--service", "svc", "--port", "8080", "--card-a", "kit-no-such-card"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "--card-a kit-no-such-card: no VM of that name is up" in proc.stderr
    assert "fix: boot it: ./kit vm up kit-no-such-card" in proc.stderr
