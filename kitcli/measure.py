"""One layer's measurements for `kit compare`, every figure read from the real build and
install of this run: cold build, rebuild after a change, artifact size and file count,
SBOM, whether a second build of the same commit in another checkout gives the same bytes;
then on a fresh target: install time, installed size, start → first health 200, RSS and
a short load."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kitcli import artifacts, harness, images, layers
from kitcli.errors import KitError
from kitcli.layers import Layer
from kitcli.settings import ROOT, Settings
from kitcli.steps import console, run, step


@dataclass
class Row:
    """One layer's line of the report: numbers per run, facts, or the first error line."""

    layer: Layer
    runs: dict[str, list[float]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def add(self, metric: str, value: float) -> None:
        self.runs.setdefault(metric, []).append(value)


def host_needs(layer: Layer) -> str:
    """What a host must already provide for this layer's artifact, from its target."""
    if layer.target_kind == "vm":
        return "a machine to boot it (the image brings its kernel)"
    if layer.contract.get("supervisor") == "docker":
        return "a container engine"
    python = "python" in layer.target_image or "python3" in layer.target_packages
    return "systemd + python3" if python else "systemd (no python)"


def _timed_build(settings: Settings, layer: Layer, distro: str, version: str) -> float:
    """Build LAYER from an empty out dir; seconds taken."""
    out = harness.out_dir(layer, layer.build_distro(settings, distro), version, layer.target_arch)
    if out.exists():
        shutil.rmtree(out)
    harness.forget(layer, version)
    start = time.monotonic()
    harness.build(settings, layer, distro, version)
    return time.monotonic() - start


def measure_build(settings: Settings, layer: Layer, distro: str, row: Row) -> Path:
    """Cold build, then the warm rebuild after a change (the next version: kit.toml's
    [upgrade] next_files on top of the source, the version bumped); returns the out dir of
    this version's build, measured."""
    with step(f"{layer.name}: cold build"):
        row.add("cold_build_s", _timed_build(settings, layer, distro, settings.version))
    with step(f"{layer.name}: rebuild after a change (the next version)"):
        row.add("warm_build_s", _timed_build(settings, layer, distro, settings.next_version))
    out = harness.out_dir(
        layer, layer.build_distro(settings, distro), settings.version, layer.target_arch
    )
    image = out / "image.json"  # a container image lives in the engine, not in a file
    found = artifacts.main_artifacts(out)
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
    row = Row(layer)
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
            row.facts["reproducible"] = "not checked (--no-reproducible)"
    except (KitError, subprocess.CalledProcessError, OSError) as exc:
        row.error = first_line(exc)
    return row


def known(names: list[str]) -> list[Layer]:
    """The chosen layers, along the gradient (layer.rung); an unknown name stops here."""
    return sorted((layers.get(n) for n in names), key=lambda layer: (layer.rung, layer.name))


def _sh(instance: str, script: str) -> str:
    """A POSIX sh script inside the target container (no python there for some layers)."""
    done = subprocess.run(
        ["docker", "exec", instance, "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise KitError(
            f"on {instance}: `{script[:60]}…` exited {done.returncode}: "
            + done.stderr.strip()[:200],
            f"look at the target: docker exec -it {instance} bash",
        )
    return done.stdout.strip()


def _first_200_ms(url: str, start: float, fix: str) -> float:
    """Milliseconds from START (time.monotonic) to URL's first 200, polled every 10 ms."""
    deadline = start + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return (time.monotonic() - start) * 1000
        except OSError:
            time.sleep(0.01)
    raise KitError(f"{url} did not answer 200 within 120 s of a start", fix)


def _healthz_after_start(settings: Settings, instance: str, url: str) -> float:
    """Milliseconds from `systemctl start` to the first 200 on the health path (polled
    every 10 ms from this host through the published port)."""
    _sh(instance, f"systemctl stop {settings.name}")
    start = time.monotonic()
    _sh(instance, f"systemctl start --no-block {settings.name}")
    return _first_200_ms(url, start, "see the unit's journal")


def _container_start_ms(settings: Settings, instance: str) -> float:
    """Milliseconds from `docker start` of the stopped container to the first 200 on the
    health path (the engine's own start: namespaces, mounts, the interpreter, the app)."""
    run(["docker", "stop", instance], capture=True)
    start = time.monotonic()
    run(["docker", "start", instance], capture=True)
    url = _published(settings, instance) + settings.http["health"]  # may move on a start
    return _first_200_ms(url, start, f"read docker logs {instance}")


def _container_rss(instance: str) -> float:
    """Bytes resident in the container's processes (read from this host's /proc)."""
    pids = subprocess.run(
        ["docker", "top", instance, "-eo", "pid"], capture_output=True, text=True, check=True
    ).stdout.split()[1:]
    total = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) * 1024 if found else 0
    return float(total)


def _container_image(instance: str) -> tuple[float, int]:
    """The container's image: bytes in the engine's store, and its files (a FROM scratch
    image has no `find`: the container's filesystem read as docker exports it)."""
    image = subprocess.run(
        ["docker", "inspect", "-f", "{{.Image}}", instance],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    size = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with subprocess.Popen(["docker", "export", instance], stdout=subprocess.PIPE) as export:
        assert export.stdout is not None
        with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
            files = sum(1 for member in tar if member.isfile())
    if export.returncode != 0:
        raise KitError(f"docker export {instance} failed", f"docker logs {instance}")
    return float(size), files


def _published(settings: Settings, instance: str) -> str:
    """http://host:port where the engine publishes the service's port of INSTANCE now."""
    where = subprocess.run(
        ["docker", "port", instance, f"{settings.port}/tcp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    return f"http://{where}"


def _rss(settings: Settings, instance: str) -> float:
    """Bytes resident in the service's processes (every process of its unit's cgroup)."""
    kb = _sh(
        instance,
        "for p in /proc/[0-9]*; do grep -qs '/"
        + settings.name
        + ".service$' $p/cgroup && awk '/^VmRSS/ {print $2}' $p/status; done"
        " | awk '{s += $1} END {print s + 0}'",
    )
    return float(kb) * 1024


def _load(url: str, seconds: int) -> tuple[float, float]:
    """wrk against the health path: requests/s and p99 latency in ms."""
    done = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    )
    rps = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", done.stdout, re.M)
    if not rps or not p99:
        raise KitError(f"wrk printed no rate or p99: {done.stdout[:200]}", "check wrk's version")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rps.group(1)), float(p99.group(1)) * scale


def measure_target(settings: Settings, layer: Layer, distro: str, row: Row) -> None:
    """Install this version on a fresh local target (the layer's molecule scenario, under
    its own instance name), then measure: install time, start → first health 200, RSS,
    installed size, a short load. Container targets (systemd or the docker engine as the
    supervisor) so far; a VM target's row says it was not measured."""
    supervisor = layer.contract.get("supervisor")
    if layer.target_kind != "container" or supervisor not in ("systemd", "docker"):
        row.facts["target"] = "not measured yet (container targets so far)"
        return
    image = images.ensure(settings, layer.target_image, distro, layer.target_packages)
    env = harness.molecule_env(settings, layer, distro, image)
    instance = f"kit-compare-{layer.name}-{distro}"
    env |= {
        "KIT_INSTANCE": instance,
        "MOLECULE_EPHEMERAL_DIRECTORY": str(ROOT / ".kit" / "molecule-compare" / layer.scenario),
    }
    fix = f"run ./kit test {layer.name} to see the install fail under the contract"
    try:
        with step(f"{layer.name}: a fresh target ({image})"):
            run(
                harness.molecule("create", "-s", layer.scenario),
                cwd=harness.ANSIBLE,
                env=env,
                fix=fix,
            )
        with step(f"{layer.name}: install, network off (molecule converge)"):
            start = time.monotonic()
            run(
                harness.molecule("converge", "-s", layer.scenario),
                cwd=harness.ANSIBLE,
                env=env,
                fix=fix,
            )
            row.add("install_s", time.monotonic() - start)
        health = _published(settings, instance) + settings.http["health"]
        with step(f"{layer.name}: start → first {settings.http['health']}, RSS, size, load"):
            if supervisor == "docker":  # the instance is the service's own container
                row.add("start_ms", _container_start_ms(settings, instance))
                health = _published(settings, instance) + settings.http["health"]
                time.sleep(2)  # the workers settle before RSS is read
                row.add("rss_bytes", _container_rss(instance))
                size, files = _container_image(instance)
                row.add("installed_bytes", size)
                row.facts["installed_files"] = str(files)
            else:
                row.add("start_ms", _healthz_after_start(settings, instance, health))
                time.sleep(2)  # the workers settle before RSS is read
                row.add("rss_bytes", _rss(settings, instance))
                root = layer.contract_facts(settings)["install_root"]
                row.add("installed_bytes", float(_sh(instance, f"du -sb {root} | cut -f1")))
                row.facts["installed_files"] = _sh(instance, f"find {root} -type f | wc -l")
            rps, p99 = _load(health, 5)
            row.add("rps", rps)
            row.add("p99_ms", p99)
    finally:
        subprocess.run(
            harness.molecule("destroy", "-s", layer.scenario),
            cwd=harness.ANSIBLE,
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )
