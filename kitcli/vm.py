"""A VM target: boot a disk image under qemu with a fresh SSH key, reachable only through
ports forwarded on 127.0.0.1, and shut it down again.

Two machines (layer.toml `target.machine`): `pc` boots a PC disk (its own boot loader)
under qemu-system-x86_64; `arm64-virt` boots an arm64 image (the Pi's) on qemu's generic
arm64 board with the kernel, initrd and command line read from the image's own FAT boot
partition. Two ways in (`target.seed`): `nocloud`, a cloud-init seed disk, or
`firstboot`, a firstboot.toml written onto the image's boot partition — the file a user
puts on a flashed SD card.

    .kit/vm/<instance>/
      overlay.qcow2   copy-on-write over the image under test (nocloud; never written)
      disk.img        a sparse copy of a raw image, grown by --grow-mib (firstboot: the
                      seed goes into its boot partition, the card is "bigger" than the image)
      seed.img        vfat "CIDATA": user-data (the user + this run's public key), meta-data
      boot/           vmlinuz, initrd.img, cmdline.txt from the boot partition (arm64-virt)
      id_ed25519      this run's key; ssh_config names the VM as <instance>
      serial.log      the console (its tail is printed when the VM does not come up)
      instance.json   address, ports, user, key, accelerator (molecule and the contract read it)

User-mode networking with `restrict=on` is the VM's network-off: the guest reaches
nothing, the host reaches only the forwarded SSH and service ports."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kitcli.errors import KitError
from kitcli.settings import ROOT
from kitcli.steps import console, run, step

VMS = ROOT / ".kit" / "vm"
QEMU = "qemu-system-x86_64"
USER = "kit"  # the login the seed creates; key-only, passwordless sudo
SMP = os.environ.get("KIT_VM_SMP", "2")  # vCPUs of a VM (the kit's CI machines have 2 cores)


@dataclass(frozen=True)
class Machine:
    qemu: str
    package: str  # the Debian package of qemu
    host_cpu: str  # platform.machine() of a host whose KVM can run it
    board: tuple[str, ...]  # qemu options of the board and CPU under TCG
    console: str  # the guest's serial console device


MACHINES = {
    "pc": Machine(QEMU, "qemu-system-x86", "x86_64", (), "ttyS0"),
    "arm64-virt": Machine(
        "qemu-system-aarch64", "qemu-system-arm", "aarch64",
        ("-M", "virt", "-cpu", "cortex-a72"), "ttyAMA0",
    ),
}  # fmt: skip
SEEDS = ("nocloud", "firstboot")


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


@contextmanager
def one_at_a_time(what: str) -> Iterator[None]:
    """Hold the kit's VM test lock for WHAT: `kit test` runs a background layer's test
    beside the others, and two emulated VMs (TCG, two vCPUs each) on a two-core machine
    slow each other past their timeouts. A second caller waits, saying so."""
    VMS.mkdir(parents=True, exist_ok=True)
    with (VMS / ".test.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with step(f"{what}: waiting for the other VM test to end (one emulated VM at a time)"):
                fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require(tool: str, package: str) -> None:
    if not shutil.which(tool):
        raise KitError(f"{tool} not found", f"sudo ./kit doctor --fix (apt-get install {package})")


def probe_accel(image: Path, seconds: float = 12, machine: str = "pc") -> str:
    """kvm if a short boot of IMAGE under KVM reaches its kernel, else tcg — with one line
    saying why. (The device existing proves nothing: on some hosts KVM guests hang.)"""
    if MACHINES[machine].host_cpu != platform.machine():
        console.print(
            f"  accelerator: tcg (a {MACHINES[machine].host_cpu} guest on a "
            f"{platform.machine()} host: emulated)",
            markup=False,
        )
        return "tcg"
    if machine != "pc":  # the probe boots a PC disk; other boards go straight to TCG
        console.print(f"  accelerator: tcg (no KVM probe for {machine} yet)", markup=False)
        return "tcg"
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


def _fat_offset(disk: Path) -> int:
    """Byte offset of the image's first partition (the FAT boot partition of a Pi image)."""
    proc = subprocess.run(["sfdisk", "-J", disk], capture_output=True, text=True, check=False)
    try:
        table = json.loads(proc.stdout)["partitiontable"]
        start = int(table["partitions"][0]["start"])
        sector = int(table.get("sectorsize", 512))
    except (ValueError, KeyError, IndexError):
        raise KitError(
            f"{disk} has no partition table with a first (boot) partition",
            "boot a partitioned raw image (the hardware layer's .img), not a bare filesystem",
        ) from None
    return start * sector


