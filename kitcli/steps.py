"""Progress for long work: every step says what runs and how long it took, and every
command is printed as the raw command a user could type."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from kitcli.errors import KitError

console = Console(highlight=False, log_path=False, soft_wrap=True)
_depth = 0


@contextmanager
def step(title: str) -> Iterator[None]:
    """Announce a step, time it, report ✓ or ✗ with the duration."""
    global _depth
    pad = "  " * _depth
    title = escape(title)  # text is shown verbatim: `[targets]` is not markup
    console.print(f"{pad}[bold cyan]▶[/] {title}")
    start = time.monotonic()
    _depth += 1
    try:
        yield
    except BaseException:
        _depth -= 1
        console.print(f"{pad}[bold red]✗[/] {title} [dim]({time.monotonic() - start:.1f} s)[/]")
        raise
    _depth -= 1
    console.print(f"{pad}[bold green]✓[/] {title} [dim]({time.monotonic() - start:.1f} s)[/]")


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
    fix: str = "read the command's output above",
) -> subprocess.CompletedProcess[str]:
    """Run a command, printing it first. Raise KitError naming the fix when it fails."""
    argv = [str(c) for c in cmd]
    shown = shlex.join(argv)
    if cwd is not None:
        shown = f"(cd {shlex.quote(str(cwd))} && {shown})"
    console.print(f"{'  ' * _depth}[dim]$ {escape(shown)}[/]")
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=full_env,
            text=True,
            capture_output=capture,
            check=False,
        )
    except FileNotFoundError:
        raise KitError(f"`{argv[0]}` is not installed", "run `./kit doctor --fix`") from None
    if check and proc.returncode != 0:
        detail = ""
        if capture:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
            detail = (": " + " | ".join(tail)) if tail else ""
        raise KitError(f"`{shown}` exited {proc.returncode}{detail}", fix)
    return proc
