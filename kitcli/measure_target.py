"""One layer measured on a fresh target for `kit compare`: installed with the network off
(or, for a disk image, booted), then start → first health 200, RSS, installed size and
files, a short load, and the contract's result against that same target.

Three kinds of target, reached the way the contract reaches them:
  systemd container  molecule's docker driver; `docker exec`; the unit's cgroup
  docker supervisor  the service's own container; the engine starts and stops it
  VM (disk image)    kit vm up (qemu) through the layer's scenario; ssh + sudo"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tarfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kitcli import harness, images, vm
from kitcli.errors import KitError
from kitcli.layers import Layer
from kitcli.rows import Row
from kitcli.settings import ROOT, Settings
from kitcli.steps import console, run, step

LOAD_SECONDS = 5


@dataclass(frozen=True)
class Reach:
    """A shell on the target as root, and testinfra's --hosts spec for the contract."""

    name: str
    shell: tuple[str, ...]  # the script is appended (quoted for ssh, which joins words)
    quote: bool
    login: str  # how a person gets a shell there
    hosts: str
    hosts_args: tuple[str, ...] = ()

    def sh(self, script: str) -> str:
        """A POSIX sh script (no python there for some layers); its stdout."""
        argv = [*self.shell, shlex.quote(script) if self.quote else script]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KitError(
                f"on {self.name}: `{script[:60]}…` exited {done.returncode}: "
                + done.stderr.strip()[:200],
                f"look at the target: {self.login}",
            )
        return done.stdout.strip()


def container(instance: str, as_root: bool = False) -> Reach:
    user = "root@" if as_root else ""  # a docker-supervised image's USER is the service's
    return Reach(
        instance,
        ("docker", "exec", "-u", "0", instance, "sh", "-c"),
        False,
        f"docker exec -it {instance} bash",
        f"docker://{user}{instance}",
    )


def machine(box: vm.Instance) -> Reach:
    ssh = ("ssh", "-F", box.ssh_config, box.name)
    return Reach(
        box.name,
        (*ssh, "sudo", "sh", "-c"),
        True,
        shlex.join(ssh),
        f"ssh://{box.name}",
        (f"--ssh-config={box.ssh_config}", "--sudo", f"--kit-endpoint={box.endpoint}"),
    )


def first_200_ms(url: str, start: float, fix: str, within: float = 120) -> float:
    """Milliseconds from START (time.monotonic) to URL's first 200, polled every 10 ms."""
    deadline = start + within
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return (time.monotonic() - start) * 1000
        except OSError:
            time.sleep(0.01)
    raise KitError(f"{url} did not answer 200 within {within:.0f} s of a start", fix)


def unit_start_ms(settings: Settings, reach: Reach, url: str) -> float:
    """Milliseconds from `systemctl start` to the first 200 on the health path (polled
    every 10 ms from this host through the forwarded or published port)."""
    reach.sh(f"systemctl stop {settings.name}")
    start = time.monotonic()
    reach.sh(f"systemctl start --no-block {settings.name}")
    return first_200_ms(url, start, f"see the unit's journal on {reach.name}")


def unit_rss(settings: Settings, reach: Reach) -> float:
    """Bytes resident in the service's processes (every process of its unit's cgroup)."""
    kb = reach.sh(
        "for p in /proc/[0-9]*; do grep -qs '/"
        + settings.name
        + ".service$' $p/cgroup && awk '/^VmRSS/ {print $2}' $p/status; done"
        " | awk '{s += $1} END {print s + 0}'"
    )
    return float(kb) * 1024


