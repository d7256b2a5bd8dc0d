"""Proof that `kit adopt` puts the kit into any service (issue 8, item 5).

tally-api/ is a second service written from scratch: other name (tally-api), import name
(tally), port (9191), uid/gid (991), start command (tally-serve, no config file), a compiled
dependency (msgpack) under gunicorn, and no /version. The test copies it into a fresh git
repository, adopts the kit into it non-interactively, checks the derived kit.toml, adopts
again (kit.toml and the service's code stay untouched), then runs the contract there for
the layers in KIT_ADOPT_LAYERS — `kit test` (the default tier) passes deb (a package with
its unit, user and upgrade); `kit test --matrix` all four adopted layers, wheel, deb,
docker, rpm:

    KIT_ADOPT_LAYERS=wheel,deb,docker,rpm .kit/venv/bin/python -m pytest -s tests/adopt
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.adopt

KIT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "tally-api"
LAYERS = ["wheel", "deb", "docker", "rpm"]  # adopted (copied, checked) every time
# The layers whose contract runs in the adopted service (default: the default tier's two).
TESTED = [x for x in os.environ.get("KIT_ADOPT_LAYERS", "deb").split(",") if x]
ADOPT_FLAGS = [
    "--yes",
    "--command",
    "tally-serve --bind 0.0.0.0:9191",
    "--port",
    "9191",
    "--uid",
    "991",
    "--health",
    "/health",
    "--items",
    "/items",
]
JUNK = shutil.ignore_patterns(
    "__pycache__", "*.egg-info", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"
)


# What reaches the adopted kit of the calling one's KIT_* variables: the interpreter and
# the tier's knobs (the bounded tier's crash-drill trials and self-test, kitcli/checks.py).
PASSED = ("KIT_PYTHON", "KIT_DRILL_TRIALS", "KIT_SELFTEST", "KIT_TIER")


def clean_env() -> dict[str, str]:
    """The environment without the calling kit's own settings (KIT_CONFIG, PYTHONPATH, …)."""
    return {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and not (k.startswith("KIT_") and k not in PASSED)
    }


