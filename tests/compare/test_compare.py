"""`./kit compare --layers wheel --runs 1 --reproducible` end to end: the report's figures are the
artifacts' own (the size is the file's size, the file count the archive's member count,
the build times real durations, the target's figures measured on a fresh target, the
contract's result from a run against that target), and
report.html renders in a real headless browser (Debian's chromium): the table with its
row, every chart decoded, no script or console error. The screenshot stays beside the
report (dist/compare/report.png)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "dist" / "compare"

pytestmark = pytest.mark.compare


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    # --reproducible: the flag's second build is proven here, on the cheapest layer
    done = subprocess.run(
        [sys.executable, "-m", "kitcli", "compare", "--layers=wheel", "--runs=1", "--reproducible"],
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, "kit compare --layers wheel failed (its output above)"
    data: dict[str, object] = json.loads((OUT / "results.json").read_text(encoding="utf-8"))
    return data


def _row(results: dict[str, object]) -> dict[str, object]:
    rows = results["layers"]
    assert isinstance(rows, list) and [r["layer"] for r in rows] == ["wheel"]
    row: dict[str, object] = rows[0]
    assert row["error"] == "", row["error"]
    return row


def test_figures_are_the_artifacts_own(results: dict[str, object]) -> None:
    row = _row(results)
    runs = row["runs"]
    assert isinstance(runs, dict)
    tarballs = sorted((ROOT / "dist/wheel/trixie").glob("*/*.wheelhouse.tar.gz"))
    mine = [t for t in tarballs if t.parent.name == str(results["version"])]
    assert len(mine) == 1, tarballs
    assert runs["artifact_bytes"] == [mine[0].stat().st_size]
    with tarfile.open(mine[0]) as t:
        assert runs["files"] == [sum(1 for m in t if m.isfile())]
    assert all(0 < s < 3600 for s in runs["cold_build_s"] + runs["warm_build_s"])
    # measured on a fresh target: installed, started, loaded
    for key in ("install_s", "start_ms", "rss_bytes", "installed_bytes", "rps", "p99_ms"):
        assert len(runs[key]) == 1 and runs[key][0] > 0, key
    assert runs["installed_bytes"][0] > runs["artifact_bytes"][0]  # a venv unpacked from it
    facts = row["facts"]
    assert isinstance(facts, dict)
    assert facts["reproducible"] == "yes"
    assert facts["artifact"] == mine[0].name
    # the contract ran against that same target, and passed
    assert re.fullmatch(r"passed \(\d+ passed.*\)", facts["contract"]), facts["contract"]
    # the host brings the Python: a base component's fix is its apt upgrade, no rebuild
    assert "apt upgrade" in facts["patch"] and "patch_s" not in runs
    # one layer: no second lane, nothing measured beside it
    assert facts["beside"] == "nothing (alone)"


def test_the_report_names_machine_and_figures(results: dict[str, object]) -> None:
    md = (OUT / "report.md").read_text(encoding="utf-8")
    machine = results["machine"]
    assert isinstance(machine, dict)
    for key in ("cpu", "cores", "memory", "kernel", "commit", "date"):
        assert str(machine[key]) in md and machine[key] not in ("", "unknown")
    size = _row(results)["runs"]["artifact_bytes"][0]  # type: ignore[index]
    assert f"{size / 1e6:.1f} MB" in md
    for png in ("size.png", "start.png", "build-time.png"):
        assert f"({png})" in md
        assert (OUT / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _chromium() -> list[str]:
    chromium = shutil.which("chromium")
    assert chromium, (
        "chromium not found — fix: sudo ./kit doctor --fix (apt-get install -y chromium)"
    )
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
        "--window-size=1280,1400",
    ]


def _render(page: Path) -> dict[str, str]:
    """What the page's self-check (kitcli/report.py SELF_CHECK) found in chromium."""
    dom = subprocess.run(
        [*_chromium(), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    assert attrs.get("checked") == "yes", f"the page's self-check did not run: {attrs}"
    return attrs


def test_the_browser_check_sees_a_broken_chart(results: dict[str, object], tmp_path: Path) -> None:
    """The check can fail: the same report with one chart's bytes garbled."""
    page = (OUT / "report.html").read_text(encoding="utf-8")
    garbled = re.sub(r"base64,[A-Za-z0-9+/]{40}", "base64,AAAAgarbled", page, count=1)
    assert garbled != page
    (tmp_path / "broken.html").write_text(garbled, encoding="utf-8")
    attrs = _render(tmp_path / "broken.html")
    assert attrs["broken"] == "1", attrs


def test_report_html_renders_in_chromium(results: dict[str, object]) -> None:
    attrs = _render(OUT / "report.html")
    assert attrs["images"] == "3" and attrs["broken"] == "0", attrs
    assert attrs["errors"] == "0" and attrs["rows"] == "1", attrs
    shot = OUT / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [*_chromium(), f"--screenshot={shot}", (OUT / "report.html").as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
