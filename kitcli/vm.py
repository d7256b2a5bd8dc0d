"""A VM target: boot a disk image under qemu with a fresh SSH key (a cloud-init NoCloud
seed disk), reachable only through ports forwarded on 127.0.0.1, and shut it down again.

    .kit/vm/<instance>/
      overlay.qcow2   copy-on-write over the image under test (the image is never written)
      seed.img        vfat "CIDATA": user-data (the user + this run's public key), meta-data
      id_ed25519      this run's key; ssh_config names the VM as <instance>
      serial.log      the console (its tail is printed when the VM does not come up)
      instance.json   address, ports, user, key, accelerator (molecule and the contract read it)

User-mode networking with `restrict=on` is the VM's network-off: the guest reaches
nothing, the host reaches only the forwarded SSH and service ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kitcli.errors import KitError
from kitcli.settings import ROOT
from kitcli.steps import console, run, step

VMS = ROOT / ".kit" / "vm"
QEMU = "qemu-system-x86_64"
USER = "kit"  # the login the seed creates; key-only, passwordless sudo


@dataclass
class Instance:
    name: str
    directory: str
    address: str
    ssh_port: int
    service_port: int  # the host side of the service's forwarded port
    user: str
    identity_file: str
    ssh_config: str
    accel: str
    pid: int

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.service_port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require(tool: str, package: str) -> None:
    if not shutil.which(tool):
        raise KitError(f"{tool} not found", f"sudo ./kit doctor --fix (apt-get install {package})")


def probe_accel(image: Path, seconds: float = 12) -> str:
    """kvm if a short boot of IMAGE under KVM reaches its kernel, else tcg — with one line
    saying why. (The device existing proves nothing: on some hosts KVM guests hang.)"""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        console.print("  accelerator: tcg (no usable /dev/kvm)", markup=False)
        return "tcg"
    log = VMS / "accel-probe.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    argv = [
        QEMU, "-accel", "kvm", "-cpu", "host", "-m", "512", "-snapshot", "-display", "none",
        "-no-reboot", "-serial", f"file:{log}", "-drive", f"file={image},if=virtio",
        "-nic", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline, ok = time.monotonic() + seconds, False
    while time.monotonic() < deadline and proc.poll() is None:
        if "Linux version" in log.read_text(errors="replace"):
            ok = True
            break
        time.sleep(0.5)
    proc.kill()
    _, err = proc.communicate()
    if ok:
        console.print("  accelerator: kvm (a probe boot reached the kernel)", markup=False)
        return "kvm"
    why = err.strip().splitlines()[-1] if err.strip() else f"no kernel output in {seconds:.0f} s"
    console.print(f"  accelerator: tcg — KVM is present but unusable ({why})", markup=False)
    return "tcg"


def _seed(directory: Path, name: str, public_key: Path) -> Path:
    """A cloud-init NoCloud seed disk (lib/nocloud-seed.sh, which packer/ builds with too):
    one key-only user with passwordless sudo, no password anywhere."""
    seed = directory / "seed.img"
    run(
        ["bash", ROOT / "lib" / "nocloud-seed.sh", "--user", USER, "--pubkey", public_key,
         "--hostname", name, "--out", seed],
        capture=True,
        fix="sudo ./kit doctor --fix (dosfstools, mtools)",
    )  # fmt: skip
    return seed


def _ssh_ok(instance: Instance) -> bool:
    proc = subprocess.run(
        ["ssh", "-F", instance.ssh_config, instance.name, "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return proc.returncode == 0


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"


def up(name: str, image: Path, guest_port: int, *, accel: str = "", timeout: float = 240,
       memory: int = 1024) -> Instance:  # fmt: skip
    """Boot IMAGE as instance NAME; return once SSH answers with this run's key."""
    for tool, package in ((QEMU, "qemu-system-x86"), ("qemu-img", "qemu-utils"),
                          ("ssh", "openssh-client"), ("mkfs.vfat", "dosfstools"),
                          ("mcopy", "mtools")):  # fmt: skip
        _require(tool, package)
    if not image.is_file():
        raise KitError(f"no VM image at {image}", "build it first: ./kit build <layer>")
    down(name, quiet=True)
    directory = VMS / name
    directory.mkdir(parents=True)
    with step(f"boot {image.name} as {name}"):
        accel = accel or probe_accel(image)
        key = directory / "id_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kit@{name}", "-f", key],
            capture=True, fix="apt-get install openssh-client")  # fmt: skip
        seed = _seed(directory, name, directory / "id_ed25519.pub")
        overlay = directory / "overlay.qcow2"
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.resolve(),
             overlay], capture=True, fix="check the image with: qemu-img info IMAGE")  # fmt: skip
        ssh_port, service_port = _free_port(), _free_port()
        ssh_config = directory / "ssh_config"
        ssh_config.write_text(
            f"Host {name}\n  HostName 127.0.0.1\n  Port {ssh_port}\n  User {USER}\n"
            f"  IdentityFile {key}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 10\n"
            "  ServerAliveInterval 15\n  ControlMaster auto\n"
            "  ControlPath /tmp/kit-ssh-%C\n  ControlPersist 120\n"
        )
        net = (
            "user,id=n0,restrict=on,"
            f"hostfwd=tcp:127.0.0.1:{ssh_port}-:22,"
            f"hostfwd=tcp:127.0.0.1:{service_port}-:{guest_port}"
        )
        cpu = ["-cpu", "host"] if accel == "kvm" else []
        pidfile = directory / "qemu.pid"
        argv = [
            QEMU, "-accel", accel, *cpu, "-smp", "2", "-m", str(memory), "-display", "none",
            "-daemonize", "-pidfile", str(pidfile), "-serial", f"file:{directory / 'serial.log'}",
            "-drive", f"file={overlay},if=virtio,discard=unmap",
            "-drive", f"file={seed},if=virtio,format=raw,readonly=on",
            "-netdev", net, "-device", "virtio-net-pci,netdev=n0",
        ]  # fmt: skip
        run(argv, capture=True, fix="see the qemu error above")
        instance = Instance(
            name=name,
            directory=str(directory),
            address="127.0.0.1",
            ssh_port=ssh_port,
            service_port=service_port,
            user=USER,
            identity_file=str(key),
            ssh_config=str(ssh_config),
            accel=accel,
            pid=int(pidfile.read_text()),
        )
        (directory / "instance.json").write_text(json.dumps(asdict(instance), indent=2) + "\n")
        started, deadline = time.monotonic(), time.monotonic() + timeout
        while not _ssh_ok(instance):
            if not _alive(instance.pid):
                tail = _tail(directory / "serial.log")
                down(name, quiet=True)
                raise KitError(
                    f"qemu exited while booting {image.name}:\n{tail}",
                    "read the console above; check the image with qemu-img check",
                )
            if time.monotonic() > deadline:
                tail = _tail(directory / "serial.log")
                down(name, quiet=True)
                raise KitError(
                    f"{name}: no SSH login within {timeout:.0f} s ({accel}); console tail:\n{tail}",
                    "the image must run cloud-init's NoCloud datasource and sshd "
                    "(packer/README.md); a slow host: raise the layer's timeout_scale",
                )
            time.sleep(2)
        console.print(
            f"  ssh {instance.user}@127.0.0.1 -p {ssh_port} up after "
            f"{time.monotonic() - started:.0f} s; service port → 127.0.0.1:{service_port}",
            markup=False,
        )
    return instance


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def load(name: str) -> Instance:
    path = VMS / name / "instance.json"
    if not path.is_file():
        raise KitError(f"no VM named {name} is up", f"boot it: ./kit vm up {name}")
    return Instance(**json.loads(path.read_text()))


def down(name: str, quiet: bool = False) -> None:
    """Stop the VM (always: SIGTERM, then SIGKILL) and remove its directory."""
    directory = VMS / name
    pidfile = directory / "qemu.pid"
    if pidfile.is_file():
        pid = int(pidfile.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if not quiet:
            console.print(f"  stopped {name} (qemu pid {pid})", markup=False)
    shutil.rmtree(directory, ignore_errors=True)
