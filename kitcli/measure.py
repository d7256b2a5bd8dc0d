"""One layer's measurements for `kit compare`, every figure read from the real build and
install of this run: cold build, rebuild after a change, artifact size and file count,
SBOM, the patch cost of a base component, whether a second build of the same commit in
another checkout gives the same bytes; then on a fresh target (kitcli/measure_target.py):
install time, installed size, start → first health 200, RSS, a short load, the contract."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kitcli import artifacts, harness, layers
from kitcli.errors import KitError
from kitcli.layers import Layer
from kitcli.measure_target import measure_target
from kitcli.rows import Row
from kitcli.settings import ROOT, Settings
from kitcli.steps import console, run, step

__all__ = ["NOT_CHECKED", "Row", "host_needs", "known", "measure", "patch_path"]

# The second cold build of every layer does not fit the hour on 2 cores: a flag.
NOT_CHECKED = "not checked (kit compare --reproducible: a second build in another checkout)"


def host_needs(layer: Layer) -> str:
    """What a host must already provide for this layer's artifact, from its target."""
    if layer.target_kind == "vm":
        return "a machine to boot it (the image brings its kernel)"
    if layer.contract.get("supervisor") == "docker":
        return "a container engine"
    python = "python" in layer.target_image or "python3" in layer.target_packages
    return "systemd + python3" if python else "systemd (no python)"


def patch_path(layer: Layer) -> tuple[bool, str]:
    """When a base component changes (a Debian package of the base, or the CPython and
    OpenSSL an artifact embeds): must the artifact be rebuilt, and what does each host do?"""
    if layer.target_kind == "vm":
        return True, "new machines: the rebuilt image; running ones: apt upgrade + restart"
    if layer.contract.get("supervisor") == "docker":
        return True, "pull the rebuilt image, replace each container"
    if host_needs(layer).endswith("python3"):
        return False, "apt upgrade (the host's python3, libssl) + restart; no rebuild"
    return True, "install the rebuilt package on each host (it embeds CPython, OpenSSL)"


def _timed_build(settings: Settings, layer: Layer, distro: str, version: str) -> float:
    """Build LAYER (and what it needs) from empty out dirs; seconds taken."""
    out = harness.out_dir(layer, layer.build_distro(settings, distro), version, layer.target_arch)
    if out.exists():
        shutil.rmtree(out)
    harness.forget(layer, version)
    start = time.monotonic()
    harness.build(settings, layer, distro, version)
    return time.monotonic() - start


@contextlib.contextmanager
def _no_engine_cache() -> Iterator[None]:
    """KIT_NO_CACHE=1 for the builds inside: no container engine layer cache."""
    os.environ["KIT_NO_CACHE"] = "1"
    try:
        yield
    finally:
        del os.environ["KIT_NO_CACHE"]


def measure_build(settings: Settings, layer: Layer, distro: str, row: Row) -> Path:
    """The cold build — every cache empty, as on a fresh machine: a cache dir of this run's
    own (the root filesystems, the Omnibus components, the tools' caches) and no engine
    layer cache — then the rebuild after a change (the next version: kit.toml's [upgrade]
    next_files on top of the source, the version bumped) with what the cold build cached.
    Where a base component's patch (a Debian package of the base, the CPython and OpenSSL
    an artifact embeds) means a rebuild, that rebuild is this cold one: every base made
    again. Returns the out dir of this version's build, measured."""
    rebuild, hosts = patch_path(layer)
    row.facts["patch"] = hosts
    with tempfile.TemporaryDirectory(prefix="kit-compare-cache-", dir="/var/tmp") as tmp:
        fresh = dataclasses.replace(settings, cache_dir=Path(tmp))
        with step(f"{layer.name}: cold build (empty caches)"), _no_engine_cache():
            cold = _timed_build(fresh, layer, distro, settings.version)
        row.add("cold_build_s", cold)
        if rebuild:
            row.add("patch_s", cold)
        with step(f"{layer.name}: rebuild after a change (the next version)"):
            row.add("warm_build_s", _timed_build(fresh, layer, distro, settings.next_version))
    out = harness.out_dir(
        layer, layer.build_distro(settings, distro), settings.version, layer.target_arch
    )
    image = out / "image.json"  # a container image lives in the engine, not in a file
    found = artifacts.shipped(out)
    if image.is_file():
        built = json.loads(image.read_text())
        # What a registry stores and a host pulls: the build's `docker save | gzip` of it.
        row.add("artifact_bytes", float(built["compressed_bytes"]))
        row.facts["artifact"] = f"{built['image']} (image, {built['layers']} layers)"
    elif found:
        row.add("artifact_bytes", float(sum(p.stat().st_size for p in found)))
        counts = [artifacts.members(p) for p in found]
        if all(c is not None for c in counts):
            row.add("files", float(sum(len(c or {}) for c in counts)))
        row.facts["artifact"] = ", ".join(p.name for p in found)
    else:
        raise KitError(f"{layer.name}'s build left no artifact in {out}", "see its build above")
    row.facts["sbom"] = ", ".join(p.name for p in artifacts.sboms(out)) or "none"
    row.facts["host_needs"] = host_needs(layer)
    return out