FIRSTBOOT = """# written by kit vm up @HOSTNAME@
hostname = "@HOSTNAME@"
user = "@USER@"
ssh_authorized_keys = ["@KEY@"]
"""


def _firstboot(
    directory: Path, name: str, disk: Path, public_key: Path, template: Path | None = None
) -> Path:
    """The Pi image's own first-boot file, as a user writes it onto a flashed card: the
    hostname, a key-only user with passwordless sudo, this run's public key
    (hardware/firstboot/README.md documents every key). TEMPLATE replaces the
    default text; @HOSTNAME@, @USER@ and @KEY@ in it are filled in."""
    key = public_key.read_text().strip()
    text = template.read_text() if template else FIRSTBOOT
    toml = directory / "firstboot.toml"
    toml.write_text(text.replace("@HOSTNAME@", name).replace("@USER@", USER).replace("@KEY@", key))
    run(
        ["mcopy", "-o", "-i", f"{disk}@@{_fat_offset(disk)}", toml, "::firstboot.toml"],
        capture=True,
        fix="apt-get install mtools; the image's first partition must be FAT",
    )
    return toml


def _boot_files(directory: Path, disk: Path, console_dev: str) -> tuple[Path, Path, str]:
    """The kernel and initrd that the Pi's firmware would load — named by config.txt's
    `kernel=` and `initramfs` lines on the image's boot partition — and cmdline.txt, the
    console pointed at qemu's serial port."""
    boot = directory / "boot"
    boot.mkdir()
    image = f"{disk}@@{_fat_offset(disk)}"

    def fetch(name: str) -> Path:
        run(
            ["mcopy", "-n", "-i", image, f"::{name}", boot / name],
            capture=True,
            fix=f"the image's boot partition must hold {name} (raspi-firmware's hooks write it)",
        )
        return boot / name

    kernel, initrd = _firmware_config(fetch("config.txt").read_text())
    words = fetch("cmdline.txt").read_text().split()
    kept = [w for w in words if not w.startswith("console=")]
    return fetch(kernel), fetch(initrd), " ".join([*kept, f"console={console_dev}"])


def _firmware_config(text: str) -> tuple[str, str]:
    """(kernel, initramfs) file names from a Raspberry Pi config.txt."""
    kernel, initrd = "", ""
    for line in text.splitlines():
        words = line.split("#", 1)[0].replace("=", " ", 1).split()
        if len(words) >= 2 and words[0] == "kernel":
            kernel = words[1]
        elif len(words) >= 2 and words[0] == "initramfs":
            initrd = words[1]
    if not kernel or not initrd:
        raise KitError(
            "config.txt on the image's boot partition names no kernel= or no initramfs",
            "the image's raspi-firmware hooks write both (hardware/steps/10-rootfs.sh)",
        )
    return kernel, initrd


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
       memory: int = 1024, machine: str = "pc", seed: str = "nocloud",
       grow_mib: int = 0, firstboot: Path | None = None) -> Instance:  # fmt: skip
    """Boot IMAGE as instance NAME; return once SSH answers with this run's key."""
    if machine not in MACHINES:
        raise KitError(f"machine {machine!r} is unknown", f"use one of {', '.join(MACHINES)}")
    if seed not in SEEDS:
        raise KitError(f"seed {seed!r} is unknown", f"use one of {', '.join(SEEDS)}")
    board = MACHINES[machine]
    for tool, package in ((board.qemu, board.package), ("qemu-img", "qemu-utils"),
                          ("ssh", "openssh-client"), ("mkfs.vfat", "dosfstools"),
                          ("mcopy", "mtools"), ("sfdisk", "fdisk")):  # fmt: skip
        _require(tool, package)
    if not image.is_file():
        raise KitError(f"no VM image at {image}", "build it first: ./kit build <layer>")
    if firstboot and (seed != "firstboot" or not firstboot.is_file()):
        raise KitError(
            f"--firstboot {firstboot}: needs --seed firstboot and an existing file",
            "pass a firstboot.toml (see hardware/firstboot/firstboot.toml.example)",
        )
    raw = seed == "firstboot" or machine != "pc"
    if raw and image.suffix != ".img":
        raise KitError(
            f"{image.name}: machine {machine} with seed {seed} boots a raw partitioned .img",
            "pass the layer's .img (the hardware layer writes one beside its .img.xz)",
        )
    if not SMP.isdigit() or int(SMP) < 1:
        raise KitError(f"KIT_VM_SMP={SMP!r} is not a number of vCPUs", "unset it or set e.g. 2")
    accel = accel or probe_accel(image, machine=machine)
    for attempt in range(1, BOOT_ATTEMPTS + 1):
        try:
            return _boot(name, image, guest_port, accel=accel, timeout=timeout, memory=memory,
                         machine=machine, seed=seed, grow_mib=grow_mib, firstboot=firstboot,
                         raw=raw, attempt=attempt)  # fmt: skip
        except GuestPanic as panic:
            if attempt == BOOT_ATTEMPTS:
                raise KitError(
                    f"{name}: the guest kernel panicked on all {BOOT_ATTEMPTS} boots "
                    f"({accel}); console tail:\n{panic.tail}",
                    "a panic on every boot is the image's (read the console above); "
                    "under tcg try fewer vCPUs: KIT_VM_SMP=1",
                ) from None
            console.print(
                f"  {name}: the guest kernel panicked during boot {attempt} of {BOOT_ATTEMPTS} "
                f"({accel}; a known fault of qemu's multi-threaded emulation, not of the "
                "image) — booting again",
                markup=False,
            )
    raise AssertionError("unreachable")


