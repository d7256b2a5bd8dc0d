"""kit compare's two lanes without a build: which layers go beside the others and in
which order, the rows handed over between the processes, a lane that ends early, what
each row says ran beside it, and the whole command with a stand-in measurement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kitcli import cli, compare, doctor, lanes, layers, measure, report
from kitcli.rows import Row
from kitcli.settings import Settings


def names(chosen: list[layers.Layer]) -> list[str]:
    return [layer.name for layer in chosen]


def test_the_long_builds_go_beside_and_the_vms_wait_least() -> None:
    ahead, beside = lanes.split(measure.known(list(layers.discover())))
    assert names(beside) == ["hardware", "omnibus"]  # its VM first
    assert names(ahead) == ["wheel", "pex", "deb", "rpm", "docker", "packer"]  # its VM last
    assert all(not layer.background for layer in ahead)


@pytest.mark.parametrize("chosen", [["wheel", "deb"], ["hardware", "omnibus"], ["omnibus"]])
def test_no_second_lane_unless_both_have_layers(chosen: list[str]) -> None:
    ahead, beside = lanes.split(measure.known(chosen))
    assert beside == [] and names(ahead) == names(measure.known(chosen))


def row(name: str, began: float, ended: float, error: str = "") -> Row:
    r = Row(layers.get(name), {"cold_build_s": [1.5]}, {"sbom": "x.cdx.json"}, error)
    r.began, r.ended = began, ended
    return r


def test_rows_go_from_one_process_to_the_other_whole(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    assert lanes.read_rows(path) == []  # nothing written yet
    lanes.write_rows([row("hardware", 10, 20), row("omnibus", 20, 30, "boom")], path)
    back = lanes.read_rows(path)
    assert [r.to_json() for r in back] == [
        row("hardware", 10, 20).to_json(),
        row("omnibus", 20, 30, "boom").to_json(),
    ]
    assert not path.with_suffix(".partial").exists()
    path.write_text("[{", encoding="utf-8")  # caught mid-write by an older writer
    assert lanes.read_rows(path) == []


def beside_of(rows: list[Row]) -> dict[str, str]:
    return {r.layer.name: r.facts["beside"] for r in rows}


def test_each_row_names_what_ran_beside_it() -> None:
    rows = [row("wheel", 0, 10), row("deb", 10, 20), row("hardware", 5, 15), row("pex", 30, 40)]
    rows.append(row("rpm", 0, 0, "never measured"))
    lanes.note_beside(rows)
    assert beside_of(rows) == {
        "wheel": "hardware",
        "deb": "hardware",
        "hardware": "wheel, deb",
        "pex": "nothing (alone)",
        "rpm": "nothing (alone)",
    }


def test_a_lane_that_ends_early_fails_the_rows_it_never_wrote(tmp_path: Path) -> None:
    rows_file, log = tmp_path / "rows.json", tmp_path / "lane.log"
    lanes.write_rows([row("hardware", 1, 2)], rows_file)
    log.write_text("mmdebstrap: killed\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    lane = lanes.Lane([layers.get("hardware"), layers.get("omnibus")], proc, rows_file, log)
    got = lane.finish()
    assert [r.layer.name for r in got] == ["hardware", "omnibus"]
    assert got[0].error == ""
    assert got[1].error == f"the second lane ended (exit 3) before measuring it — its log: {log}"


measured: list[str] = []


def fake_measure(
    settings: Settings, layer: layers.Layer, distro: str, runs: int, reproducible: bool
) -> Row:
    measured.append(layer.name)
    clock = {"wheel": (0, 10), "packer": (10, 20), "hardware": (0, 15), "omnibus": (15, 25)}
    return row(layer.name, *clock[layer.name])


def test_compare_measures_the_long_builds_in_a_second_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second lane is `kit compare --rows-to FILE` over the background layers; the
    report has every row along the gradient, each naming what ran beside it."""
    monkeypatch.setattr(measure, "measure", fake_measure)
    monkeypatch.setattr(doctor, "ensure", lambda: None)
    monkeypatch.setattr(compare, "OUT", tmp_path / "out")
    monkeypatch.setattr(lanes, "ROWS", tmp_path / "lane.json")
    monkeypatch.setattr(lanes, "LOG", tmp_path / "lane.log")
    started: list[list[str]] = []

    def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        """The lane's own command, run here in-process (its measure is the fake one)."""
        started.append(argv)
        measured.clear()
        rows_to = Path(argv[argv.index("--rows-to") + 1])
        done = CliRunner().invoke(cli.app, [*argv[1:-2], "--rows-to", str(rows_to)])
        assert done.exit_code == 0, done.output
        assert measured == ["hardware", "omnibus"]  # in the order given: its VM first
        log.write_text(done.output, encoding="utf-8")
        return subprocess.Popen([sys.executable, "-c", "pass"])

    monkeypatch.setattr(lanes.background, "spawn", spawn)
    written: list[list[Row]] = []
    real_write = report.write

    def write(rows: list[Row], *args: object) -> dict[str, Path]:
        written.append(list(rows))
        return real_write(rows, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(report, "write", write)
    result = CliRunner().invoke(cli.app, ["compare", "--layers", "packer,hardware,wheel,omnibus"])
    assert result.exit_code == 0, result.output
    (argv,) = started
    assert argv[1:4] == ["compare", "--layers", "hardware,omnibus"]
    final = written[-1]
    assert [r.layer.name for r in final] == ["wheel", "omnibus", "packer", "hardware"]
    assert beside_of(final) == {
        "wheel": "hardware",
        "packer": "omnibus, hardware",
        "hardware": "wheel, packer",
        "omnibus": "packer",
    }
    data = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert [entry["layer"] for entry in data["layers"]] == names([r.layer for r in final])


def test_alone_measures_one_layer_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []

    def one(settings: Settings, layer: layers.Layer, d: str, runs: int, rep: bool) -> Row:
        order.append(layer.name)
        return row(layer.name, len(order), len(order) + 1)

    monkeypatch.setattr(measure, "measure", one)
    monkeypatch.setattr(doctor, "ensure", lambda: None)
    monkeypatch.setattr(compare, "OUT", tmp_path / "out")
    monkeypatch.setattr(lanes, "start", lambda *a: pytest.fail("no second lane with --alone"))
    result = CliRunner().invoke(cli.app, ["compare", "--layers", "hardware,wheel", "--alone"])
    assert result.exit_code == 0, result.output
    assert order == ["wheel", "hardware"]
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "nothing (alone)" in md
