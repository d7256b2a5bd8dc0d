"""The fast checks: linters the ecosystem expects, the service's unit tests, the kit's
own tests. Each is the raw command a user could run."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from kitcli.settings import ROOT, Settings
from kitcli.steps import run, step

SERVICE_VENV = ROOT / ".kit" / "service-venv"
SHELL_SCRIPTS = (
    "kit",
    ".ci/run",
    "wheel/build.sh",
    "deb/build.sh",
    "deb/build-in-container.sh",
    "docker/build.sh",
    "rpm/build.sh",
    "rpm/acme-rpm",
)
DOCKERFILES = ("docker/Dockerfile", "docker/python-base.Dockerfile")


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def service_venv(settings: Settings) -> Path:
    """A venv with the service's locked deps + test deps, rebuilt when the lock changes."""
    lock = settings.source / "requirements-dev.lock"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = SERVICE_VENV / ".lock-hash"
    if stamp.exists() and stamp.read_text() == digest:
        return SERVICE_VENV
    with step("service venv (hash-pinned requirements-dev.lock)"):
        run([sys.executable, "-m", "venv", "--clear", str(SERVICE_VENV)])
        pip = str(SERVICE_VENV / "bin" / "pip")
        run(
            [pip, "install", "-q", "--require-hashes", "-r", str(lock)],
            fix="check that PyPI is reachable (pip honours PIP_CERT / PIP_INDEX_URL)",
        )
        run([pip, "install", "-q", "--no-deps", "-e", str(settings.source)])
        stamp.write_text(digest)
    return SERVICE_VENV


def lint(settings: Settings) -> None:
    with step("lint"):
        py_dirs = [
            "kitcli",
            "tests",
            "deb/tests",
            "docker/stage.py",
            str(settings.source.relative_to(ROOT)),
        ]
        run([_tool("ruff"), "check", *py_dirs], cwd=ROOT, fix="run `ruff check --fix` and review")
        run(
            [_tool("ruff"), "format", "--check", *py_dirs],
            cwd=ROOT,
            fix="run `.kit/venv/bin/ruff format` on the files it names",
        )
        venv = service_venv(settings)
        run([_tool("mypy"), "--strict", "kitcli"], cwd=ROOT, fix="fix the typing errors named")
        run(
            [
                _tool("mypy"),
                "--config-file",
                str(settings.source / "pyproject.toml"),
                "--python-executable",
                str(venv / "bin" / "python"),
                str(settings.source / "src"),
            ],
            cwd=ROOT,
            fix="fix the typing errors named",
        )
        run([_tool("shellcheck"), *SHELL_SCRIPTS], cwd=ROOT, fix="fix the findings named")
        run(
            [_tool("hadolint"), "--failure-threshold", "style", *DOCKERFILES],
            cwd=ROOT,
            fix="fix the findings named (an ignore needs `# hadolint ignore=DLxxxx` + a reason)",
        )
        run([_tool("yamllint"), "--strict", "ansible"], cwd=ROOT, fix="fix the findings named")
        env = {"ANSIBLE_CONFIG": str(ROOT / "ansible" / "ansible.cfg")}
        run(
            [_tool("ansible-lint"), "--offline"],
            cwd=ROOT / "ansible",
            env=env,
            fix="fix the findings named",
        )


def unit(settings: Settings) -> None:
    venv = service_venv(settings)
    with step("service unit tests"):
        run(
            [str(venv / "bin" / "pytest"), "-q"],
            cwd=settings.source,
            fix="the failing test's output above says what broke",
        )
    with step("kit tests"):
        env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        run(
            [sys.executable, "-m", "pytest", "-q", "tests/kit"],
            cwd=ROOT,
            env=env,
            fix="the failing test's output above says what broke",
        )
