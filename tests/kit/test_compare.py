"""kit compare's pieces without a build: bad input stops before any work, the layers come
along the gradient, the report's cells and goal marks, and where two archives differ."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from kitcli import artifacts, compare, harness, layers, measure, measure_target, report
from kitcli.errors import KitError
from kitcli.settings import Settings, load


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


def test_patch_path_follows_what_the_artifact_embeds() -> None:
    """A base component's fix: the host's apt upgrade where the host brings the Python,
    a rebuild where the artifact embeds it (Omnibus, the image, the disk images)."""
    assert measure.patch_path(layers.get("wheel")) == (
        False,
        "apt upgrade (the host's python3, libssl) + restart; no rebuild",
    )
    for name in ("omnibus", "docker", "packer", "hardware"):
        rebuild, hosts = measure.patch_path(layers.get(name))
        assert rebuild and hosts, name
    assert "replace each container" in measure.patch_path(layers.get("docker"))[1]


@pytest.mark.parametrize(("name", "patched"), [("wheel", False), ("omnibus", True)])
def test_cold_build_starts_from_empty_caches(
    name: str, patched: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cold build gets a cache dir of its own, empty, and no engine cache; the rebuild
    after a change reuses that cache; where a base's patch means a rebuild, its time is
    the cold build's; the cache dir is gone afterwards."""
    monkeypatch.setattr(harness, "DIST", tmp_path / "dist")
    monkeypatch.delenv("KIT_NO_CACHE", raising=False)
    seen: list[tuple[str, Path, list[str], str | None]] = []

    def fake_build(settings: Settings, layer: layers.Layer, distro: str, version: str) -> Path:
        cache = settings.cache_dir
        seen.append((version, cache, sorted(os.listdir(cache)), os.environ.get("KIT_NO_CACHE")))
        (cache / f"made-by-{version}").touch()
        out = harness.out_dir(layer, layer.build_distro(settings, distro), version, "amd64")
        out.mkdir(parents=True)
        with tarfile.open(out / f"{layer.name}-{version}.tar.gz", "w:gz") as tar:
            tar.add(__file__, arcname="member")
        return out

    monkeypatch.setattr(harness, "build", fake_build)
    monkeypatch.setattr(harness, "out_dir", lambda layer, d, v, arch: tmp_path / "dist" / v)
    settings = load()
    row = measure.Row(layers.get(name))
    measure.measure_build(settings, row.layer, settings.default_distro, row)
    (cold_v, cache, cold_saw, cold_env), (warm_v, warm_cache, warm_saw, warm_env) = seen
    assert (cold_v, warm_v) == (settings.version, settings.next_version)
    assert cache != settings.cache_dir and cache == warm_cache and not cache.exists()
    assert cold_saw == [] and cold_env == "1"
    assert warm_saw == [f"made-by-{settings.version}"] and warm_env is None
    assert "KIT_NO_CACHE" not in os.environ
    built = tmp_path / "dist" / settings.version / f"{name}-{settings.version}.tar.gz"
    assert row.runs["artifact_bytes"] == [built.stat().st_size] and row.runs["files"] == [1]
    assert ("patch_s" in row.runs) is patched
    if patched:
        assert row.runs["patch_s"] == row.runs["cold_build_s"]


def test_forget_takes_what_a_layer_needs_too() -> None:
    hardware, deb = layers.get("hardware"), layers.get("deb")
    harness._BUILT[("deb", "trixie", "9.9", "arm64")] = Path("/x")
    harness._BUILT[("hardware", "trixie", "9.9", "arm64")] = Path("/y")
    harness._BUILT[("deb", "trixie", "9.8", "arm64")] = Path("/z")
    try:
        harness.forget(hardware, "9.9")
        assert [k for k in harness._BUILT if k[2] == "9.9"] == []
        assert ("deb", "trixie", "9.8", "arm64") in harness._BUILT
        assert deb.name in hardware.needs
    finally:
        harness._BUILT.pop(("deb", "trixie", "9.8", "arm64"), None)


@pytest.mark.parametrize(
    ("output", "rc", "verdict"),
    [
        (
            "...\n=== 41 passed, 3 skipped in 80.12s (0:01:20) ===\n",
            0,
            "passed (41 passed, 3 skipped)",
        ),
        (
            "FAILED tests/contract/test_contract.py::test_runs_as_service_user[x] - assert\n"
            "=== 1 failed, 40 passed in 70.00s (0:01:10) ===\n",
            1,
            "failed (1 failed, 40 passed): first test_runs_as_service_user[x]",
        ),
        ("ERROR: usage\n", 4, "failed (no summary (exit 4)): first see `./kit test` for the layer"),
    ],
)
def test_contract_verdict_reads_pytest(output: str, rc: int, verdict: str) -> None:
    assert measure_target.contract_verdict(output, rc) == verdict


def test_cells_show_median_and_range_and_goal_misses() -> None:
    row = measure.Row(layers.get("wheel"))
    for cold, warm in ((10.0, 1.0), (12.0, 5.0), (11.0, 4.0)):
        row.add("cold_build_s", cold)
        row.add("warm_build_s", warm)
    assert (
        report.cell(row, next(c for c in report.COLUMNS if c.key == "cold_build_s"))
        == "11.0 s (10.0 s-12.0 s)"
    )
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


def test_update_readme_replaces_only_its_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    stale = f"{report.README_BEGIN}\nstale table\n{report.README_END}"
    readme.write_text(f"# kit\nbefore\n{stale}\nafter\n")
    row = measure.Row(layers.get("wheel"))
    row.add("artifact_bytes", 3_400_000.0)
    for _ in range(2):  # a second run replaces the first one's section
        report.update_readme(readme, [row], "Measured now.")
    text = readme.read_text()
    assert text.startswith("# kit\nbefore\n") and text.endswith(f"{report.README_END}\nafter\n")
    assert text.count("Measured now.") == 1 and "stale table" not in text
    assert "| `wheel` | 3.4 MB |" in text
    assert "x-axis [wheel]" in text and "bar [3.4]" in text


@pytest.mark.parametrize(
    "page", ["# no markers\n", f"{report.README_END}\n{report.README_BEGIN}\n"]
)
def test_update_readme_needs_its_markers(tmp_path: Path, page: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(page)
    with pytest.raises(KitError) as err:
        report.readme_parts(readme)
    assert "--update-readme" in err.value.fix or "swap" in err.value.fix
    assert readme.read_text() == page


def test_the_size_is_what_a_host_downloads(tmp_path: Path) -> None:
    """An uncompressed copy beside its compressed twin (the Pi image's .img, booted by
    the test, beside the .img.xz that is flashed) is not counted; a lone file is."""
    for name, size in (("pi.img", 1000), ("pi.img.xz", 200), ("pi.sha256", 90), ("vm.qcow2", 50)):
        (tmp_path / name).write_bytes(b"x" * size)
    assert [p.name for p in artifacts.shipped(tmp_path)] == ["pi.img.xz", "vm.qcow2"]
    assert "pi.img" in [p.name for p in artifacts.main_artifacts(tmp_path)]
