"""kit compare's pieces without a build: bad input stops before any work, the layers come
along the gradient, the report's cells and goal marks, and where two archives differ."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from kitcli import artifacts, compare, layers, measure, report
from kitcli.errors import KitError


@pytest.mark.parametrize(
    ("names", "runs", "message", "fix"),
    [
        (["wheel", "nope"], 1, "unknown layer nope", "--layers with any of"),
        (["wheel"], 0, "--runs 0", "--runs 1 or more"),
    ],
)
def test_bad_choices_stop_in_one_line(names: list[str], runs: int, message: str, fix: str) -> None:
    with pytest.raises(KitError) as err:
        compare.check_choice(names, runs)
    assert message in err.value.problem and fix in err.value.fix


def test_layers_come_along_the_gradient() -> None:
    order = [layer.name for layer in measure.known(["hardware", "wheel", "deb", "pex"])]
    assert order == ["wheel", "pex", "deb", "hardware"]
    assert all(layer.rung < 99 for layer in layers.discover().values())


def test_host_needs_follow_the_target() -> None:
    assert measure.host_needs(layers.get("wheel")) == "systemd + python3"
    assert measure.host_needs(layers.get("omnibus")) == "systemd (no python)"
    assert measure.host_needs(layers.get("docker")) == "a container engine"
    assert measure.host_needs(layers.get("packer")).startswith("a machine to boot it")


def test_cells_show_median_and_range_and_goal_misses() -> None:
    row = measure.Row(layers.get("wheel"))
    for cold, warm in ((10.0, 1.0), (12.0, 5.0), (11.0, 4.0)):
        row.add("cold_build_s", cold)
        row.add("warm_build_s", warm)
    assert report.cell(row, report.COLUMNS[2]) == "11.0 s (10.0 s-12.0 s)"
    assert report.misses(row) == ["rebuild 0.36x cold (goal <= 0.2x)"]
    row.runs["warm_build_s"] = [1.0, 2.0, 2.0]
    assert report.misses(row) == []


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def test_first_difference_names_the_member(tmp_path: Path) -> None:
    a = _zip(tmp_path / "a.whl", {"x/a.py": b"1", "x/b.py": b"2"})
    b = _zip(tmp_path / "b.whl", {"x/a.py": b"1", "x/b.py": b"3"})
    c = _zip(tmp_path / "c.whl", {"x/a.py": b"1"})
    assert artifacts.first_difference(a, b) == "x/b.py"
    assert artifacts.first_difference(a, c) == "x/b.py (only in the first build)"
    assert artifacts.members(a) is not None and len(artifacts.members(a) or {}) == 2
    img = tmp_path / "disk.img"
    img.write_bytes(b"\0" * 10)
    assert artifacts.members(img) is None
