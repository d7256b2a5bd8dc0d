"""`kit compare`'s report: a terminal table, report.md, a self-contained report.html (the
charts embedded) and PNG charts, all from the rows measured in this run, along the
gradient, with the machine, date, commit and tool versions they were measured on."""

from __future__ import annotations

import base64
import html
import json
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from kitcli.errors import KitError
from kitcli.rows import Row
from kitcli.settings import ROOT
from kitcli.steps import console

# The kit's own performance goals: a row that misses one is marked in the report.
WARM_GOAL = 0.2  # warm rebuild <= 0.2 x cold build


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    unit: str  # "s", "bytes", "count"


COLUMNS = (
    Column("artifact_bytes", "artifact size", "bytes"),
    Column("files", "files", "count"),
    Column("cold_build_s", "cold build", "s"),
    Column("warm_build_s", "rebuild after a change", "s"),
    Column("patch_s", "base patched: rebuild", "s"),
    Column("installed_bytes", "installed size", "bytes"),
    Column("install_s", "install (offline)", "s"),
    Column("start_ms", "start → health 200", "ms"),
    Column("rss_bytes", "RSS", "bytes"),
    Column("rps", "req/s (health, 5 s)", "count"),
    Column("p99_ms", "p99", "ms"),
)
START_GOAL_MS = 1000.0  # start -> first health 200 <= 1 s
FACTS = (
    ("host_needs", "host must provide"),
    ("patch", "base patched: each host"),
    ("contract", "contract"),
    ("installed_files", "installed files"),
    ("reproducible", "reproducible"),
    ("sbom", "SBOM"),
    ("target", "target"),
    ("measured_in", "this row took"),
    ("beside", "ran beside"),
)


def _fmt(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 1e6:.1f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB"
    if unit == "count":
        return f"{value:.0f}"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.1f} s"


def cell(row: Row, column: Column) -> str:
    """The median over the runs; with several runs, min-max after it."""
    values = row.runs.get(column.key)
    if not values:
        return "—"
    text = _fmt(statistics.median(values), column.unit)
    if len(values) > 1:
        text += f" ({_fmt(min(values), column.unit)}-{_fmt(max(values), column.unit)})"
    return text


def misses(row: Row) -> list[str]:
    """The kit's performance goals this row misses."""
    found = []
    cold, warm = row.runs.get("cold_build_s"), row.runs.get("warm_build_s")
    if cold and warm and statistics.median(warm) > WARM_GOAL * statistics.median(cold):
        ratio = statistics.median(warm) / statistics.median(cold)
        found.append(f"rebuild {ratio:.2f}x cold (goal <= {WARM_GOAL}x)")
    start = row.runs.get("start_ms")
    if start and statistics.median(start) > START_GOAL_MS:
        found.append(f"start {statistics.median(start):.0f} ms (goal <= {START_GOAL_MS:.0f} ms)")
    return found


