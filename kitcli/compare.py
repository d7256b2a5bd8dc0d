"""`kit compare`: build every chosen layer on this machine, measure each from its real
artifacts (kitcli/measure.py) and write the report (kitcli/report.py) to dist/compare/.
The long background-build layers are measured in a second lane beside the others
(kitcli/lanes.py); --alone measures one layer at a time."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from kitcli import doctor, lanes, layers, measure, report
from kitcli.errors import KitError
from kitcli.settings import ROOT, Settings, load
from kitcli.steps import console

OUT = ROOT / "dist" / "compare"
README = ROOT / "README.md"


def check_choice(names: list[str], runs: int) -> None:
    """Bad input stops before any work, in one line naming the fix."""
    if runs < 1:
        raise KitError(f"--runs {runs}: at least one run is needed", "use --runs 1 or more")
    known = layers.discover()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KitError(
            f"unknown layer {', '.join(unknown)}",
            f"use --layers with any of {', '.join(sorted(known))} (comma-separated)",
        )


def compare_cmd(
    layer_list: Annotated[
        str | None,
        typer.Option("--layers", help="comma-separated layers (default: every layer)"),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", help="runs per layer (medians)")] = 1,
    distro: Annotated[
        str | None, typer.Option("--distro", help="Debian release (default: first in kit.toml)")
    ] = None,
    reproducible: Annotated[
        bool,
        typer.Option(
            "--reproducible/--no-reproducible",
            help="also build each layer a second time in another checkout and compare the "
            "bytes (a second build of every layer: past the hour on 2 cores for them all)",
        ),
    ] = False,
    update_readme: Annotated[
        bool,
        typer.Option("--update-readme", help="put this run's table and size chart into README.md"),
    ] = False,
    alone: Annotated[
        bool,
        typer.Option(
            "--alone",
            help="measure one layer at a time, nothing beside it (with every layer: past "
            "the hour on 2 cores); default: the long builds (Pi image, Omnibus) in a second "
            "lane beside the others, each row naming what ran beside it",
        ),
    ] = False,
    rows_to: Annotated[
        Path | None,
        typer.Option("--rows-to", hidden=True, help="be the second lane: rows to this file"),
    ] = None,
) -> None:
    """Build each layer and measure what it costs and gives, side by side (dist/compare/)."""
    settings = load()
    names = [n.strip() for n in layer_list.split(",") if n.strip()] if layer_list else []
    check_choice(names, runs)
    if update_readme:
        report.readme_parts(README)
    chosen = measure.known(names or list(layers.discover()))
    if rows_to is not None:  # a second lane: in the order its parent chose (lanes.split)
        chosen = [layers.get(n) for n in names]
    d = distro or settings.default_distro
    if d not in settings.distros:
        raise KitError(
            f"--distro {d} is not a target in kit.toml", "use one of " + ", ".join(settings.distros)
        )
    if rows_to is None:  # (the second lane's parent did it)
        doctor.ensure()  # a fresh machine: set up as root, else the one command, before any work
    start = time.monotonic()
    ahead, beside = (chosen, []) if alone or rows_to else lanes.split(chosen)
    lane = lanes.start(beside, runs, d, reproducible) if beside else None
    try:
        rows = _measure(settings, ahead, d, runs, reproducible, lane, rows_to, len(chosen))
    finally:
        if lane:
            lane.stop()
    failed = any(r.error or r.facts.get("contract", "").startswith("failed") for r in rows)
    if rows_to is not None:
        raise typer.Exit(1 if failed else 0)
    rows = along(rows)
    lanes.note_beside(rows)
    report.terminal(rows)
    written = report.write(rows, OUT, runs, d, settings.version)
    console.print(f"report: {written['md']}, {written['html']} ({time.monotonic() - start:.0f} s)")
    if update_readme:
        where = json.loads(written["json"].read_text(encoding="utf-8"))["machine"]
        report.update_readme(README, rows, report.about(where, runs, d))
        console.print(f"README: the table and the size chart updated ({README})")
    if failed:
        raise typer.Exit(1)


def _measure(
    settings: Settings,
    ahead: list[layers.Layer],
    d: str,
    runs: int,
    reproducible: bool,
    lane: lanes.Lane | None,
    rows_to: Path | None,
    total: int,
) -> list[measure.Row]:
    """This process's layers one after another, then the second lane's rows. After each
    layer the rows so far: to the --rows-to file (a second lane), else the report."""
    rows: list[measure.Row] = []
    for layer in ahead:
        row = measure.measure(settings, layer, d, runs, reproducible)
        rows.append(row)
        if row.error:
            console.print(f"[red]✗ {layer.name}: {row.error}[/] — going on with the others")
        elif row.facts.get("contract", "").startswith("failed"):  # its figures stay
            console.print(f"[red]✗ {layer.name}: the contract {row.facts['contract']}[/]")
        if rows_to is not None:
            lanes.write_rows(rows, rows_to)
        elif layer != ahead[-1] or lane:  # the rows so far, readable while others run
            so_far = along(rows + (lane.so_far() if lane else []))
            written = report.write(so_far, OUT, runs, d, settings.version)
            console.print(f"report so far ({len(so_far)} of {total}): {written['md']}")
    return rows + (lane.finish() if lane else [])


def along(rows: list[measure.Row]) -> list[measure.Row]:
    """Rows in the gradient's order (layer.rung), whichever lane measured them."""
    return sorted(rows, key=lambda r: (r.layer.rung, r.layer.name))


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
