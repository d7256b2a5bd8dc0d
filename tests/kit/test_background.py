"""kitcli/background.py with real processes (no kit build): the log is shown, a failure
names the foreground command, stop() ends a running build."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kitcli import background
from kitcli.errors import KitError


def _build(tmp_path: Path, script: str, tests: tuple[str, ...] = ()) -> background.Build:
    log = tmp_path / "bg.log"
    proc = background.spawn(["sh", "-c", script], log)
    return background.Build("hardware", "trixie", log, proc, tests)


def test_follow_prints_a_spawned_commands_output_as_it_comes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "prepare.log"
    proc = background.spawn(["sh", "-c", "echo one; sleep 1.5; echo two; exit 4"], log)
    background.follow(proc, log, "  | ")
    assert capsys.readouterr().out.splitlines()[-2:] == ["  | one", "  | two"]
    assert proc.returncode == 4


def test_a_finished_build_shows_its_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _build(tmp_path, "echo step one; sleep 1; echo step two").wait()
    out = capsys.readouterr().out
    assert "bg| step one" in out and "bg| step two" in out and "beside the other stages" in out


def test_a_failed_build_names_the_foreground_command(tmp_path: Path) -> None:
    with pytest.raises(KitError, match="background build of hardware failed") as exc:
        _build(tmp_path, "echo broken >&2; exit 3").wait()
    assert "exit 3" in str(exc.value)
    assert "./kit build hardware --distro trixie" in exc.value.fix


def test_a_failed_build_and_test_names_the_foreground_test(tmp_path: Path) -> None:
    with pytest.raises(KitError, match=r"background build \+ test on trixie of hardware") as exc:
        _build(tmp_path, "exit 1", ("trixie",)).wait()
    assert "./kit test hardware --distro trixie" in exc.value.fix


def test_stop_ends_a_running_build_and_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    build = _build(tmp_path, f"sleep 60 & echo $! > {pidfile}; wait")
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    build.stop()
    assert build.proc.returncode is not None
    time.sleep(0.2)
    gone = not Path(f"/proc/{child}").exists()
    assert gone or Path(f"/proc/{child}/stat").read_text().split()[2] == "Z", "child survived"
