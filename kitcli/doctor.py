"""Host prerequisites: check each, print the exact fix, and (with --fix) apply it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from kitcli.errors import KitError
from kitcli.steps import console, run, step

BINFMT = Path("/proc/sys/fs/binfmt_misc")
DOCKERD_LOG = Path("/var/log/kit-dockerd.log")


def _has(cmd: str) -> Callable[[], bool]:
    return lambda: shutil.which(cmd) is not None


def docker_running() -> bool:
    if shutil.which("docker") is None:
        return False
    proc = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return proc.returncode == 0


def _binfmt_arm64() -> bool:
    entry = BINFMT / "qemu-aarch64"
    return entry.exists() and entry.read_text().startswith("enabled")


def require_arch(arch: str) -> None:
    """Stop before any work when ARCH's programs cannot run here (binfmt, the classic
    breakage of foreign-architecture builds; kernel-wide, so in a container it is the
    host's entry that counts)."""
    if arch == "arm64" and not _binfmt_arm64():
        raise KitError(
            "this host cannot run arm64 programs (binfmt entry qemu-aarch64 missing or disabled)",
            "sudo ./kit doctor --fix (qemu-user-static, binfmt-support; inside a container "
            "enable it on the host)",
        )


def require_docker() -> None:
    """Stop with the fix, not a traceback, when the engine is not there."""
    if not docker_running():
        raise KitError(
            "the docker engine is not running (or not installed)",
            "run `sudo ./kit doctor --fix`, or start dockerd yourself",
        )


@dataclass(frozen=True)
class Prereq:
    name: str
    needed_for: str
    present: Callable[[], bool]
    apt: tuple[str, ...]  # Debian packages that provide it
    fix: str  # the exact command a user runs

    def check(self) -> bool:
        try:
            return self.present()
        except (OSError, subprocess.SubprocessError):
            return False


PREREQS: tuple[Prereq, ...] = (
    Prereq(
        "docker engine (running)",
        "every container target, `kit images`",
        docker_running,
        ("docker.io",),
        f"apt-get install -y docker.io && (dockerd >{DOCKERD_LOG} 2>&1 &)",
    ),
    Prereq(
        "mmdebstrap",
        "`kit images`, VM and Pi images",
        _has("mmdebstrap"),
        ("mmdebstrap",),
        "apt-get install -y mmdebstrap",
    ),
    Prereq(
        "qemu-system-x86_64",
        "packer VM image (TCG)",
        _has("qemu-system-x86_64"),
        ("qemu-system-x86", "qemu-utils"),
        "apt-get install -y qemu-system-x86 qemu-utils",
    ),
    Prereq(
        "sfdisk + partx + mkfs.ext4",
        "packer/ base disk image (partitioned, bootable)",
        lambda: bool(
            shutil.which("sfdisk") and shutil.which("partx") and shutil.which("mkfs.ext4")
        ),
        ("fdisk", "util-linux", "e2fsprogs"),
        "apt-get install -y fdisk util-linux e2fsprogs",
    ),
    Prereq(
        "mkfs.vfat + mcopy",
        "VM seed disks (cloud-init NoCloud), the Pi image's boot partition",
        lambda: bool(shutil.which("mkfs.vfat") and shutil.which("mcopy")),
        ("dosfstools", "mtools"),
        "apt-get install -y dosfstools mtools",
    ),
    Prereq(
        "ssh + ssh-keygen",
        "VM targets (the contract runs over SSH)",
        lambda: bool(shutil.which("ssh") and shutil.which("ssh-keygen")),
        ("openssh-client",),
        "apt-get install -y openssh-client",
    ),
    Prereq(
        "qemu-system-aarch64",
        "booting the Pi image",
        _has("qemu-system-aarch64"),
        ("qemu-system-arm",),
        "apt-get install -y qemu-system-arm",
    ),
    Prereq(
        "qemu-user-static + arm64 binfmt + arch-test",
        "building arm64 (Pi) images and packages (mmdebstrap needs arch-test for a foreign arch)",
        lambda: _binfmt_arm64() and shutil.which("arch-test") is not None,
        ("qemu-user-static", "binfmt-support", "arch-test"),
        "apt-get install -y qemu-user-static binfmt-support arch-test && "
        "(mountpoint -q /proc/sys/fs/binfmt_misc || "
        "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc) && "
        "update-binfmts --enable qemu-aarch64",
    ),
    Prereq(
        "dh-virtualenv",
        "deb/ (inside the build container; also handy on the host)",
        _has("dh_virtualenv"),
        ("dh-virtualenv",),
        "apt-get install -y dh-virtualenv",
    ),
    Prereq(
        "rpm + rpmbuild",
        "rpm/",
        lambda: bool(shutil.which("rpm") and shutil.which("rpmbuild")),
        ("rpm",),
        "apt-get install -y rpm",
    ),
    Prereq(
        "piuparts",
        "deb/ (Debian's install/purge/upgrade test of the .deb)",
        _has("piuparts"),
        ("piuparts",),
        "apt-get install -y piuparts",
    ),
    Prereq(
        "wrk",
        "tests/contract (the short load every layer must hold)",
        _has("wrk"),
        ("wrk",),
        "apt-get install -y wrk",
    ),
    Prereq(
        "chromium",
        "kit compare's report check (a headless browser renders report.html)",
        _has("chromium"),
        ("chromium",),
        "apt-get install -y chromium",
    ),
    Prereq(
        "bmaptool",
        "kit flash",
        _has("bmaptool"),
        ("bmap-tools",),
        "apt-get install -y bmap-tools",
    ),
    Prereq(
        "aptly + gpg",
        "the fleet (ansible/playbooks/fleet/publish.yml: a signed apt repository)",
        lambda: bool(shutil.which("aptly") and shutil.which("gpg")),
        ("aptly", "gnupg"),
        "apt-get install -y aptly gnupg",
    ),
    Prereq(
        "createrepo_c",
        "the fleet's signed rpm repository (ansible/playbooks/fleet/publish.yml with .rpm files)",
        _has("createrepo_c"),
        ("createrepo-c",),
        "apt-get install -y createrepo-c",
    ),
    Prereq("packer", "packer/", _has("packer"), ("packer",), "apt-get install -y packer"),
    Prereq("ruby", "omnibus/", _has("ruby"), ("ruby",), "apt-get install -y ruby"),
)


