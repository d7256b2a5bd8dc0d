"""kit.toml is the only place a service's identity lives: no edit-me marks outside it, and
no layer file spells the sample's name, import name, port or ids (they are rendered)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kitcli.settings import ROOT, load

# Where a service's identity must never be typed: every layer, the roles, the shared
# templates and build library. READMEs may quote the sample in example commands.
LAYER_DIRS = ("ansible", "lib", "templates", *(p.parent.name for p in ROOT.glob("*/layer.toml")))


def _tree() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def test_no_change_me_outside_kit_toml() -> None:
    marks = "CHANGE" + " ME"  # spelled apart so this file does not match itself
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _tree()
        if p.name != "kit.toml"
        for n, line in enumerate((_text(p) or "").splitlines(), 1)
        if marks in line
    ]
    assert not found, f"`{marks}` marks outside kit.toml (render the value instead): {found}"


def _literals() -> dict[str, re.Pattern[str]]:
    s = load()
    words = {s.name, s.python_package, s.user}
    numbers = {str(s.port), str(s.uid), str(s.gid)}
    pats = {w: re.compile(rf"(?<![\w-]){re.escape(w)}(?![\w-])") for w in words}
    pats |= {n: re.compile(rf"(?<![\w.]){n}(?![\w.])") for n in numbers}
    return pats


@pytest.mark.parametrize("top", LAYER_DIRS)
def test_no_service_literal_in_layer_files(top: str) -> None:
    pats = _literals()
    found = []
    for path in _tree():
        rel = path.relative_to(ROOT)
        if rel.parts[0] != top or path.name == "README.md":
            continue
        for n, line in enumerate((_text(path) or "").splitlines(), 1):
            hits = [lit for lit, pat in pats.items() if pat.search(line)]
            if hits:
                found.append(f"{rel}:{n}: {hits} in {line.strip()[:90]!r}")
    assert not found, "service identity typed into a layer file (render it from kit.toml):\n" + (
        "\n".join(found[:40])
    )