def _out(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "not installed"


def machine() -> dict[str, str]:
    """Where and when the numbers were measured."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _out(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "docker": _out(["docker", "version", "--format", "{{.Server.Version}}"]),
        "dpkg": _out(["dpkg", "--version"]).rstrip("."),
    }


def terminal(rows: list[Row]) -> None:
    """One column per layer (along the gradient), one line per figure: fits a terminal."""
    table = Table(title="the measured gradient (medians)")
    table.add_column("")
    for row in rows:
        marks = misses(row)
        table.add_column(row.layer.name + (" [yellow]⚠[/]" if marks else ""), justify="right")
    for column in COLUMNS:
        table.add_row(
            column.title, *("[red]failed[/]" if r.error else cell(r, column) for r in rows)
        )
    for key, title in FACTS:
        table.add_row(title, *("" if r.error else r.facts.get(key, "—") for r in rows))
    table.add_row("goals", *("; ".join(misses(r)) or "met" for r in rows))
    console.print(table)
    for row in rows:
        if row.error:
            console.print(f"[red]{row.layer.name} failed:[/] {row.error}", markup=True)


def markdown_table(rows: list[Row]) -> str:
    head = ["layer", *(c.title for c in COLUMNS), *(t for _, t in FACTS), "goals"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if row.error:
            cells = [f"**failed**: {row.error}"] + [""] * (len(head) - 2)
        else:
            goals = "; ".join(f"⚠ {m}" for m in misses(row)) or "met"
            cells = [cell(row, c) for c in COLUMNS]
            cells += [row.facts.get(k, "—") for k, _ in FACTS] + [goals]
        lines.append("| " + " | ".join([f"`{row.layer.name}`", *cells]) + " |")
    return "\n".join(lines)


def _median(row: Row, key: str) -> float:
    values = row.runs.get(key)
    return statistics.median(values) if values else 0.0


def charts(rows: list[Row], out: Path) -> list[Path]:
    """PNG charts along the gradient: artifact size, start time, cold build vs rebuild."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if not r.error]
    names = [r.layer.name for r in ok]
    x = list(range(len(ok)))
    # (file, title, y label, [(key, scale, label)], goal line)
    specs: list[tuple[str, str, str, list[tuple[str, float, str]], float | None]] = [
        ("size.png", "artifact size", "MB", [("artifact_bytes", 1e-6, "")], None),
        ("start.png", "start → first health 200", "ms", [("start_ms", 1.0, "")], START_GOAL_MS),
        (
            "build-time.png",
            "build time",
            "seconds",
            [("cold_build_s", 1.0, "cold"), ("warm_build_s", 1.0, "after a change")],
            None,
        ),
    ]
    made = []
    for name, title, unit, series, goal in specs:
        fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
        width = 0.8 / len(series)
        for n, (key, scale, label) in enumerate(series):
            offset = (n - (len(series) - 1) / 2) * width
            values = [_median(r, key) * scale for r in ok]
            ax.bar([i + offset for i in x], values, width, label=label or None)
        if goal is not None:
            ax.axhline(goal, color="#c44e52", linestyle="--", label=f"goal: {goal:.0f} {unit}")
        ax.set_xticks(x, names)
        ax.set_ylabel(unit)
        ax.set_title(f"{title} along the gradient")
        if goal is not None or len(series) > 1:
            ax.legend()
        fig.tight_layout()
        made.append(out / name)
        fig.savefig(made[-1])
        plt.close(fig)
    return made


# The page checks itself once loaded, so a headless browser can read the verdict from the
# DOM: how many charts there are, how many failed to decode, and any script error or
# console.error while it rendered (kit test's compare stage opens it in chromium).
SELF_CHECK = (
    "<script>(function(){var errors=[];"
    "window.addEventListener('error',function(e){errors.push(String(e.message))});"
    "var ce=console.error;console.error=function(){errors.push([].join.call(arguments,' '));"
    "ce.apply(console,arguments)};"
    "window.addEventListener('load',function(){var imgs=[].slice.call(document.images);"
    "var broken=imgs.filter(function(i){return !i.complete||i.naturalWidth===0});"
    "var b=document.body.dataset;b.images=imgs.length;b.broken=broken.length;"
    "b.rows=document.querySelectorAll('#gradient tr').length-1;"
    "b.errors=errors.length;b.checked='yes'})})();</script>"
)


# README.md's measured table lives between these two lines (`kit compare --update-readme`).
README_BEGIN = "<!-- kit compare --update-readme: begin (generated, do not edit) -->"
README_END = "<!-- kit compare --update-readme: end -->"


# What the columns mean, under every report's table.
METHOD = (
    "Cold build: every cache empty, as on a fresh machine (a cache dir of the run's own, "
    "no engine layer cache). Rebuild after a change: the next version, with what the cold "
    "build cached. Base patched: where the artifact embeds its base (CPython, OpenSSL, the "
    "root filesystem), a base component's fix means that cold build again; where the host "
    "brings the Python, the host's own apt upgrade and no rebuild. Reproducible: checked "
    "only with --reproducible (a second build of every layer in another checkout does not "
    "fit the hour on 2 cores). Ran beside: the long builds (the Pi image's emulated rootfs, "
    "Omnibus's compiles) are measured in a second process beside the other layers, so that "
    "every layer fits the hour; a row's times include that sharing of the cores, and the "
    "column names what shared them (kit compare --alone: one layer at a time)."
)


def about(where: dict[str, str], runs: int, distro: str) -> str:
    return (
        f"Measured {where['date']} on {where['cpu']} ({where['cores']} cores, "
        f"{where['memory']}, kernel {where['kernel']}), commit {where['commit']}, "
        f"{distro}, {runs} run(s) per layer (medians; min-max when more than one). "
        f"Tools: Python {where['python']}, docker {where['docker']}, {where['dpkg']}."
    )


def size_chart(rows: list[Row]) -> str:
    """The artifact size per layer along the gradient as a mermaid chart: text that
    renders as a chart where the README is read (GitHub, GitLab), no image committed."""
    ok = [r for r in rows if not r.error and r.runs.get("artifact_bytes")]
    names = ", ".join(r.layer.name for r in ok)
    sizes = ", ".join(f"{_median(r, 'artifact_bytes') / 1e6:.1f}" for r in ok)
    return (
        "```mermaid\nxychart-beta\n"
        '    title "artifact size along the gradient (MB)"\n'
        f"    x-axis [{names}]\n"
        '    y-axis "MB"\n'
        f"    bar [{sizes}]\n```"
    )


def readme_parts(readme: Path) -> tuple[str, str]:
    """README's text before README_BEGIN and from README_END on (kit compare checks this
    before any work when --update-readme is given)."""
    page = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if page.count(README_BEGIN) != 1 or page.count(README_END) != 1:
        raise KitError(
            f"{readme} has no place for the table (one line {README_BEGIN} and, after it, "
            f"one line {README_END})",
            "add those two lines where the table goes, then rerun with --update-readme",
        )
    head, rest = page.split(README_BEGIN)
    if README_END not in rest:
        raise KitError(f"{readme}: {README_END} comes before {README_BEGIN}", "swap them")
    return head, README_END + rest.split(README_END)[1]


def update_readme(readme: Path, rows: list[Row], text: str) -> None:
    """Put this run's table and size chart between README_BEGIN and README_END."""
    head, tail = readme_parts(readme)
    section = f"{README_BEGIN}\n{text}\n\n{markdown_table(rows)}\n\n{size_chart(rows)}\n"
    readme.write_text(head + section + tail, encoding="utf-8")


def write(rows: list[Row], out: Path, runs: int, distro: str, version: str) -> dict[str, Path]:
    """report.md, report.html, the charts and results.json in OUT."""
    out.mkdir(parents=True, exist_ok=True)
    where = machine()
    pngs = charts(rows, out)
    about_run = about(where, runs, distro)
    table = markdown_table(rows)
    md = out / "report.md"
    md.write_text(
        "# The measured gradient\n\n"
        + about_run
        + "\n\n"
        + table
        + "\n\n"
        + METHOD
        + "\n\n"
        + "\n".join(f"![{p.stem}]({p.name})" for p in pngs)
        + "\n",
        encoding="utf-8",
    )
    images = "".join(
        f'<figure><img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></figure>'
        for p in pngs
    )
    head = ["layer", *(c.title for c in COLUMNS), *(t for _, t in FACTS), "goals"]
    body = []
    for row in rows:
        if row.error:
            cells = [f"failed: {row.error}"]
        else:
            cells = [cell(row, c) for c in COLUMNS] + [row.facts.get(k, "—") for k, _ in FACTS]
            cells.append("; ".join(f"⚠ {m}" for m in misses(row)) or "met")
        body.append(
            "<tr>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in [row.layer.name, *cells])
            + "</tr>"
        )
    page = out / "report.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>The measured gradient</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "figure{display:inline-block;margin:1em}</style></head><body>"
        f"<h1>The measured gradient</h1><p>{html.escape(about_run)}</p>"
        "<table id='gradient'><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr>"
        + "".join(body)
        + f"</table><p>{html.escape(METHOD)}</p>{images}{SELF_CHECK}</body></html>",
        encoding="utf-8",
    )
    raw = out / "results.json"
    raw.write_text(
        json.dumps(
            {
                "machine": where,
                "distro": distro,
                "version": version,
                "runs": runs,
                "layers": [r.to_json() | {"misses": misses(r)} for r in rows],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return {"md": md, "html": page, "json": raw, **{p.stem: p for p in pngs}}
