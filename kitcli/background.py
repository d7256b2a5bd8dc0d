"""Layers that build and test beside `kit test`'s other stages. A layer whose build is
long (layer.toml `build.background = true`: the Pi image, arm64 under qemu-user; the
Omnibus package, CPython and OpenSSL compiled) starts in a second process when `kit test`
starts: it builds, then installs what it built on its target and runs the contract, there
(`kit prebuild LAYER --test D`). Its stage in the foreground runs last: it waits for that
process, shows its log, and fails if it failed. The second core is otherwise idle while
the other stages wait on their targets (one emulated VM, one container at a time)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kitcli.errors import KitError
from kitcli.settings import ROOT
from kitcli.steps import console, step

LOGS = ROOT / ".kit" / "logs"


@dataclass
class Build:
    layer: str
    distro: str
    log: Path
    proc: subprocess.Popen[bytes]
    tests: tuple[str, ...] = ()  # the target releases it tests after building
    started: float = field(default_factory=time.monotonic)
    waited: bool = False  # its log was streamed and its result checked

    def wait(self) -> None:
        """Stream the rest of the log until the process ends; raise if it failed. A
        second wait (one build serving two target releases) only checks the result."""
        if self.waited and self.proc.returncode == 0:
            return
        self.waited = True
        what = f"build + test on {', '.join(self.tests)}" if self.tests else "build"
        with step(f"background {what} of {self.layer} for {self.distro} (log {self.log})"):
            follow(self.proc, self.log, "  bg| ")
            took = time.monotonic() - self.started
            if self.proc.returncode != 0:
                again = (
                    f"./kit test {self.layer} --distro {self.tests[0]}"
                    if self.tests
                    else f"./kit build {self.layer} --distro {self.distro}"
                )
                raise KitError(
                    f"the background {what} of {self.layer} failed after {took:.0f} s "
                    f"(exit {self.proc.returncode}; its log is above and in {self.log})",
                    f"rerun it in the foreground: {again}",
                )
            console.print(f"  done in {took:.0f} s, beside the other stages", markup=False)

    def stop(self) -> None:
        stop(self.proc)


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """ARGV from the kit's root in its own process group (so stop() ends everything it
    starts: docker run, mmdebstrap), its output to LOG."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a spawned process and everything it started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def follow(proc: subprocess.Popen[bytes], log: Path, prefix: str) -> None:
    """Print LOG's lines (with PREFIX) as they come, until the process has ended."""
    with log.open(errors="replace") as lines:
        while True:
            done = proc.poll() is not None
            for line in lines:
                console.print(f"{prefix}{line.rstrip()}", markup=False)
            if done:
                return
            time.sleep(1)


def start(layer: str, distro: str, tests: list[str]) -> Build:
    """`./kit prebuild LAYER --distro D --test T…` in a second process, its output in a
    log: the build, then the test on each release in TESTS."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"prebuild-{layer}-{distro}.log"
    argv = [str(ROOT / "kit"), "prebuild", layer, "--distro", distro]
    for target in tests:
        argv += ["--test", target]
    console.print(
        f"  {layer}/{distro}: building and testing in the background now "
        f"($ {' '.join(argv)} > {log}); the stage that waits for it runs last",
        markup=False,
    )
    return Build(layer, distro, log, spawn(argv, log), tuple(tests))
