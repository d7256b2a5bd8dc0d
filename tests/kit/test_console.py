"""Every message and every printed command is shown verbatim: brackets are text, not
console markup (`[targets]` must not vanish)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kitcli.settings import KIT_TOML, ROOT
from kitcli.steps import console, run


def _kit(tmp_path: Path, toml: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "kit.toml").write_text(toml)
    env = {"PYTHONPATH": str(ROOT), "KIT_CONFIG": str(tmp_path / "kit.toml"), "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "kitcli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_missing_section_is_named_verbatim(tmp_path: Path) -> None:
    text = KIT_TOML.read_text()
    broken = text[: text.index("[targets]")] + text[text.index("[kit]") :]
    # the copy lives in tmp_path: point its relative paths back at the kit's service
    broken = broken.replace('= "sample_service', f'= "{ROOT}/sample_service')
    proc = _kit(tmp_path, broken, "render", "wheel")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the [targets] section is missing" in proc.stdout, proc.stdout
    assert "add a [targets] table" in proc.stdout, proc.stdout


def test_printed_commands_keep_brackets() -> None:
    with console.capture() as cap:
        run(["echo", "[bold]not markup[/]", "[targets]"], capture=True)
    assert "$ echo '[bold]not markup[/]' '[targets]'" in cap.get()