class GuestPanic(Exception):
    """The guest kernel panicked while booting (its console said so)."""

    def __init__(self, tail: str) -> None:
        super().__init__("kernel panic")
        self.tail = tail


# Boots tried when the guest kernel panics while booting: qemu's multi-threaded TCG (SMP
# guests without KVM) now and then leaves a stale int3 from the kernel's boot-time code
# patching (an "Oops: int3" → "Kernel panic" in the console); the same image then boots.
BOOT_ATTEMPTS = 3
PANIC = "Kernel panic - not syncing"


def _panicked(serial: Path) -> bool:
    try:
        return PANIC in serial.read_text(errors="replace")
    except OSError:
        return False


def _boot(name: str, image: Path, guest_port: int, *, accel: str, timeout: float, memory: int,
          machine: str, seed: str, grow_mib: int, firstboot: Path | None, raw: bool,
          attempt: int) -> Instance:  # fmt: skip
    """One boot of IMAGE as NAME from a fresh disk; GuestPanic when its kernel panics."""
    board = MACHINES[machine]
    down(name, quiet=True)
    directory = VMS / name
    directory.mkdir(parents=True)
    again = f", boot {attempt} of {BOOT_ATTEMPTS}" if attempt > 1 else ""
    with step(f"boot {image.name} as {name} ({machine}, {seed}{again})"):
        key = directory / "id_ed25519"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kit@{name}", "-f", key],
            capture=True, fix="apt-get install openssh-client")  # fmt: skip
        drives: list[str] = []
        kernel: list[str] = []
        if raw:
            disk = directory / "disk.img"
            run(["cp", "--sparse=always", image.resolve(), disk], capture=True,
                fix=f"free disk space under {VMS}")  # fmt: skip
            if grow_mib:  # a card bigger than the image: the first boot grows the root
                with disk.open("r+b") as f:
                    f.truncate(disk.stat().st_size + grow_mib * 1024 * 1024)
            drives += ["-drive", f"file={disk},if=virtio,format=raw,discard=unmap"]
        else:
            disk = directory / "overlay.qcow2"
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                 image.resolve(), disk], capture=True,
                fix="check the image with: qemu-img info IMAGE")  # fmt: skip
            drives += ["-drive", f"file={disk},if=virtio,discard=unmap"]
        if seed == "nocloud":
            drives += ["-drive", f"file={_seed(directory, name, key.with_suffix('.pub'))},"
                       "if=virtio,format=raw,readonly=on"]  # fmt: skip
        else:
            _firstboot(directory, name, disk, key.with_suffix(".pub"), firstboot)
        if machine != "pc":
            vmlinuz, initrd, cmdline = _boot_files(directory, disk, board.console)
            kernel = ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", cmdline]
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
        pidfile, serial = directory / "qemu.pid", directory / "serial.log"
        argv = [
            board.qemu, *board.board, "-accel", accel, *cpu, "-smp", SMP, "-m", str(memory),
            "-display", "none", "-daemonize", "-pidfile", str(pidfile),
            "-serial", f"file:{serial}", *kernel, *drives,
            "-netdev", net, "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-rng-pci",
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
            if _panicked(serial):
                tail = _tail(serial)
                down(name, quiet=True)
                raise GuestPanic(tail)
            if not _alive(instance.pid):
                tail = _tail(serial)
                down(name, quiet=True)
                raise KitError(
                    f"qemu exited while booting {image.name}:\n{tail}",
                    "read the console above; check the image with qemu-img check",
                )
            if time.monotonic() > deadline:
                tail = _tail(serial)
                down(name, quiet=True)
                raise KitError(
                    f"{name}: no SSH login within {timeout:.0f} s ({accel}); console tail:\n{tail}",
                    f"the image must read the {seed} seed and start sshd "
                    "(packer/README.md, hardware/README.md); a slow host: raise the "
                    "layer's timeout_scale",
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
