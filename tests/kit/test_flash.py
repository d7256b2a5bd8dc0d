"""kitcli/flash.py: every refusal against a fake sysfs tree, then real writes to files and
to loop devices over files in tmp_path — never to a disk of this machine (each loop test
asserts its device is a /dev/loop* it attached itself). The loop tests need root and
losetup (CI runs as root); bmap-tools comes from `./kit doctor --fix`."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitcli import flash
from kitcli.errors import KitError
from kitcli.settings import ROOT

MiB = 1 << 20
NAME = "svc-1.0-trixie-arm64"  # hardware/'s naming: <name>-<version>-<distro>-arm64


# --- a fake sysfs --------------------------------------------------------------------


class FakeSys:
    """/sys/devices/…/block/<disk>/<partition> plus the /sys/class/block symlinks, the
    way the kernel lays them out, and the mount/swap tables a Host reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: dict[str, str] = {}  # /dev path → MAJ:MIN (what stat() would say)
        self.files: dict[str, str] = {}  # file → MAJ:MIN of the device it lives on
        self.mountinfo: list[str] = []
        self.swaps = ["Filename\tType\tSize\tUsed\tPriority"]
        (root / "class" / "block").mkdir(parents=True)

    def add(self, name: str, devnum: str, *, parent: str = "", size: int = 32 << 30,
            removable: int = 1, ro: int = 0, holders: tuple[str, ...] = (),
            slaves: tuple[str, ...] = (), vendor: str = "", model: str = "",
            backing: str = "") -> None:  # fmt: skip
        base = (
            self.dir(parent) / name
            if parent
            else self.root / "devices" / "virtual" / "block" / name
        )
        base.mkdir(parents=True)
        (self.root / "class" / "block" / name).symlink_to(base)
        (base / "dev").write_text(devnum + "\n")
        (base / "size").write_text(f"{size // 512}\n")
        (base / "ro").write_text(f"{ro}\n")
        if parent:
            (base / "partition").write_text(name[-1] + "\n")
        else:
            (base / "removable").write_text(f"{removable}\n")
        for sub, names in (("holders", holders), ("slaves", slaves)):
            (base / sub).mkdir()
            for n in names:
                (base / sub / n).mkdir()
        if vendor or model:
            (base / "device").mkdir()
            (base / "device" / "vendor").write_text(vendor + "\n")
            (base / "device" / "model").write_text(model + "\n")
        if backing:
            (base / "loop").mkdir()
            (base / "loop" / "backing_file").write_text(backing + "\n")
        self.nodes[f"/dev/{name}"] = devnum

    def dir(self, name: str) -> Path:
        return (self.root / "class" / "block" / name).resolve()

    def mount(self, source: str, mountpoint: str, devnum: str = "", fstype: str = "ext4") -> None:
        n = len(self.mountinfo) + 30
        dn = devnum or self.nodes.get(source, "0:99")
        self.mountinfo.append(f"{n} 1 {dn} / {mountpoint} rw,relatime - {fstype} {source} rw")

    def host(self) -> flash.Host:
        return flash.Host(
            sys=self.root,
            mountinfo="\n".join(self.mountinfo),
            swaps="\n".join(self.swaps),
            devnum_of_node=self.nodes.get,
            devnum_of_file=self.files.get,
        )


@pytest.fixture
def fake(tmp_path: Path) -> FakeSys:
    """A machine with its system on sda (/ on sda2, /boot/firmware on sda1) and an SD card
    in a USB reader as sdb (one partition)."""
    f = FakeSys(tmp_path / "sys")
    f.add("sda", "8:0", removable=0, vendor="ATA", model="Samsung SSD 870")
    f.add("sda1", "8:1", parent="sda")
    f.add("sda2", "8:2", parent="sda")
    f.add("sdb", "8:16", size=29 << 30, vendor="Generic", model="STORAGE DEVICE")
    f.add("sdb1", "8:17", parent="sdb")
    f.mount("/dev/sda2", "/")
    f.mount("/dev/sda1", "/boot/firmware", fstype="vfat")
    f.mount("proc", "/proc", "0:21", "proc")
    return f


def _check(fake: FakeSys, dev: str, *, size: int = 8 * MiB, force: bool = False) -> flash.Target:
    return flash.check_disk(
        Path(f"/dev/{dev}"), fake.nodes[f"/dev/{dev}"], size, force=force, host=fake.host()
    )


