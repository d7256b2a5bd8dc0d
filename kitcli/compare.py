"""`kit compare`: build every chosen layer on this machine, measure each from its real
artifacts (kitcli/measure.py) and write the report (kitcli/report.py) to dist/compare/."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from kitcli import doctor, layers, measure, report
from kitcli.errors import KitError
from kitcli.settings import ROOT, load
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
) -> None:
    """Build each layer and measure what it costs and gives, side by side (dist/compare/)."""
    settings = load()
    names = [n.strip() for n in layer_list.split(",") if n.strip()] if layer_list else []
    check_choice(names, runs)
    if update_readme:
        report.readme_parts(README)
    chosen = measure.known(names or list(layers.discover()))
    d = distro or settings.default_distro
    if d not in settings.distros:
        raise KitError(
            f"--distro {d} is not a target in kit.toml", "use one of " + ", ".join(settings.distros)
        )
    doctor.ensure()  # a fresh machine: set up as root, else the one command, before any work
    start = time.monotonic()
    rows: list[measure.Row] = []
    for layer in chosen:
        rows.append(measure.measure(settings, layer, d, runs, reproducible))
        if rows[-1].error:
            console.print(f"[red]✗ {layer.name}: {rows[-1].error}[/] — going on with the others")
        elif rows[-1].facts.get("contract", "").startswith("failed"):  # its figures stay
            console.print(f"[red]✗ {layer.name}: the contract {rows[-1].facts['contract']}[/]")
        if layer != chosen[-1]:  # the rows so far, readable while the next layer runs
            written = report.write(rows, OUT, runs, d, settings.version)
            console.print(f"report so far ({len(rows)} of {len(chosen)}): {written['md']}")
    report.terminal(rows)
    written = report.write(rows, OUT, runs, d, settings.version)
    console.print(f"report: {written['md']}, {written['html']} ({time.monotonic() - start:.0f} s)")
    if update_readme:
        where = json.loads(written["json"].read_text(encoding="utf-8"))["machine"]
        report.update_readme(README, rows, report.about(where, runs, d))
        console.print(f"README: the table and the size chart updated ({README})")
    if any(r.error or r.facts.get("contract", "").startswith("failed") for r in rows):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