def sh(
    argv: list[str],
    cwd: Path,
    timings: dict[str, float],
    label: str,
    env: dict[str, str] | None = None,
) -> str | None:
    """Run a command with its output on the terminal; the failure line, or None."""
    print(f"$ (cd {cwd} && {' '.join(argv)})", flush=True)
    start = time.monotonic()
    full_env = clean_env() | (env or {})
    proc = subprocess.run(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, check=False)
    timings[label] = time.monotonic() - start
    return None if proc.returncode == 0 else f"{label}: `{' '.join(argv)}` exited {proc.returncode}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def service_files(repo: Path) -> dict[str, str]:
    """The service's own committed files and their hashes."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    return {rel: digest(repo / rel) for rel in listed}


def share_kit_venv(repo: Path) -> None:
    """The adopted copy's ./kit would install its own venv (minutes): reuse the kit's when
    both lock the same tools (./kit compares the lock's hash with .kit/venv/.lock-hash)."""
    venv = KIT / ".kit" / "venv"
    lock = "kitcli/requirements.lock"
    if (venv / ".lock-hash").is_file() and digest(KIT / lock) == digest(repo / lock):
        (repo / ".kit").mkdir(exist_ok=True)
        (repo / ".kit" / "venv").symlink_to(venv)


def test_adopt_into_a_second_service(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()
    repo = tmp_path_factory.mktemp("adopt") / "tally-api"
    shutil.copytree(FIXTURE, repo, ignore=JUNK)
    git = ["git", "-c", "user.name=Tally Team", "-c", "user.email=tally@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "tally-api 1.0.0"], check=True)
    before = service_files(repo)

    # 1. adopt, as CI would: no terminal, flags for what pyproject.toml cannot say.
    adopt_argv = [str(KIT / "kit"), "adopt", str(repo), "--layers", ",".join(LAYERS)]
    failed = sh([*adopt_argv, *ADOPT_FLAGS], KIT, timings, "adopt")
    assert not failed, failed
    conf = tomllib.loads((repo / "kit.toml").read_text())
    svc = conf["service"]
    assert svc["name"] == "tally-api" and svc["python_package"] == "tally"
    assert svc["command"] == ["tally-serve", "--bind", "0.0.0.0:9191"]
    assert (svc["port"], svc["uid"], svc["gid"], svc["user"]) == (9191, 991, 991, "tally-api")
    assert svc["source"] == "." and svc["config_template"] == ""
    assert svc["maintainer"] == "Tally Team <tally@example.com>" and svc["license"] == "MIT"
    assert svc["homepage"] == "https://example.com/tally-api"
    assert svc["description"] == "Tally: a tiny JSON item store behind gunicorn"
    assert svc["http"] == {
        "health": "/health",
        "ready": "",
        "version": "",
        "metrics": "",
        "items": "/items",
        "openapi": "",
    }
    assert "version" not in svc, "the version is read from pyproject.toml, never typed twice"
    kit_toml = digest(repo / "kit.toml")
    lock = (repo / "requirements.lock").read_text()
    assert "msgpack==" in lock and "gunicorn==" in lock and "--hash=sha256:" in lock
    locks = {name: digest(repo / name) for name in ("requirements.lock", "requirements-dev.lock")}
    assert "pytest==" in (repo / "requirements-dev.lock").read_text(), "the test extra, locked"
    assert (repo / "kit").is_file() and os.access(repo / "kit", os.X_OK)
    assert (repo / ".ci" / "run").is_file() and (repo / ".kit-adopt.json").is_file()
    for layer in LAYERS:
        assert (repo / layer / "layer.toml").is_file()
        assert (repo / "ansible" / "molecule" / layer / "molecule.yml").is_file()
    assert not list(repo.rglob("__pycache__"))
    changed = {rel for rel, h in before.items() if digest(repo / rel) != h}
    assert changed <= {".gitignore"}, f"adopt changed the service's files: {changed}"

    # 2. adopt again: kit files refreshed, the service's kit.toml, lock and code untouched,
    #    a local edit of a kit file kept.
    ruff = repo / "ruff.toml"
    ruff.write_text(ruff.read_text() + "# a local edit\n")
    failed = sh([str(KIT / "kit"), "adopt", str(repo), "--yes"], KIT, timings, "adopt again")
    assert not failed, failed
    assert digest(repo / "kit.toml") == kit_toml
    assert {name: digest(repo / name) for name in locks} == locks
    assert ruff.read_text().endswith("# a local edit\n")
    assert not list(repo.rglob("*.kit-new"))
    changed = {rel for rel, h in before.items() if digest(repo / rel) != h}
    assert changed <= {".gitignore"}, f"the second adopt changed the service's files: {changed}"

    # 3. the contract against every layer, in the adopted repository, nothing edited there.
    #    Every layer runs even when one fails, so one CI run shows them all.
    #    Molecule keys its state by the project dir's *name* (ansible/, as in the kit's own
    #    checkout): give this copy its own, so a run in the kit at the same time cannot mix.
    share_kit_venv(repo)
    failures: list[str | None] = []
    try:
        for layer in TESTED:
            state = {"MOLECULE_EPHEMERAL_DIRECTORY": str(repo / ".kit" / "molecule" / layer)}
            argv = ["./kit", "test", layer, "--distro", "trixie", "--skip-checks"]
            failures.append(sh(argv, repo, timings, layer, state))
    finally:
        with capsys.disabled():
            print(f"\nadopt test: {time.monotonic() - started:.0f} s in all ({repo})")
            for label, seconds in timings.items():
                print(f"  {label:12} {seconds:6.1f} s")
    assert not any(failures), "; ".join(f for f in failures if f)
    assert set(TESTED) <= set(LAYERS), f"KIT_ADOPT_LAYERS names a layer not adopted: {TESTED}"
