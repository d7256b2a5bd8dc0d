"""The fast checks: linters the ecosystem expects, the service's unit tests, the kit's
own tests. Each is the raw command a user could run."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from kitcli import layers
from kitcli.settings import ROOT, Settings
from kitcli.steps import console, run, step

SERVICE_VENV = ROOT / ".kit" / "service-venv"
ADOPT_PROOF = ROOT / "tests" / "adopt"  # the kit's own repo only; an adopted one has none
COMPARE_PROOF = ROOT / "tests" / "compare"  # kit compare end to end (the kit's own repo only)
SKIP_DIRS = {".kit", "dist", ".git", "build", "node_modules"}


def _tree_files() -> list[str]:
    """The repository's files: git's list (committed and new, not ignored) in a checkout;
    else a walk that never enters caches, build output or a mount point. Never a bare
    recursive glob: build trees under dist/ may hold bind mounts (/proc) while a build runs."""
    try:
        git = ["git", "-C", str(ROOT), "ls-files", "-z"]
        listed = subprocess.run(
            [*git, "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
        return sorted({f for f in listed.decode().split("\0") if f})
    except (OSError, subprocess.CalledProcessError):
        pass
    found: list[str] = []
    root_dev = ROOT.stat().st_dev
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d
            for d in dirs
            if d not in SKIP_DIRS and os.lstat(os.path.join(top, d)).st_dev == root_dev
        ]
        rel = Path(top).relative_to(ROOT)
        found.extend((rel / f).as_posix() for f in files)
    return sorted(found)


def _glob_re(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: `**/` any number of directories, `*` within one name."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def _files(*patterns: str) -> list[str]:
    """Repository files matching the globs, outside caches and build output."""
    regexes = [_glob_re(p) for p in patterns]
    return [
        f
        for f in _tree_files()
        if not SKIP_DIRS & set(f.split("/")[:-1])
        and any(r.match(f) for r in regexes)
        and (ROOT / f).is_file()
        and not (ROOT / f).is_symlink()
    ]


def shell_scripts() -> list[str]:
    """Every shell script: *.sh, and extension-less files whose #! line names a shell."""
    scripts = set(_files("**/*.sh"))
    for path in _files("*", "*/*", ".ci/*", "ansible/roles/*/files/*"):
        p = ROOT / path
        if p.suffix:
            continue
        with p.open("rb") as f:
            first = f.readline(100)
        if re.match(rb"#!\s*/\S*?(/env\s+)?(ba|da)?sh\b", first):
            scripts.add(path)
    return sorted(scripts)


def dockerfiles() -> list[str]:
    """Every committed Dockerfile (builders and stand-ins included). Rendered Dockerfile
    templates are linted by their layer's build (hadolint on the rendered file)."""
    found = _files("**/Dockerfile", "**/*.Dockerfile", "**/Dockerfile.*")
    return [f for f in found if not f.endswith(".j2")]


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
        # The kit's Python (ruff.toml) and the service's (its own pyproject settings).
        py_dirs = [".", str(settings.source)]
        run([_tool("ruff"), "check", *py_dirs], cwd=ROOT, fix="run `ruff check --fix` and review")
        run(
            [_tool("ruff"), "format", "--check", *py_dirs],
            cwd=ROOT,
            fix="run `.kit/venv/bin/ruff format` on the files it names",
        )
        run([_tool("mypy"), "--strict", "kitcli"], cwd=ROOT, fix="fix the typing errors named")
        if (settings.source / "requirements-dev.lock").is_file():
            venv = service_venv(settings)
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
        run([_tool("shellcheck"), "-x", *shell_scripts()], cwd=ROOT, fix="fix the findings named")
        run(
            [_tool("hadolint"), "--failure-threshold", "style", *dockerfiles()],
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
        for layer in layers.discover().values():  # a layer's own format checks (packer fmt)
            for argv in layer.lint:
                run(list(argv), cwd=ROOT, fix=f"see {layer.directory.name}/README.md")


def unit(settings: Settings) -> None:
    if not (settings.source / "requirements-dev.lock").is_file():
        console.print(
            f"  service unit tests skipped: {settings.source}/requirements-dev.lock is missing "
            "(lock the service with its test deps: uv pip compile --generate-hashes --extra test)",
            markup=False,
        )
        return kit_tests()
    venv = service_venv(settings)
    # The service's own pytest settings, without the kit's contract plugin: in an adopted
    # repo the service's tests share the root with the kit's suites (tests/contract, …).
    argv = [str(venv / "bin" / "pytest"), "-q", "-c", "pyproject.toml"]
    argv += ["-p", "no:tests.contract.plugin"]
    for suite in ("tests/contract", "tests/selftest", "tests/kit", "tests/adopt", "tests/compare"):
        if (settings.source / suite).is_dir():
            argv += ["--ignore", suite]
    with step("service unit tests"):
        run(
            argv,
            cwd=settings.source,
            fix="the failing test's output above says what broke",
        )
    kit_tests()


def kit_tests() -> None:
    """The kit's own tests and each layer's host-less suites (layer.toml `tests.unit`)."""
    suites = [
        str((layer.directory / suite).relative_to(ROOT))
        for layer in layers.discover().values()
        for suite in layer.unit_tests
        if (layer.directory / suite).exists()
    ]
    suites += ["tests/kit"] if (ROOT / "tests" / "kit").is_dir() else []
    if not suites:
        return
    with step("kit tests"):
        env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        run(
            [sys.executable, "-m", "pytest", "-q", *suites],
            cwd=ROOT,
            env=env,
            fix="the failing test's output above says what broke",
        )


ADOPT_TESTED = {False: "deb", True: "wheel,deb,docker,rpm"}  # by --matrix


def compare() -> None:
    """`kit compare --layers wheel --runs 1` end to end, and its report opened in a headless
    browser (tests/compare): the main job's own proof."""
    env = {}
    if os.environ.get("KIT_TIER") != "matrix":
        # The wheel layer's own stage ran its crash drill's 5 trials and its upgrade
        # checks in this tier: the compare's contract run is what is proven here.
        env = {"KIT_DRILL_TRIALS": os.environ.get("KIT_DRILL_TRIALS", "3")}
        env["KIT_UPGRADE"] = "skip:wheel"
    with step("compare: kit compare --layers wheel, its figures and its report in chromium"):
        run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-m", "compare", "tests/compare"],
            cwd=ROOT,
            env=env,
            fix="the failing check's output above says what broke",
        )


def adopt(settings: Settings, matrix: bool = False) -> None:
    """The from-scratch proof of `kit adopt`: a second service (tests/adopt) gets the kit
    (wheel, deb, docker, rpm) and passes the contract on deb — on all four with --matrix
    (minutes per layer: each builds and tests)."""
    tested = ADOPT_TESTED[matrix]
    with step(f"adopt: a second service from scratch, adopted, the contract on {tested}"):
        env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "KIT_ADOPT_LAYERS": tested,
        }
        if not matrix:
            # The same layers' crash drill ran its 5 trials, and the contract's self-test
            # ran, on the kit's own service: the adoption is what is proven here.
            env["KIT_DRILL_TRIALS"] = os.environ.get("KIT_DRILL_TRIALS", "3")
            env["KIT_SELFTEST"] = "skip"
        run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-m", "adopt", "tests/adopt"],
            cwd=ROOT,
            env=env,
            fix="the failing step's output above says what broke",
        )