def published(settings: Settings, instance: str) -> str:
    """http://host:port where the engine publishes the service's port of INSTANCE now."""
    where = subprocess.run(
        ["docker", "port", instance, f"{settings.port}/tcp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    return f"http://{where}"


def engine_start_ms(settings: Settings, instance: str) -> float:
    """Milliseconds from `docker start` of the stopped container to the first 200 on the
    health path (the engine's own start: namespaces, mounts, the interpreter, the app)."""
    run(["docker", "stop", instance], capture=True)
    start = time.monotonic()
    run(["docker", "start", instance], capture=True)
    url = published(settings, instance) + settings.http["health"]  # may move on a start
    return first_200_ms(url, start, f"read docker logs {instance}")


def engine_rss(instance: str) -> float:
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


def engine_image(instance: str) -> tuple[float, int]:
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


def load(url: str, seconds: int = LOAD_SECONDS) -> tuple[float, float]:
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


def contract_verdict(output: str, rc: int) -> str:
    """The contract's result in one line, from pytest's output: its summary ("41 passed,
    2 skipped"), and on a failure the first failed check."""
    summary = re.findall(r"^=+ (.*? in [\d.]+s.*?) =+$", output, re.M)
    counts = re.sub(r" in [\d.]+s.*", "", summary[-1]) if summary else f"no summary (exit {rc})"
    if rc == 0:
        return f"passed ({counts})"
    failed = re.search(r"^FAILED (\S+)", output, re.M)
    first = failed.group(1).split("::")[-1] if failed else "see `./kit test` for the layer"
    return f"failed ({counts}): first {first}"


def contract(reach: Reach, env: dict[str, str]) -> str:
    """tests/contract against the measured target (the tier's bounds: KIT_UPGRADE and the
    drill trials come from the environment, as under ./kit test)."""
    argv = [
        str(harness.VENV_BIN / "python"),
        "-m",
        "pytest",
        "tests/contract",
        f"--hosts={reach.hosts}",
        *reach.hosts_args,
        f"--kit-vars={env['KIT_VARS']}",
        "-p",
        "no:cacheprovider",
        "-rf",
        "--color=no",
    ]
    with step(f"the contract against {reach.name}"):
        done = run(argv, cwd=ROOT, env=env, capture=True, check=False)
        verdict = contract_verdict(done.stdout, done.returncode)
        console.print(f"  contract: {verdict}", markup=False)
    return verdict


def _scenario(settings: Settings, layer: Layer, distro: str, image: str) -> dict[str, str]:
    env = harness.molecule_env(settings, layer, distro, image)
    return env | {
        "KIT_INSTANCE": f"kit-compare-{layer.name}-{distro}",
        "MOLECULE_EPHEMERAL_DIRECTORY": str(ROOT / ".kit" / "molecule-compare" / layer.scenario),
    }


def _molecule(action: str, layer: Layer, env: dict[str, str]) -> None:
    run(
        harness.molecule(action, "-s", layer.scenario),
        cwd=harness.ANSIBLE,
        env=env,
        fix=f"run ./kit test {layer.name} to see the install fail under the contract",
    )


def _on_container(settings: Settings, layer: Layer, distro: str, row: Row) -> None:
    image = images.ensure(settings, layer.target_image, distro, layer.target_packages)
    env = _scenario(settings, layer, distro, image)
    instance = env["KIT_INSTANCE"]
    engine = layer.contract.get("supervisor") == "docker"  # the service's own container
    try:
        with step(f"{layer.name}: a fresh target ({image})"):
            _molecule("create", layer, env)
        with step(f"{layer.name}: install, network off (molecule converge)"):
            start = time.monotonic()
            _molecule("converge", layer, env)
            row.add("install_s", time.monotonic() - start)
        reach = container(instance, as_root=engine)
        row.facts["target"] = "the docker engine" if engine else f"systemd container {image}"
        with step(f"{layer.name}: start → first {settings.http['health']}, RSS, size, load"):
            if engine:
                row.add("start_ms", engine_start_ms(settings, instance))
                time.sleep(2)  # the workers settle before RSS is read
                row.add("rss_bytes", engine_rss(instance))
                size, files = engine_image(instance)
                row.add("installed_bytes", size)
                row.facts["installed_files"] = str(files)
            else:
                url = published(settings, instance) + settings.http["health"]
                row.add("start_ms", unit_start_ms(settings, reach, url))
                time.sleep(2)
                row.add("rss_bytes", unit_rss(settings, reach))
                root = layer.contract_facts(settings)["install_root"]
                row.add("installed_bytes", float(reach.sh(f"du -sb {root} | cut -f1")))
                row.facts["installed_files"] = reach.sh(f"find {root} -type f | wc -l")
            rps, p99 = load(published(settings, instance) + settings.http["health"])
            row.add("rps", rps)
            row.add("p99_ms", p99)
        row.facts["contract"] = contract(reach, env)
    finally:
        _destroy(layer, env)


def _on_vm(settings: Settings, layer: Layer, distro: str, row: Row) -> None:
    """A disk image's "install" is a machine made from it: boot → first health 200 (the
    service is baked in); installed = the whole root filesystem the image brings."""
    env = _scenario(settings, layer, distro, harness.vm_image(layer, distro, settings.version))
    with vm.one_at_a_time(f"{layer.name} (kit compare)"):  # emulated VMs take turns
        _measure_vm(settings, layer, row, env)


def _measure_vm(settings: Settings, layer: Layer, row: Row, env: dict[str, str]) -> None:
    try:
        with step(f"{layer.name}: boot the image → first {settings.http['health']}"):
            start = time.monotonic()
            _molecule("create", layer, env)
            box = vm.load(env["KIT_INSTANCE"])
            url = f"http://{box.endpoint}{settings.http['health']}"
            booted = first_200_ms(url, start, f"read {box.directory}/serial.log", within=600)
            row.add("install_s", booted / 1000)
            row.facts["target"] = f"qemu ({box.accel}): install = boot → first health 200"
        reach = machine(box)
        with step(f"{layer.name}: start → first {settings.http['health']}, RSS, size, load"):
            row.add("start_ms", unit_start_ms(settings, reach, url))
            time.sleep(2)
            row.add("rss_bytes", unit_rss(settings, reach))
            row.add("installed_bytes", float(reach.sh("df -B1 --output=used / | tail -n 1")))
            row.facts["installed_files"] = reach.sh("find / -xdev -type f | wc -l")
            rps, p99 = load(url)
            row.add("rps", rps)
            row.add("p99_ms", p99)
        row.facts["contract"] = contract(reach, env)
    finally:
        _destroy(layer, env)


def _destroy(layer: Layer, env: dict[str, str]) -> None:
    subprocess.run(
        harness.molecule("destroy", "-s", layer.scenario),
        cwd=harness.ANSIBLE,
        env={**os.environ, **env},
        capture_output=True,
        check=False,
    )


def measure_target(settings: Settings, layer: Layer, distro: str, row: Row) -> None:
    """Install this version on a fresh local target (the layer's molecule scenario, under
    its own instance name kit-compare-<layer>-<distro>), measure it, run the contract."""
    runner = {"container": _on_container, "vm": _on_vm}.get(layer.target_kind)
    if runner is None:
        row.facts["target"] = f"not measured: no runner for target.kind {layer.target_kind!r}"
        return
    runner(settings, layer, distro, row)