def _checkout(into: Path) -> Path:
    """A second checkout of this commit (what git has: uncommitted edits are not in it),
    sharing this one's kit venv (the same lock)."""
    clone = into / "checkout"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)])
    (clone / ".kit").mkdir()
    (clone / ".kit" / "venv").symlink_to(ROOT / ".kit" / "venv")
    return clone


def measure_reproducible(
    settings: Settings, layer: Layer, distro: str, out: Path, row: Row
) -> None:
    """Build the same version again in another checkout directory and compare every
    artifact byte for byte; on a difference, name the first differing member."""
    with (
        step(f"{layer.name}: second build in another checkout (reproducible?)"),
        tempfile.TemporaryDirectory(prefix="kit-compare-") as tmp,
    ):
        clone = _checkout(Path(tmp))
        # The clone's kitcli with this checkout's venv (what ./kit runs, minus its lock
        # check: the venv is the one this run already uses).
        run(
            [sys.executable, "-m", "kitcli", "build", layer.name, "--distro", distro],
            cwd=clone,
            env={"PYTHONPATH": str(clone)},
            fix=f"the same build passed in {ROOT}: compare the two checkouts",
        )
        other = clone / out.relative_to(ROOT)
        verdicts = []
        if (out / "image.json").is_file():  # an image: the engine's content digest of it
            ids = [json.loads((d / "image.json").read_text())["id"] for d in (out, other)]
            if ids[0] != ids[1]:
                verdicts.append(f"the image: id {ids[0][:19]} here, {ids[1][:19]} there")
        elif not artifacts.main_artifacts(out):
            raise KitError(f"no artifact file in {out} to compare", "see the build above")
        for mine in artifacts.main_artifacts(out):
            theirs = other / mine.name
            if not theirs.is_file():
                verdicts.append(f"{mine.name}: not made by the second build")
            elif mine.read_bytes() != theirs.read_bytes():
                verdicts.append(
                    f"{mine.name}: differs at {artifacts.first_difference(mine, theirs)}"
                )
        row.facts["reproducible"] = "yes" if not verdicts else "no — " + "; ".join(verdicts)
        console.print(f"  reproducible: {row.facts['reproducible']}", markup=False)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def measure(settings: Settings, layer: Layer, distro: str, runs: int, reproducible: bool) -> Row:
    """Every run of one layer; a failure ends the row with its first error line."""
    row = Row(layer, began=time.time())
    start = time.monotonic()
    try:
        for n in range(1, runs + 1):
            with step(f"{layer.name}: run {n} of {runs}"):
                out = measure_build(settings, layer, distro, row)
        for n in range(1, runs + 1):
            with step(f"{layer.name}: on its target, run {n} of {runs}"):
                measure_target(settings, layer, distro, row)
        if reproducible:
            measure_reproducible(settings, layer, distro, out, row)
        else:
            row.facts["reproducible"] = NOT_CHECKED
    except (KitError, subprocess.CalledProcessError, OSError) as exc:
        row.error = first_line(exc)
    row.facts["measured_in"] = f"{time.monotonic() - start:.0f} s"
    row.ended = time.time()
    return row


def known(names: list[str]) -> list[Layer]:
    """The chosen layers, along the gradient (layer.rung); an unknown name stops here."""
    return sorted((layers.get(n) for n in names), key=lambda layer: (layer.rung, layer.name))
