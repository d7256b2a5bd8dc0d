"""kitcli/vm.py without booting anything: the seed disk, the refusals, a safe down.
(dosfstools, mtools and qemu come from `./kit doctor --fix`.)"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kitcli import vm
from kitcli.errors import KitError


def test_seed_is_a_cidata_vfat_with_one_key_only_user(tmp_path: Path) -> None:
    key = tmp_path / "key.pub"
    key.write_text("ssh-ed25519 AAAAtest kit@x\n")
    seed = vm._seed(tmp_path, "kit-x-packer-trixie", key)
    label = subprocess.run(
        ["mlabel", "-s", "-i", str(seed), "::"], capture_output=True, text=True, check=True
    ).stdout
    assert "CIDATA" in label
    user_data = subprocess.run(
        ["mtype", "-i", str(seed), "::user-data"], capture_output=True, text=True, check=True
    ).stdout
    assert user_data.startswith("#cloud-config\n")
    assert "lock_passwd: true" in user_data and "NOPASSWD" in user_data
    assert "- ssh-ed25519 AAAAtest kit@x" in user_data
    meta = subprocess.run(
        ["mtype", "-i", str(seed), "::meta-data"], capture_output=True, text=True, check=True
    ).stdout
    assert "local-hostname: kit-x-packer-trixie" in meta and "instance-id: " in meta


def test_missing_image_is_refused_with_the_fix(tmp_path: Path) -> None:
    assert shutil.which(vm.QEMU), "qemu missing — fix: sudo ./kit doctor --fix"
    with pytest.raises(KitError, match=r"no VM image at .*fix: build it first"):
        vm.up("kit-test-missing", tmp_path / "none.qcow2", 8080)


def test_down_of_a_vm_that_is_not_up_is_a_no_op() -> None:
    vm.down("kit-test-never-booted", quiet=True)
    with pytest.raises(KitError, match="no VM named kit-test-never-booted"):
        vm.load("kit-test-never-booted")


def _pi_like_image(tmp_path: Path) -> Path:
    """A tiny raw image shaped like the Pi image: MBR, p1 FAT (kernel, initrd, cmdline.txt)."""
    fat = tmp_path / "boot.vfat"
    subprocess.run(
        ["mkfs.vfat", "-C", "-n", "RASPIFIRM", str(fat), "8192"], check=True, capture_output=True
    )
    cmdline = "console=tty0 console=ttyS1,115200 root=LABEL=RASPIROOT rw\n"
    config = (
        "arm_64bit=1\nkernel=vmlinuz-6.12\n# a comment\ninitramfs initrd.img-6.12 followkernel\n"
    )
    files = (("vmlinuz-6.12", "kernel"), ("initrd.img-6.12", "initrd"), ("config.txt", config))
    for name, text in (*files, ("cmdline.txt", cmdline)):
        (tmp_path / name).write_text(text)
        subprocess.run(["mcopy", "-i", str(fat), str(tmp_path / name), "::"], check=True)
    image = tmp_path / "pi.img"
    with image.open("wb") as f:
        f.truncate(16 << 20)
    table = "label: dos\nstart=2048, size=16384, type=c\n"
    subprocess.run(["sfdisk", "-q", str(image)], input=table, text=True, check=True)
    dd = ["dd", f"if={fat}", f"of={image}", "bs=1M", "seek=1", "conv=notrunc", "status=none"]
    subprocess.run(dd, check=True)
    return image


def test_firstboot_seed_lands_on_the_boot_partition(tmp_path: Path) -> None:
    image = _pi_like_image(tmp_path)
    key = tmp_path / "key.pub"
    key.write_text("ssh-ed25519 AAAAtest kit@x\n")
    vm._firstboot(tmp_path, "kit-pi", image, key)
    text = subprocess.run(
        ["mtype", "-i", f"{image}@@{1 << 20}", "::firstboot.toml"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert 'hostname = "kit-pi"' in text and 'user = "kit"' in text
    assert 'ssh_authorized_keys = ["ssh-ed25519 AAAAtest kit@x"]' in text
    template = tmp_path / "t.toml"
    template.write_text('hostname = "@HOSTNAME@"\nkeys = ["@KEY@", "junk"]\n')
    vm._firstboot(tmp_path, "kit-pi2", image, key, template)
    text = subprocess.run(
        ["mtype", "-i", f"{image}@@{1 << 20}", "::firstboot.toml"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert text == 'hostname = "kit-pi2"\nkeys = ["ssh-ed25519 AAAAtest kit@x", "junk"]\n'


def test_boot_files_come_from_the_image_with_qemus_console(tmp_path: Path) -> None:
    image = _pi_like_image(tmp_path)
    (tmp_path / "vm").mkdir()
    kernel, initrd, cmdline = vm._boot_files(tmp_path / "vm", image, "ttyAMA0")
    assert kernel.read_text() == "kernel" and initrd.read_text() == "initrd"
    assert cmdline == "root=LABEL=RASPIROOT rw console=ttyAMA0"


def test_config_txt_without_kernel_is_refused() -> None:
    assert vm._firmware_config("kernel=k8.img\ninitramfs i.img followkernel\n") == (
        "k8.img",
        "i.img",
    )
    with pytest.raises(KitError, match="names no kernel= or no initramfs"):
        vm._firmware_config("arm_64bit=1\n#kernel=x\n")


def test_a_disk_without_partitions_is_refused_with_the_fix(tmp_path: Path) -> None:
    bare = tmp_path / "bare.img"
    bare.write_bytes(b"\0" * 65536)
    with pytest.raises(KitError, match="no partition table"):
        vm._fat_offset(bare)


def test_arm64_board_needs_a_raw_image(tmp_path: Path) -> None:
    qcow = tmp_path / "x.qcow2"
    qcow.write_bytes(b"QFI")
    with pytest.raises(KitError, match=r"boots a raw partitioned \.img"):
        vm.up("kit-test-raw", qcow, 8080, machine="arm64-virt", seed="firstboot")
    with pytest.raises(KitError, match="machine 'raspi9' is unknown"):
        vm.up("kit-test-raw", qcow, 8080, machine="raspi9")


# The console of a boot CI saw fail (qemu 7.2, -accel tcg -smp 2): an int3 left by the
# kernel's boot-time code patching.
PANIC_TAIL = """[    1.362269] RIP: 0010:run_timer_softirq+0xd7/0xf0
[    1.362251] Oops: int3: 0000 [#2] PREEMPT SMP NOPTI
[    1.362269] Kernel panic - not syncing: Fatal exception in interrupt
[    1.362269] ---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---
"""


def test_a_panicked_console_is_recognised(tmp_path: Path) -> None:
    serial = tmp_path / "serial.log"
    assert not vm._panicked(serial)  # no console yet
    serial.write_text("[    0.000000] Linux version 6.12\nWelcome to Debian\n")
    assert not vm._panicked(serial)
    serial.write_text(PANIC_TAIL)
    assert vm._panicked(serial)


def _boots(monkeypatch: pytest.MonkeyPatch, panics: int) -> list[int]:
    """Make _boot panic PANICS times, then come up; return the attempts it saw."""
    seen: list[int] = []

    def boot(*_: object, attempt: int, **__: object) -> str:
        seen.append(attempt)
        if len(seen) <= panics:
            raise vm.GuestPanic(PANIC_TAIL)
        return "up"

    monkeypatch.setattr(vm, "_boot", boot)
    return seen


def test_a_kernel_panic_while_booting_boots_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "x.qcow2"
    image.write_bytes(b"")
    seen = _boots(monkeypatch, panics=vm.BOOT_ATTEMPTS - 1)
    assert vm.up("kit-test-panic", image, 8080, accel="tcg") == "up"
    assert seen == list(range(1, vm.BOOT_ATTEMPTS + 1))


def test_a_panic_on_every_boot_is_an_error_with_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "x.qcow2"
    image.write_bytes(b"")
    seen = _boots(monkeypatch, panics=vm.BOOT_ATTEMPTS)
    with pytest.raises(KitError, match=r"(?s)panicked on all 3 boots.*Oops: int3.*KIT_VM_SMP=1"):
        vm.up("kit-test-panic", image, 8080, accel="tcg")
    assert len(seen) == vm.BOOT_ATTEMPTS


def test_vm_tests_take_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second VM test (kit test's background layer) waits until the first one ends."""
    monkeypatch.setattr(vm, "VMS", tmp_path)
    order: list[str] = []

    def second() -> None:
        with vm.one_at_a_time("hardware on trixie"):
            order.append("second in")

    with vm.one_at_a_time("packer on trixie"):
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.5)
        order.append("first out")
    waiting.join(timeout=10)
    assert order == ["first out", "second in"]