def _refused(fake: FakeSys, dev: str, match: str, **kw: int | bool) -> KitError:
    with pytest.raises(KitError, match=match) as exc:
        _check(fake, dev, **kw)  # type: ignore[arg-type]
    assert "\n" not in str(exc.value), "a refusal is one line"
    assert f"/dev/{dev}" in exc.value.problem, "a refusal names the device"
    return exc.value


def test_a_removable_unmounted_card_passes_with_its_facts(fake: FakeSys) -> None:
    target = _check(fake, "sdb")
    assert (target.name, target.size, target.removable) == ("sdb", 29 << 30, True)
    assert target.describe() == "/dev/sdb: Generic STORAGE DEVICE, 29.0 GiB, removable"


def test_a_partition_is_refused_naming_the_whole_disk(fake: FakeSys) -> None:
    err = _refused(fake, "sdb1", "is a partition of /dev/sdb, not a whole disk")
    assert "flash the whole disk /dev/sdb" in err.fix


def test_the_running_systems_disk_is_refused(fake: FakeSys) -> None:
    err = _refused(fake, "sda", r"the disk the running system is on \(/ is on it\)")
    assert "lsblk" in err.fix
    _refused(fake, "sda", "running system", force=True)  # --force does not lift it


@pytest.mark.parametrize("how", ["dm", "btrfs", "loop", "boot"])
def test_the_system_disk_is_found_through_dm_btrfs_loop_and_boot(fake: FakeSys, how: str) -> None:
    fake.mountinfo.clear()
    fake.add("sdc", "8:32", removable=1)
    fake.add("sdc1", "8:33", parent="sdc")
    if how == "dm":  # / on LVM/dm-crypt over sdc1
        fake.add("dm-0", "253:0", slaves=("sdc1",))
        fake.mount("/dev/mapper/root", "/", "253:0")
    elif how == "btrfs":  # mountinfo shows an anonymous device; the source names sdc1
        fake.mount("/dev/sdc1", "/", "0:40", "btrfs")
    elif how == "loop":  # a live system: / on loop0 over a file on sdc1
        fake.add("loop0", "7:0", removable=0, backing="/run/live/filesystem.squashfs")
        fake.files["/run/live/filesystem.squashfs"] = "8:33"
        fake.mount("/dev/loop0", "/", fstype="squashfs")
    else:  # / on an overlay with no block device, /boot on sdc1
        fake.mount("overlay", "/", "0:30", "overlay")
        fake.mount("/dev/sdc1", "/boot")
    _refused(fake, "sdc", "the disk the running system is on", force=True)


def test_a_mounted_partition_is_refused_with_the_umount(fake: FakeSys) -> None:
    fake.mount("/dev/sdb1", "/media/me/NO\\040NAME", fstype="vfat")
    err = _refused(fake, "sdb", "is mounted: /dev/sdb1 on /media/me/NO NAME")
    assert err.fix.startswith("unmount it first: umount /media/me/NO NAME")


def test_a_mounted_whole_disk_is_refused(fake: FakeSys) -> None:
    fake.mount("/dev/sdb", "/mnt")
    _refused(fake, "sdb", "is mounted: /dev/sdb on /mnt")


def test_swap_on_the_card_is_refused(fake: FakeSys) -> None:
    fake.swaps.append("/dev/sdb1\tpartition\t1048572\t0\t-2")
    err = _refused(fake, "sdb", "in use as swap: /dev/sdb1")
    assert err.fix == "swapoff /dev/sdb1"


def test_a_held_partition_is_refused(fake: FakeSys) -> None:
    fake.add("sdd", "8:48")
    fake.add("sdd1", "8:49", parent="sdd", holders=("dm-3",))
    _refused(fake, "sdd", r"in use: /dev/sdd1 is held by /dev/dm-3 \(LVM, dm-crypt or RAID\)")


def test_a_non_removable_disk_needs_force(fake: FakeSys) -> None:
    fake.add("sde", "8:64", removable=0, vendor="ATA", model="WDC WD40")
    err = _refused(fake, "sde", r"is not a removable disk \(ATA WDC WD40, 32.0 GiB\)")
    assert "--force" in err.fix
    assert _check(fake, "sde", force=True).name == "sde"


