"""Import the service's package and every compiled module of the venv this runs in, and
resolve the service's console script (without running it).

A wheel built for another CPython or a newer glibc installs fine and fails only when its
module loads; this loads them all, so the failure shows at build time (the spec's %check,
with the distro's interpreter) and on a relocated copy (rpm/tests), never first on a host.
No module is named here: the compiled ones are found by their file suffix.

The console script (kit.toml `command`'s first word) is checked without running the
service (one that ignores --help would start serving inside the build): its entry point
is loaded, not called, and the script file itself is started with a sitecustomize that
reports the interpreter's sys.prefix and exits before the script's code runs — proving
its relative trampoline finds the venv's python3 next to itself, wherever the venv sits.

    <venv>/bin/python3 rpm/check-imports.py <python_package> [<console_script>]
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

# Runs inside the script's interpreter at startup: report where it is, stop there.
PROBE = "import os, sys\nprint(sys.prefix, flush=True)\nos._exit(0)\n"


def compiled_modules(site: Path) -> set[str]:
    """Dotted names of the extension modules under site-packages (vendored .so libraries,
    e.g. in `<dist>.libs/`, are not modules and are skipped)."""
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    names = set()
    for path in site.rglob("*"):
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is None or not path.is_file():
            continue
        parts = path.relative_to(site).with_name(path.name[: -len(suffix)]).parts
        if all(part.isidentifier() for part in parts):
            names.add(".".join(parts))
    return names


def load_script(name: str) -> str | None:
    """Load the console script's entry point; return why it failed, or None."""
    scripts = importlib.metadata.entry_points(group="console_scripts")
    found = [ep for ep in scripts if ep.name == name]
    if not found:
        known = ", ".join(sorted(ep.name for ep in scripts)) or "none"
        return f"no console script {name!r} in the venv (it has: {known})"
    try:
        found[0].load()
    except Exception as exc:  # any failure to resolve is the finding
        return f"console script {name} = {found[0].value} ({type(exc).__name__}: {exc})"
    script = Path(sys.prefix) / "bin" / name
    with tempfile.TemporaryDirectory() as probe:
        (Path(probe) / "sitecustomize.py").write_text(PROBE)
        env = {**os.environ, "PYTHONPATH": probe}
        try:
            ran = subprocess.run(
                [str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{script} did not start ({exc})"
    if ran.returncode != 0 or ran.stdout.strip() != sys.prefix:
        return (
            f"{script} runs {ran.stdout.strip() or 'no python'} (rc {ran.returncode}: "
            f"{ran.stderr.strip()[-300:]}), not the venv's python3 in {sys.prefix}"
        )
    return None


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(
            "usage: python3 check-imports.py <python_package> [<console_script>]", file=sys.stderr
        )
        return 2
    sites = {Path(sysconfig.get_path(key)) for key in ("purelib", "platlib")}
    names = {sys.argv[1]}
    for site in sites:
        names |= compiled_modules(site)
    failed = []
    for name in sorted(names):
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure to load is the finding
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    if len(sys.argv) == 3 and (why := load_script(sys.argv[2])):
        failed.append(why)
    if failed:
        print(
            f"check-imports: in {sys.prefix}: {'; '.join(failed)} — fix: lock wheels built "
            f"for CPython {sys.version_info.major}.{sys.version_info.minor} and this glibc "
            "(wheel/build.sh), add a missing dependency to the lock, or start kit.toml's "
            "command with a console script of the service's pyproject.toml",
            file=sys.stderr,
        )
        return 1
    script = f"; console script {sys.argv[2]} loads and starts" if len(sys.argv) == 3 else ""
    print(
        f"check-imports: {len(names)} modules import from {sys.prefix}: "
        f"{', '.join(sorted(names))}{script}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
