"""The linters' file lists: never a walk into build output (dist/ may hold a build tree
with /proc bind-mounted while a Pi image builds — CI once died there)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kitcli import checks


def _tree(root: Path) -> None:
    for rel in ("a.sh", "lib/b.sh", "x/Dockerfile", "dist/hw/.tree/proc/1/c.sh", ".kit/d.sh"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("#!/bin/sh\n")


@pytest.mark.parametrize("use_git", [True, False])
def test_files_skip_build_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_git: bool
) -> None:
    _tree(tmp_path)
    if use_git:
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        (tmp_path / ".gitignore").write_text("dist/\n.kit/\n")
    monkeypatch.setattr(checks, "ROOT", tmp_path)
    assert checks._files("**/*.sh") == ["a.sh", "lib/b.sh"]
    assert checks._files("**/Dockerfile") == ["x/Dockerfile"]
    assert checks._files("*") == (["a.sh"] if not use_git else [".gitignore", "a.sh"])


def test_glob_re() -> None:
    r = checks._glob_re("**/*.sh")
    assert r.match("a.sh") and r.match("x/y/a.sh") and not r.match("a.shx")
    one = checks._glob_re("*/*")
    assert one.match("x/a") and not one.match("x/y/a")