def test_a_card_smaller_than_the_image_is_refused(fake: FakeSys) -> None:
    fake.add("sdf", "8:80", size=4 * MiB)
    err = _refused(fake, "sdf", r"is too small: 4.0 MiB < the image's 8.0 MiB", force=True)
    assert "at least 8.0 MiB" in err.fix


def test_read_only_and_empty_readers_are_refused(fake: FakeSys) -> None:
    fake.add("sdg", "8:96", ro=1)
    fake.add("sdh", "8:112", size=0)
    _refused(fake, "sdg", "is read-only")
    _refused(fake, "sdh", r"has no medium \(size 0\)")


def test_an_unknown_device_number_is_refused(fake: FakeSys) -> None:
    with pytest.raises(KitError, match=r"/dev/sdz \(block device 8:250\) is not in"):
        flash.check_disk(Path("/dev/sdz"), "8:250", MiB, force=True, host=fake.host())


def test_a_symlinked_name_is_shown_with_the_kernel_name(fake: FakeSys) -> None:
    link = Path("/dev/disk/by-id/usb-x")
    target = flash.check_disk(link, "8:16", MiB, force=False, host=fake.host())
    assert target.label == "/dev/disk/by-id/usb-x (/dev/sdb)"


# --- images: a real test image (random data + a hole, xz, bmap, sha256) ---------------


