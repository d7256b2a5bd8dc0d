"""`kit compare` in two lanes, so that every layer fits the hour on 2 cores. The layers
whose builds are long and use little of the machine at a time (layer.toml
`build.background`: the Pi image's rootfs, emulated on one core; the Omnibus package's
compiles) are measured in a second process, beside the others, as `kit test` builds them.
Each row then names what was measured beside it — its figures include that sharing of the
cores — and `kit compare --alone` measures one layer at a time (past the hour with them
all). Emulated VMs take turns (kitcli/vm.py one_at_a_time): the second lane boots its VM
first, this process boots its own last."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kitcli import background
from kitcli.layers import Layer
from kitcli.rows import Row
from kitcli.settings import ROOT
from kitcli.steps import console, step

LOG = background.LOGS / "compare-beside.log"
ROWS = background.LOGS / "compare-beside.json"


def split(chosen: list[Layer]) -> tuple[list[Layer], list[Layer]]:
    """(the layers this process measures, the second lane's). No second lane unless
    both have layers. Within each lane the gradient's order, except the emulated-VM
    layers: first in the second lane, last in this one, so they seldom wait for each
    other's turn."""
    beside = [layer for layer in chosen if layer.background]
    ahead = [layer for layer in chosen if not layer.background]
    if not beside or not ahead:
        return list(chosen), []
    ahead.sort(key=lambda layer: layer.target_kind == "vm")  # sort is stable
    beside.sort(key=lambda layer: layer.target_kind != "vm")
    return ahead, beside


def write_rows(rows: list[Row], path: Path) -> None:
    """The rows so far, replaced whole (the other process may read at any moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".partial")
    part.write_text(json.dumps([r.to_json() for r in rows], indent=2) + "\n", encoding="utf-8")
    os.replace(part, path)


def read_rows(path: Path) -> list[Row]:
    """The rows a lane has written so far (none yet: an empty list)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [Row.from_json(d) for d in data]


@dataclass
class Lane:
    """The second process: `kit compare --layers … --rows-to ROWS`, its output in LOG."""

    layers: list[Layer]
    proc: subprocess.Popen[bytes]
    rows: Path
    log: Path

    def so_far(self) -> list[Row]:
        return read_rows(self.rows)

    def finish(self) -> list[Row]:
        """Wait for it (its log streamed), then its rows; a layer it never reached gets a
        failed row naming the log."""
        names = ", ".join(layer.name for layer in self.layers)
        with step(f"the second lane ({names}): its log {self.log}"):
            background.follow(self.proc, self.log, "  beside| ")
        rows = self.so_far()
        done = {r.layer.name for r in rows}
        for layer in self.layers:
            if layer.name not in done:
                rows.append(
                    Row(
                        layer,
                        error=f"the second lane ended (exit {self.proc.returncode}) before "
                        f"measuring it — its log: {self.log}",
                    )
                )
        return rows

    def stop(self) -> None:
        background.stop(self.proc)


def start(layers: list[Layer], runs: int, distro: str, reproducible: bool) -> Lane:
    names = ",".join(layer.name for layer in layers)
    argv = [str(ROOT / "kit"), "compare", "--layers", names, "--runs", str(runs)]
    argv += ["--distro", distro, "--rows-to", str(ROWS)]
    if reproducible:
        argv.append("--reproducible")
    LOG.parent.mkdir(parents=True, exist_ok=True)
    ROWS.unlink(missing_ok=True)
    console.print(
        f"  {names}: measured in a second process beside the others "
        f"($ {' '.join(argv)} > {LOG}); each row names what ran beside it "
        "(--alone: one layer at a time, past the hour with every layer)",
        markup=False,
    )
    return Lane(list(layers), background.spawn(argv, LOG), ROWS, LOG)


def note_beside(rows: list[Row]) -> None:
    """Each row's "ran beside": the layers measured while it was (overlapping times)."""
    for row in rows:
        others = [
            o.layer.name
            for o in rows
            if o is not row and o.began < row.ended and row.began < o.ended
        ]
        row.facts["beside"] = ", ".join(others) if others else "nothing (alone)"