def report() -> list[Prereq]:
    """Print one line per prerequisite; return the missing ones."""
    missing = []
    for p in PREREQS:
        if p.check():
            console.print(f"[green]✓[/] {escape(p.name)}")
        else:
            missing.append(p)
            console.print(
                f"[red]✗[/] {escape(p.name)} [dim](needed for {escape(p.needed_for)})[/]\n"
                f"    fix: [bold]{escape(p.fix)}[/]"
            )
    return missing


def start_dockerd(timeout: float = 90.0) -> None:
    if docker_running():
        return
    with step("start dockerd"):
        console.print(f"  [dim]$ dockerd >{DOCKERD_LOG} 2>&1 &[/]")
        with DOCKERD_LOG.open("ab") as log:
            subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not docker_running():
            if time.monotonic() > deadline:
                raise KitError(
                    f"dockerd did not answer within {timeout:.0f} s", f"read {DOCKERD_LOG}"
                )
            time.sleep(1)


def enable_binfmt() -> None:
    if _binfmt_arm64():
        return
    if not os.path.ismount(BINFMT):
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)])
    run(["update-binfmts", "--enable", "qemu-aarch64"])


def fix(missing: list[Prereq]) -> None:
    if os.geteuid() != 0:
        raise KitError(
            "`kit doctor --fix` installs packages and starts dockerd, so it needs root",
            "run `sudo ./kit doctor --fix`, or run the fix lines above yourself",
        )
    packages = sorted({pkg for p in missing for pkg in p.apt if not _apt_installed(pkg)})
    if packages:
        with step(f"apt-get install {' '.join(packages)}"):
            env = {"DEBIAN_FRONTEND": "noninteractive"}
            run(
                ["apt-get", "update", "-q"],
                env=env,
                capture=True,
                fix="check the apt sources and the network to the Debian mirror",
            )
            run(
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
                env=env,
                capture=True,
                fix="read apt's message; free disk space if it is full",
            )
    start_dockerd()
    enable_binfmt()


def ensure(prereqs: tuple[Prereq, ...] = PREREQS) -> None:
    """Where `kit test` and `kit compare` start on a whole run: a fresh machine is set up
    by the command itself (as root: what `kit doctor --fix` does), or the run stops before
    any work with the one command to run as root."""
    missing = [p for p in prereqs if not p.check()]
    if not missing:
        console.print(
            f"[green]✓[/] prerequisites: all {len(prereqs)} present [dim](./kit doctor)[/]"
        )
        return
    names = ", ".join(p.name for p in missing)
    if os.geteuid() != 0:
        raise KitError(
            f"{len(missing)} prerequisite(s) missing on this machine: {names}",
            "run `sudo ./kit doctor --fix` once (or this command as root), then again",
        )
    with step(f"set-up of this machine: {names} (what ./kit doctor --fix does)"):
        fix(missing)
    still = [p.name for p in prereqs if not p.check()]
    if still:
        raise KitError(
            f"still missing after the set-up: {', '.join(still)}",
            "run `./kit doctor` for each one's fix line",
        )


def _apt_installed(pkg: str) -> bool:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() == "install ok installed"