@dataclass
class SampleImage:
    dir: Path
    raw: Path  # the uncompressed .img
    xz: Path  # <NAME>.img.xz
    bmap: Path  # <NAME>.bmap (the hardware build's name for it)
    sha: Path  # <NAME>.img.xz.sha256

    @property
    def data(self) -> bytes:
        return self.raw.read_bytes()

    def copy_to(self, where: Path, *, bmap: bool = True, sha: bool = True) -> Path:
        where.mkdir(exist_ok=True)
        for path, wanted in ((self.xz, True), (self.bmap, bmap), (self.sha, sha)):
            if wanted:
                shutil.copy(path, where / path.name)
        return where / self.xz.name


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> SampleImage:
    assert shutil.which("bmaptool"), "bmaptool missing — fix: sudo ./kit doctor --fix"
    d = tmp_path_factory.mktemp("image")
    raw = d / f"{NAME}.img"
    rng = random.Random(7)
    with raw.open("wb") as f:  # 8 MiB: data, a 4 MiB hole, data, a tail block
        f.truncate(8 * MiB)
        f.write(rng.randbytes(MiB))
        f.seek(5 * MiB)
        f.write(rng.randbytes(MiB // 2))
        f.seek(8 * MiB - 4096)
        f.write(b"\xa5" * 4096)
    bmap = d / f"{NAME}.bmap"
    subprocess.run(["bmaptool", "create", "-o", bmap, raw], check=True, capture_output=True)
    subprocess.run(["xz", "-k", "-T1", "-1", raw], check=True)
    xz = d / f"{NAME}.img.xz"
    sha = d / f"{NAME}.img.xz.sha256"
    sha.write_text(f"{hashlib.sha256(xz.read_bytes()).hexdigest()}  {xz.name}\n")
    return SampleImage(d, raw, xz, bmap, sha)


def test_the_bmap_and_checksum_are_found_beside_the_image(image: SampleImage) -> None:
    assert [p.name for p in flash.siblings(image.xz, ".bmap")] == [
        f"{NAME}.img.xz.bmap",
        f"{NAME}.img.bmap",
        f"{NAME}.bmap",
    ]
    found = flash.resolve_image(image.xz, None)
    assert found.size == 8 * MiB
    assert found.bmap is not None and found.bmap.path == image.bmap
    assert found.bmap.checksum_type == "sha256"
    mapped = sum(end - start for start, end, _ in found.bmap.ranges)
    assert mapped < 8 * MiB, "the hole is not mapped"
    assert found.checksum == (image.sha, hashlib.sha256(image.xz.read_bytes()).hexdigest(), False)


def test_a_stem_sha256_of_the_decompressed_image_is_accepted(
    image: SampleImage, tmp_path: Path
) -> None:
    xz = image.copy_to(tmp_path, sha=False)
    digest = hashlib.sha256(image.data).hexdigest()
    (tmp_path / f"{NAME}.sha256").write_text(f"{digest} *{NAME}.img\n")
    assert flash.find_checksum(xz) == (tmp_path / f"{NAME}.sha256", digest, True)


def test_a_checksum_file_for_another_image_is_refused(image: SampleImage, tmp_path: Path) -> None:
    xz = image.copy_to(tmp_path, sha=False)
    (tmp_path / f"{xz.name}.sha256").write_text(f"{'0' * 64}  other.img.xz\n")
    with pytest.raises(KitError, match=f"has no sha256 line for {xz.name}"):
        flash.resolve_image(xz, None)


def test_a_bmap_of_another_image_is_refused(image: SampleImage, tmp_path: Path) -> None:
    xz = image.copy_to(tmp_path)
    other = tmp_path / "other.img"
    other.write_bytes(b"x" * 4096)
    subprocess.run(["bmaptool", "create", "-o", tmp_path / "other.bmap", other], check=True)
    with pytest.raises(KitError, match=r"other.bmap is not .*'s bmap: ImageSize 4096"):
        flash.resolve_image(xz, tmp_path / "other.bmap")


def test_a_file_target_that_is_the_image_or_a_dev_typo_is_refused(image: SampleImage) -> None:
    with pytest.raises(KitError, match="own file"):
        flash.flash(image.xz, image.bmap, yes=True)
    with pytest.raises(KitError, match=r"/dev/kit-no-such-card does not exist .*lsblk"):
        flash.flash(image.xz, Path("/dev/kit-no-such-card"), yes=True)
    with pytest.raises(KitError, match="/dev/null is neither a block device nor a regular file"):
        flash.flash(image.xz, Path("/dev/null"), yes=True)


@pytest.mark.parametrize("with_bmap", [True, False])
def test_flash_to_a_file_writes_the_image(
    image: SampleImage, tmp_path: Path, capsys: pytest.CaptureFixture[str], with_bmap: bool
) -> None:
    xz = image.copy_to(tmp_path / "in", bmap=with_bmap)
    out = tmp_path / "copy.img"
    flash.flash(xz, out, yes=True)
    assert out.read_bytes() == image.data
    said = capsys.readouterr().out
    assert "$ bmaptool copy" in said
    if with_bmap:
        assert f"--bmap {tmp_path}/in/{NAME}.bmap" in said
        assert "match the bmap's sha256 checksums" in said
    else:
        assert "bmap: none beside it" in said and "--nobmap" in said
        assert "$ xz -dc" in said and "sha256" in said and "matches" in said


@pytest.mark.parametrize("fmt", ["img", "zst", "gz"])
def test_raw_zstd_and_gzip_images_are_flashed(
    image: SampleImage, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    src = tmp_path / image.raw.name
    shutil.copy(image.raw, src)
    if fmt != "img":
        tool = {"zst": ["zstd", "-q", "--rm"], "gz": ["gzip"]}[fmt]
        subprocess.run([*tool, src], check=True)
        src = src.with_name(f"{src.name}.{fmt}")
    out = tmp_path / "copy.img"
    flash.flash(src, out, yes=True)
    assert out.read_bytes() == image.data
    said = capsys.readouterr().out
    assert f"{src.name}: 8.0 MiB uncompressed" in said and "matches" in said
    if fmt == "gz":  # gzip does not record the size: kit measures it
        assert "$ gzip -dc" in said and "| wc -c" in said


def test_the_cli_flashes_to_a_file(image: SampleImage, tmp_path: Path) -> None:
    out = tmp_path / "copy.img"
    proc = _kit("flash", str(image.xz), str(out))  # a new file: nothing to erase, no question
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_bytes() == image.data


@pytest.mark.parametrize("with_bmap", [True, False])
def test_a_read_back_that_differs_is_reported(
    image: SampleImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_bmap: bool
) -> None:
    xz = image.copy_to(tmp_path / "in", bmap=with_bmap)
    out = tmp_path / "copy.img"
    real = flash.run

    def bad_card(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        done = real(cmd, **kw)  # type: ignore[arg-type]
        if str(cmd[0]) == "bmaptool":  # the card loses a byte in the first mapped block
            with out.open("r+b") as f:
                f.seek(100)
                f.write(bytes([image.data[100] ^ 0xFF]))
        return done

    monkeypatch.setattr(flash, "run", bad_card)
    with pytest.raises(KitError, match=f"read-back of {out} differs from the image") as exc:
        flash.flash(xz, out, yes=True)
    assert "another card" in exc.value.fix


@pytest.mark.parametrize(("answer", "written"), [("n\n", False), ("y\n", True)])
def test_the_question_is_asked_on_a_terminal(
    image: SampleImage, tmp_path: Path, answer: str, written: bool
) -> None:
    out = tmp_path / "old.img"
    out.write_bytes(b"old")  # an existing file: flashing erases it, so kit asks
    master, slave = os.openpty()
    try:
        os.write(master, answer.encode())
        proc = _kit("flash", str(image.xz), str(out), stdin=slave)
    finally:
        os.close(master)
        os.close(slave)
    assert f"Write {image.xz.name} to {out}? This erases everything on it [y/N]" in proc.stdout
    if written:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert out.read_bytes() == image.data
    else:
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"not confirmed: nothing written to {out}" in proc.stdout
        assert out.read_bytes() == b"old"


def _kit(*args: str, stdin: int = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "kitcli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        stdin=stdin,
        check=False,
    )


# --- real loop devices over files in tmp_path ----------------------------------------


class Loops:
    """Loop devices this test attached (and only those); all detached at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.attached: list[Path] = []
        self.mounted: list[Path] = []
        self.nodes: list[Path] = []

    def disk(self, size: int, *, fill: bytes = b"\0", partitioned: bool = False) -> Path:
        backing = self.tmp_path / f"disk{len(self.attached)}.raw"
        backing.write_bytes(fill * (size // len(fill)))
        if partitioned:
            subprocess.run(["sfdisk", "-q", backing], input=b"label: dos\n,2M\n,\n", check=True)
        argv = ["losetup", "--find", "--show", *(["-P"] if partitioned else []), str(backing)]
        dev = Path(subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip())
        assert str(dev).startswith("/dev/loop"), f"{dev} is not a loop device"
        self.attached.append(dev)
        return dev

    def partition(self, dev: Path) -> Path:
        """/dev/loopNp1, made by partx (no udev here), by mknod if partx did not make it."""
        subprocess.run(["partx", "-a", dev], capture_output=True, check=False)
        part = Path(f"{dev}p1")
        if not part.exists():
            major, minor = Path(f"/sys/class/block/{part.name}/dev").read_text().split(":")
            os.mknod(part, 0o600 | 0o060000, os.makedev(int(major), int(minor)))
            self.nodes.append(part)
        return part

    def mount(self, dev: Path) -> None:
        subprocess.run(["mkfs.ext4", "-q", dev], check=True)
        where = self.tmp_path / f"mnt{len(self.mounted)}"
        where.mkdir()
        subprocess.run(["mount", dev, where], check=True)
        self.mounted.append(where)

    def close(self) -> None:
        for where in self.mounted:
            subprocess.run(["umount", where], check=False)
        for dev in self.attached:
            subprocess.run(["losetup", "-d", dev], check=False)
        for node in self.nodes:
            node.unlink(missing_ok=True)


@pytest.fixture
def loops(tmp_path: Path) -> Iterator[Loops]:
    if os.geteuid() != 0:
        pytest.skip("loop devices need root (CI runs as root)")
    if not shutil.which("losetup"):
        pytest.skip("losetup is not installed (apt-get install util-linux)")
    made = Loops(tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def no_write(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Fail the test if bmaptool is run; record every command flash runs."""
    calls: list[list[str]] = []
    real = flash.run

    def guarded(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        calls.append([str(c) for c in cmd])
        assert calls[-1][0] != "bmaptool", f"bmaptool ran: {calls[-1]}"
        return real(cmd, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(flash, "run", guarded)
    return calls


def _head(dev: Path, n: int) -> bytes:
    with dev.open("rb") as f:
        return f.read(n)


def test_flash_to_a_loop_device_with_bmap(image: SampleImage, loops: Loops) -> None:
    dev = loops.disk(16 * MiB, fill=b"\x5a")  # old data in the hole stays: bmap skips it
    target = flash.flash(image.xz, dev, yes=True, force=True)
    assert (target.kind, target.name) == ("disk", dev.name)
    got, want = _head(dev, 8 * MiB), image.data
    bmap = flash.read_bmap(image.bmap)
    for start, end, _ in bmap.ranges:
        assert got[start:end] == want[start:end]
    assert got[2 * MiB : 3 * MiB] == b"\x5a" * MiB, "the unmapped hole was not written"


def test_flash_to_a_loop_device_without_bmap(
    image: SampleImage, loops: Loops, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xz = image.copy_to(tmp_path / "in", bmap=False)
    dev = loops.disk(16 * MiB, fill=b"\x5a")
    flash.flash(xz, dev, yes=True, force=True)
    assert _head(dev, 8 * MiB) == image.data
    said = capsys.readouterr().out
    assert "--nobmap" in said and f"$ head -c {8 * MiB} {dev} | sha256sum" in said


def test_a_mounted_loop_device_is_refused(
    image: SampleImage, loops: Loops, no_write: list[list[str]]
) -> None:
    dev = loops.disk(16 * MiB)
    loops.mount(dev)
    with pytest.raises(KitError, match=f"{dev} is mounted: {dev} on "):
        flash.flash(image.xz, dev, yes=True, force=True)


def test_a_too_small_loop_device_is_refused(
    image: SampleImage, loops: Loops, no_write: list[list[str]]
) -> None:
    dev = loops.disk(4 * MiB, fill=b"\x5a")
    with pytest.raises(KitError, match=f"{dev} is too small: 4.0 MiB < the image's 8.0 MiB"):
        flash.flash(image.xz, dev, yes=True, force=True)
    assert _head(dev, 4 * MiB) == b"\x5a" * 4 * MiB


def test_a_loop_device_is_non_removable_without_force(
    image: SampleImage, loops: Loops, no_write: list[list[str]]
) -> None:
    dev = loops.disk(16 * MiB)
    with pytest.raises(KitError, match=f"{dev} is not a removable disk .*loop device over"):
        flash.flash(image.xz, dev, yes=True)


def test_a_loop_partition_is_refused(
    image: SampleImage, loops: Loops, no_write: list[list[str]]
) -> None:
    dev = loops.disk(16 * MiB, partitioned=True)
    part = loops.partition(dev)
    with pytest.raises(KitError, match=f"{part} is a partition of {dev}, not a whole disk"):
        flash.flash(image.xz, part, yes=True, force=True)


def test_a_corrupt_image_is_refused_before_writing(
    image: SampleImage, loops: Loops, tmp_path: Path, no_write: list[list[str]]
) -> None:
    xz = image.copy_to(tmp_path / "in")
    data = bytearray(xz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    xz.write_bytes(bytes(data))
    dev = loops.disk(16 * MiB, fill=b"\x5a")
    with pytest.raises(KitError, match=f"does not match .*nothing written to {dev}") as exc:
        flash.flash(xz, dev, yes=True, force=True)
    assert "re-download" in exc.value.fix and "rebuild" in exc.value.fix
    assert _head(dev, 8 * MiB) == b"\x5a" * 8 * MiB


def test_no_terminal_and_no_yes_is_refused(image: SampleImage, loops: Loops) -> None:
    dev = loops.disk(16 * MiB, fill=b"\x5a")
    proc = _kit("flash", str(image.xz), str(dev), "--force")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"no terminal to confirm erasing {dev}" in proc.stdout
    assert "pass --yes" in proc.stdout
    assert "$ bmaptool" not in proc.stdout
    assert _head(dev, 8 * MiB) == b"\x5a" * 8 * MiB


def test_the_disk_behind_root_on_this_machine_is_refused(
    image: SampleImage, no_write: list[list[str]]
) -> None:
    host = flash.Host.live()
    system = flash.system_devices(host)
    # the whole disk(s) under /: not a partition, not a dm/md device over slaves
    disks = sorted(
        n
        for n, mountpoint in system.items()
        if mountpoint == "/" and not flash.is_partition(n, host)
        if not list((host.block(n) / "slaves").glob("*"))
    )
    if not disks:
        pytest.skip("/ is not on a block device here (an overlay or tmpfs): nothing to refuse")
    dev = Path(f"/dev/{disks[0]}")
    if not dev.is_block_device():
        pytest.skip(f"{dev} has no device node here")
    with pytest.raises(KitError, match=f"{dev} is the disk the running system is on"):
        flash.flash(image.xz, dev, yes=True, force=True)
    assert not any(c[0] == "bmaptool" for c in no_write)
