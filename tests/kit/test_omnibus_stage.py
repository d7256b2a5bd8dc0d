"""omnibus/here_build.py --stage: install_dir copied minus the project's `exclude` globs,
as Omnibus's FileSyncer applies them (a matched directory takes everything below it),
symlinks kept as symlinks; and the plan's exclude list is the project's own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE_BUILD = ROOT / "omnibus" / "here_build.py"


def _touch(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.skipif(
    shutil.which("ruby") is None, reason="ruby is not installed (./kit doctor --fix)"
)
def test_stage_applies_excludes(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    keep = [
        "embedded/bin/python3.13",
        "embedded/lib/libssl.so.3",
        "embedded/lib/python3.13/json/__init__.py",
        "embedded/lib/python3.13/json/__pycache__/__init__.cpython-313.pyc",
        "version-manifest.json",
    ]
    drop = [
        "embedded/include/openssl/ssl.h",
        "embedded/lib/libz.a",
        "embedded/lib/libffi.la",
        "embedded/lib/pkgconfig/zlib.pc",
        "embedded/lib/python3.13/config-3.13-x86_64-linux-gnu/Makefile",
        "embedded/lib/python3.13/json/__pycache__/__init__.cpython-313.opt-1.pyc",
        "embedded/lib/python3.13/json/__pycache__/__init__.cpython-313.opt-2.pyc",
        "embedded/lib/python3.13/idlelib/idle.py",
        "embedded/share/man/man1/python3.1",
        "embedded/bin/pydoc3.13",
    ]
    for rel in keep + drop:
        _touch(opt / rel)
    (opt / "embedded/bin/python3").symlink_to("python3.13")
    plan = {
        "project": {"install_dir": "/opt/svc"},
        "exclude": json.loads(
            subprocess.run(
                ["ruby", str(ROOT / "omnibus/check.rb"), "--plan"],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "KIT_BUILD_DIR": ""},
            ).stdout
        )["exclude"],
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    dest = tmp_path / "stage"
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE_BUILD),
            "--plan",
            str(tmp_path / "plan.json"),
            "--opt",
            str(opt),
            "--stage",
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    staged = dest / "opt" / "svc"
    for rel in keep:
        assert (staged / rel).is_file(), rel
    for rel in drop:
        assert not (staged / rel).exists(), rel
    assert not (staged / "embedded/include").exists()  # the directory itself goes too
    assert (staged / "embedded/bin/python3").is_symlink()
    assert (staged / "embedded/bin/python3").readlink() == Path("python3.13")
    assert f"staged {len(keep)} files, left out {len(drop)}" in proc.stdout


def _keys_in(checkout: Path) -> list[str]:
    """here_build.component_keys for the plan check.rb reads out of CHECKOUT's definitions,
    computed by CHECKOUT's own here_build.py (as a build there would)."""
    import importlib.util

    plan = subprocess.run(
        ["ruby", str(checkout / "check.rb"), "--plan", "--sources", "debian"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KIT_BUILD_DIR": ""},
    ).stdout
    spec = importlib.util.spec_from_file_location(
        f"hb{abs(hash(checkout))}", checkout / "here_build.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keys: list[str] = module.component_keys(json.loads(plan), "builder-id")
    return keys


@pytest.mark.skipif(
    shutil.which("ruby") is None, reason="ruby is not installed (./kit doctor --fix)"
)
def test_cache_keys_do_not_depend_on_the_checkout_path(tmp_path: Path) -> None:
    """The same definitions in another checkout (CI's clone, an adopted service) reuse the
    compiled components: only the service's key (its own build dir) may differ."""
    copy = tmp_path / "elsewhere" / "omnibus"
    shutil.copytree(ROOT / "omnibus", copy, ignore=shutil.ignore_patterns("__pycache__"))
    here, there = _keys_in(ROOT / "omnibus"), _keys_in(copy)
    assert here[:-1] == there[:-1]
    # and a changed step script is a different key, from that component on
    (copy / "steps" / "openssl.sh").write_text((copy / "steps" / "openssl.sh").read_text() + "\n")
    changed = _keys_in(copy)
    assert changed[:5] == here[:5] and changed[5] != here[5]
