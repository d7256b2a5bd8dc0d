"""Builds that run beside `kit test`'s other stages. A layer whose build is long emulated
work on one core (layer.toml `build.background = true`: the Pi image, arm64 under
qemu-user) starts building in a second process when `kit test` starts; its stage runs
last, waits for that process, shows its log, and tests what it built. The second core is
otherwise idle while the container layers' stages wait on their targets."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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
    started: float = field(default_factory=time.monotonic)

    def wait(self) -> None:
        """Stream the rest of the log until the build ends; raise if it failed."""
        with step(f"background build of {self.layer} for {self.distro} (log {self.log})"):
            with self.log.open(errors="replace") as log:
                while True:
                    done = self.proc.poll() is not None
                    _show(log)
                    if done:
                        break
                    time.sleep(1)
            took = time.monotonic() - self.started
            if self.proc.returncode != 0:
                raise KitError(
                    f"the background build of {self.layer} failed after {took:.0f} s "
                    f"(exit {self.proc.returncode}; its log is above and in {self.log})",
                    f"rerun it in the foreground: ./kit build {self.layer} --distro {self.distro}",
                )
            console.print(f"  built in {took:.0f} s, beside the other stages", markup=False)

    def stop(self) -> None:
        """End the build and everything it started (its own process group)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _show(log: IO[str]) -> None:
    for line in log:
        console.print(f"  bg| {line.rstrip()}", markup=False)


def start(layer: str, distro: str) -> Build:
    """`./kit prebuild LAYER --distro D` in a second process, its output in a log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"prebuild-{layer}-{distro}.log"
    argv = [str(ROOT / "kit"), "prebuild", layer, "--distro", distro]
    console.print(
        f"  {layer}/{distro}: building in the background now ($ {' '.join(argv)} > {log}); "
        "its stage runs last",
        markup=False,
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Build(layer, distro, log, proc)
