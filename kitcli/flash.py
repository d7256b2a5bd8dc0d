"""`kit flash IMAGE DEVICE`: write an SD-card image (hardware/'s
`<name>-<version>-<distro>-arm64.img.xz` + `.bmap` + `.sha256`) to a card with bmaptool,
and never to the wrong disk.

Before anything is written, DEVICE must be a whole disk (not a partition) that is not the
disk the running system is on (/, /boot, /boot/firmware, /boot/efi, followed through
partitions, device-mapper/RAID slaves and loop backing files), has nothing mounted, no
swap and no holders (LVM, dm-crypt, RAID), is writable, has a medium, reports itself
removable (or --force) and is at least as large as the decompressed image. The checks
read a sysfs tree and the mount and swap tables given to them (`Host`), so the tests run
them against a fake tree. Then the image is checked against its .sha256, the user
confirms (or --yes), `bmaptool copy` writes it (the kernel's exclusive open also refuses
a device mounted meanwhile) and the written data is read back from DEVICE.

DEVICE may also be a regular file (an image copy): it is created or overwritten, none of
the disk checks apply, only that it is not the image, its bmap or its checksum file, and
that a path under /dev/ must already exist (a typo there is a missing card, not a new
file)."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.markup import escape

from kitcli.errors import KitError
from kitcli.steps import console, run, step

SYSTEM_MOUNTS = ("/", "/boot", "/boot/firmware", "/boot/efi")
COMPRESSORS = {".xz": "xz", ".zst": "zstd", ".gz": "gzip", ".bz2": "bzip2"}
CHUNK = 4 << 20
LSBLK = "lsblk -d -o NAME,SIZE,RM,MODEL"


def human(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _devnum(dev: int) -> str:
    return f"{os.major(dev)}:{os.minor(dev)}"


def node_devnum(path: str) -> str | None:
    """MAJ:MIN of a block device node, None for anything else."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _devnum(st.st_rdev) if stat.S_ISBLK(st.st_mode) else None


def file_devnum(path: str) -> str | None:
    """MAJ:MIN of the device a file lives on (a loop device's backing file)."""
    try:
        return _devnum(os.stat(path).st_dev)
    except OSError:
        return None


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return default


@dataclass(frozen=True)
class Host:
    """What the disk checks read about the machine; the tests pass a fake one."""

    sys: Path = Path("/sys")
    mountinfo: str = ""  # /proc/self/mountinfo
    swaps: str = ""  # /proc/swaps
    devnum_of_node: Callable[[str], str | None] = field(default=node_devnum)
    devnum_of_file: Callable[[str], str | None] = field(default=file_devnum)

    @classmethod
    def live(cls) -> Host:
        return cls(mountinfo=_read(Path("/proc/self/mountinfo")), swaps=_read(Path("/proc/swaps")))

    def block(self, name: str) -> Path:
        return self.sys / "class" / "block" / name


# --- the checks: pure over Host ------------------------------------------------------


def block_name(devnum: str, host: Host) -> str | None:
    """The kernel name (sdb, mmcblk0p1, loop3) of block device MAJ:MIN."""
    classdir = host.sys / "class" / "block"
    for entry in sorted(classdir.iterdir()) if classdir.is_dir() else []:
        if _read(entry / "dev") == devnum:
            return entry.name
    return None


def is_partition(name: str, host: Host) -> bool:
    return (host.block(name) / "partition").exists()


def parent_disk(name: str, host: Host) -> str:
    """The whole disk a partition is on (sysfs nests sdb1 inside sdb)."""
    return host.block(name).resolve().parent.name if is_partition(name, host) else name


def partitions(name: str, host: Host) -> list[str]:
    disk = host.block(name).resolve()
    return sorted(p.name for p in disk.iterdir() if (p / "partition").exists())


def _listdir(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


def _unescape(text: str) -> str:  # mountinfo and /proc/swaps write " " as \040
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), text)


def mounts(host: Host) -> list[tuple[str, set[str]]]:
    """(mount point, the MAJ:MIN it is on) for every mount: the device number mountinfo
    shows, plus the source's if it is a block device (btrfs shows an anonymous 0:N)."""
    found = []
    for line in host.mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 7 or "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)  # then: fstype, source, super options
        source = fields[sep + 2] if len(fields) > sep + 2 else ""
        devnums = {fields[2]} if not fields[2].startswith("0:") else set()
        if source.startswith("/") and (dn := host.devnum_of_node(_unescape(source))):
            devnums.add(dn)
        found.append((_unescape(fields[4]), devnums))
    return found


def swap_devnums(host: Host) -> set[str]:
    found = set()
    for line in host.swaps.splitlines()[1:]:
        if line.split() and (dn := host.devnum_of_node(_unescape(line.split()[0]))):
            found.add(dn)
    return found


def system_devices(host: Host) -> dict[str, str]:
    """Every block device the running system's /, /boot, /boot/firmware, /boot/efi sit on
    — the device, its whole disk, the slaves of a dm/md device, the disk under a loop
    device's backing file — each mapped to the mount point that needs it."""
    found: dict[str, str] = {}

    def walk(name: str, mountpoint: str) -> None:
        if name in found:
            return
        found[name] = mountpoint
        if is_partition(name, host):
            walk(parent_disk(name, host), mountpoint)
        for slave in _listdir(host.block(name) / "slaves"):
            walk(slave, mountpoint)
        backing = _read(host.block(name) / "loop" / "backing_file").removesuffix(" (deleted)")
        if backing and (dn := host.devnum_of_file(backing)) and (under := block_name(dn, host)):
            walk(under, mountpoint)

    system = {mp: dns for mp, dns in mounts(host) if mp in SYSTEM_MOUNTS}  # the last one wins
    for mountpoint, devnums in system.items():
        for dn in sorted(devnums):
            if name := block_name(dn, host):
                walk(name, mountpoint)
    return found


@dataclass(frozen=True)
class Target:
    """Where the image goes: a whole disk (kind "disk") or a regular file ("file")."""

    path: Path
    kind: str
    name: str = ""  # kernel name of a disk
    devnum: str = ""
    size: int = 0  # bytes; 0 for a file
    removable: bool = False
    model: str = ""
    exists: bool = True

    @property
    def label(self) -> str:
        if self.kind == "file" or self.path == Path("/dev") / self.name:
            return str(self.path)
        return f"{self.path} (/dev/{self.name})"

    def describe(self) -> str:
        if self.kind == "file":
            return f"{self.path}: regular file, " + (
                f"{human(self.path.stat().st_size)}, will be overwritten" if self.exists else "new"
            )
        removable = "removable" if self.removable else "NOT removable (--force)"
        return f"{self.label}: {self.model or 'unknown model'}, {human(self.size)}, {removable}"


def _model(name: str, host: Host) -> str:
    base = host.block(name)
    words = [_read(base / "device" / "vendor"), _read(base / "device" / "model")]
    if not any(words):  # an SD card in an mmc slot: type SD/MMC and the card's name
        words = [_read(base / "device" / "type"), _read(base / "device" / "name")]
    backing = _read(base / "loop" / "backing_file")
    if backing:
        words.append(f"loop device over {backing}")
    return " ".join(w for w in words if w)


def check_disk(device: Path, devnum: str, image_size: int, *, force: bool, host: Host) -> Target:
    """Every refusal for block device DEVICE (MAJ:MIN DEVNUM); the disk's facts if none."""
    name = block_name(devnum, host)
    if name is None:
        raise KitError(
            f"{device} (block device {devnum}) is not in {host.sys}/class/block",
            f"check the name with `{LSBLK}`",
        )
    label = str(device) if device == Path("/dev") / name else f"{device} (/dev/{name})"
    if is_partition(name, host):
        disk = parent_disk(name, host)
        raise KitError(
            f"{label} is a partition of /dev/{disk}, not a whole disk",
            f"flash the whole disk /dev/{disk} (the image brings its own partition table)",
        )
    system = system_devices(host)
    if name in system:
        raise KitError(
            f"{label} is the disk the running system is on ({system[name]} is on it)",
            f"pick the SD card: compare `{LSBLK}` before and after plugging it in",
        )
    mounted = mounts(host)
    swaps = swap_devnums(host)
    for member in [name, *partitions(name, host)]:
        dn = _read(host.block(member) / "dev")
        where = [mp for mp, dns in mounted if dn in dns]
        if where:
            raise KitError(
                f"{label} is mounted: /dev/{member} on {', '.join(where)}",
                f"unmount it first: umount {' '.join(where)} (and any other partition of it)",
            )
        if dn in swaps:
            raise KitError(f"{label} is in use as swap: /dev/{member}", f"swapoff /dev/{member}")
        holders = _listdir(host.block(member) / "holders")
        if holders:
            raise KitError(
                f"{label} is in use: /dev/{member} is held by /dev/{holders[0]} "
                "(LVM, dm-crypt or RAID)",
                f"release it first (`lsblk /dev/{name}` shows the stack; vgchange -an, "
                "cryptsetup close or mdadm --stop)",
            )
    base = host.block(name)
    size = int(_read(base / "size", "0") or 0) * 512  # sysfs counts 512-byte sectors
    removable = _read(base / "removable") == "1"
    if _read(base / "ro") == "1":
        raise KitError(
            f"{label} is read-only",
            "slide the SD card's write-protect switch away from LOCK and re-insert it",
        )
    if size == 0:
        raise KitError(f"{label} has no medium (size 0)", "insert the SD card, or re-seat it")
    model = _model(name, host)
    if not removable and not force:
        raise KitError(
            f"{label} is not a removable disk ({model or 'unknown model'}, {human(size)})",
            "check it is the card you mean; built-in mmc readers and some USB adapters report "
            "non-removable: then pass --force",
        )
    if size < image_size:
        raise KitError(
            f"{label} is too small: {human(size)} < the image's {human(image_size)}",
            f"use a card of at least {human(image_size)}",
        )
    return Target(device, "disk", name, devnum, size, removable, model)


# --- the image -----------------------------------------------------------------------


@dataclass(frozen=True)
class Bmap:
    path: Path
    image_size: int
    checksum_type: str | None  # None before bmap format 1.3
    ranges: tuple[tuple[int, int, str | None], ...]  # byte [start, end), checksum


def read_bmap(path: Path) -> Bmap:
    fix = f"regenerate it: bmaptool create -o {path} <the uncompressed .img>"
    try:
        root = ET.parse(path).getroot()
        major, minor = (int(x) for x in root.attrib["version"].split(".")[:2])
        block = int((root.findtext("BlockSize") or "").strip())
        size = int((root.findtext("ImageSize") or "").strip())
        ranges_xml = root.findall("BlockMap/Range")
    except (OSError, ET.ParseError, KeyError, ValueError) as exc:
        raise KitError(f"{path} is not a readable bmap file ({exc})", fix) from None
    if major >= 2 or (major, minor) == (1, 4):
        cs_type, attr = (root.findtext("ChecksumType") or "").strip() or None, "chksum"
    else:
        cs_type, attr = ("sha1", "sha1") if (major, minor) == (1, 3) else (None, "")
    ranges = []
    for r in ranges_xml:
        first, _, last = (r.text or "").partition("-")
        a, b = int(first), int(last or first)
        ranges.append((a * block, min((b + 1) * block, size), r.get(attr) if attr else None))
    return Bmap(path, size, cs_type, tuple(ranges))


def siblings(image: Path, suffix: str) -> list[Path]:
    """foo.img.xz → foo.img.xz<suffix>, foo.img<suffix>, foo<suffix> (bmaptool's search,
    minus its last step: it would also strip `.0-trixie-arm64` off `foo-1.0-trixie-arm64`)."""
    names = [image.name]
    if image.suffix in COMPRESSORS:
        names.append(image.stem)
    if names[-1].endswith(".img"):
        names.append(names[-1].removesuffix(".img"))
    return [image.with_name(n + suffix) for n in names]


def decompressed_name(image: Path) -> str:
    return image.stem if image.suffix in COMPRESSORS else image.name


def _decompress_argv(image: Path) -> list[str] | None:
    tool = COMPRESSORS.get(image.suffix)
    return [tool, "-dc", str(image)] if tool else None


def stream(image: Path) -> Iterator[bytes]:
    """The decompressed image, in chunks (through xz/zstd/gzip/bzip2 -dc)."""
    argv = _decompress_argv(image)
    if argv is None:
        with image.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
        return
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            while chunk := proc.stdout.read(CHUNK):
                yield chunk
        except BaseException:  # the reader stopped early (a mismatch, ^C): stop the tool
            proc.kill()
            raise
        err = " | ".join(proc.stderr.read().decode(errors="replace").strip().splitlines())
    if proc.returncode != 0:
        raise KitError(
            f"`{' '.join(argv)}` exited {proc.returncode}: {err}",
            "the image is corrupt or incomplete: re-download it, or rebuild it",
        )


def _header_size(image: Path) -> int | None:
    """The decompressed size when the file says it cheaply (raw, xz index, zstd header)."""
    if image.suffix == ".xz":
        out = run(["xz", "--robot", "--list", image], capture=True, fix="is it an .xz file?")
        totals = [ln.split("\t") for ln in out.stdout.splitlines() if ln.startswith("totals")]
        return int(totals[0][4]) if totals else None
    if image.suffix == ".zst":
        out = run(["zstd", "-lv", image], capture=True, fix="is it a .zst file?")
        m = re.search(r"Decompressed Size:.*\((\d+) B\)", out.stdout)
        return int(m[1]) if m else None
    if image.suffix in COMPRESSORS:
        return None  # gzip -l is modulo 4 GiB, bzip2 does not record it
    return image.stat().st_size


@dataclass(frozen=True)
class Image:
    path: Path
    size: int  # decompressed
    bmap: Bmap | None
    checksum: tuple[Path, str, bool] | None  # (the .sha256 file, sha256, of the decompressed?)


def find_checksum(image: Path) -> tuple[Path, str, bool] | None:
    """The sha256 the first existing sibling .sha256 file gives for the image (or for the
    decompressed image, when that is the name it lists)."""
    candidates = [p for p in siblings(image, ".sha256") if p.is_file()]
    for path in candidates:
        for line in _read(path).splitlines():
            m = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line.strip())
            if m and Path(m[2]).name in (image.name, decompressed_name(image)):
                return path, m[1].lower(), Path(m[2]).name != image.name
    if candidates:
        raise KitError(
            f"{candidates[0]} has no sha256 line for {image.name}",
            f"regenerate it: (cd {image.parent} && sha256sum {image.name} > {image.name}.sha256)"
            ", or remove the stale file",
        )
    return None


def resolve_image(image: Path, bmap: Path | None) -> Image:
    if not image.is_file():
        raise KitError(f"no image at {image}", "build it first: ./kit build hardware")
    if ".tar" in image.suffixes or image.suffix in (".zip", ".tgz"):
        raise KitError(f"{image} is an archive, not a disk image", "extract the .img first")
    argv = _decompress_argv(image)
    for tool, package in (("bmaptool", "bmap-tools"), *([(argv[0], argv[0])] if argv else [])):
        if not shutil.which(tool):
            raise KitError(
                f"{tool} not found", f"sudo ./kit doctor --fix (apt-get install {package})"
            )
    if bmap is not None and not bmap.is_file():
        raise KitError(f"no bmap file at {bmap}", "name an existing one, or leave --bmap out")
    bmap = bmap or next((p for p in siblings(image, ".bmap") if p.is_file()), None)
    parsed = read_bmap(bmap) if bmap else None
    size = _header_size(image)
    if parsed and size is not None and size != parsed.image_size:
        raise KitError(
            f"{parsed.path} is not {image.name}'s bmap: ImageSize {parsed.image_size} ≠ "
            f"the image's {size} bytes",
            "use the bmap built with this image (--bmap FILE), or remove the stale one",
        )
    if parsed:
        size = parsed.image_size
    elif size is None:
        with step(f"measure {image.name} (its size is not in its header)"):
            console.print(f"  [dim]$ {escape(' '.join(argv or []))} | wc -c[/]")
            size = sum(len(chunk) for chunk in stream(image))
    return Image(image, size, parsed, find_checksum(image))


def check_file(device: Path, image: Image) -> Target:
    """A regular-file target: created or overwritten, but never the image's own files."""
    own = [image.path, *([image.bmap.path] if image.bmap else [])]
    own += [image.checksum[0]] if image.checksum else []
    if device.exists() and any(os.path.samefile(device, p) for p in own):
        raise KitError(f"{device} is {image.path.name}'s own file", "name a different output")
    if str(device.absolute()).startswith("/dev/") and not device.exists():
        raise KitError(
            f"{device} does not exist",
            f"plug in the card and find its name with `{LSBLK}`",
        )
    if not device.parent.is_dir():
        raise KitError(f"{device}: directory {device.parent} does not exist", "create it first")
    return Target(device, "file", exists=device.exists())


def check_target(device: Path, image: Image, *, force: bool, host: Host) -> Target:
    try:
        mode = os.stat(device).st_mode
    except FileNotFoundError:
        return check_file(device, image)
    except OSError as exc:
        raise KitError(f"cannot look at {device}: {exc.strerror}", "run it as root") from None
    if stat.S_ISBLK(mode):
        dn = node_devnum(str(device)) or ""
        target = check_disk(device, dn, image.size, force=force, host=host)
        if not os.access(device, os.W_OK):
            raise KitError(f"no permission to write {target.label}", "run it with sudo")
        return target
    if stat.S_ISREG(mode):
        return check_file(device, image)
    raise KitError(
        f"{device} is neither a block device nor a regular file",
        f"name the card's whole-disk device, e.g. /dev/sdX or /dev/mmcblkN (`{LSBLK}`)",
    )


# --- writing and verifying -----------------------------------------------------------


def _sha256_matches(image: Image, device: Path) -> None:
    assert image.checksum is not None
    path, expected, of_decompressed = image.checksum
    with step(f"check {image.path.name} against {path.name}"):
        if of_decompressed:
            shown = " ".join(_decompress_argv(image.path) or [])
            console.print(f"  [dim]$ {escape(shown)} | sha256sum[/]")
            h = hashlib.sha256()
            for chunk in stream(image.path):
                h.update(chunk)
            actual = h.hexdigest()
        else:
            out = run(["sha256sum", image.path], capture=True, fix="is the image readable?")
            actual = out.stdout.split()[0]
        if actual != expected:
            raise KitError(
                f"{image.path.name} does not match {path.name} (sha256 {actual[:12]}… ≠ "
                f"{expected[:12]}…): it is corrupt or incomplete; nothing written to {device}",
                "re-download the image, or rebuild it: ./kit build hardware",
            )


def _confirm(image: Image, target: Target, yes: bool) -> None:
    if yes or (target.kind == "file" and not target.exists):
        return
    if not sys.stdin.isatty():
        raise KitError(
            f"no terminal to confirm erasing {target.label} (stdin is not a tty)",
            "check the device shown above, then pass --yes",
        )
    question = f"Write {image.path.name} to {target.path}? This erases everything on it [y/N] "
    if console.input(escape(question)).strip().lower() not in ("y", "yes"):
        raise KitError(f"not confirmed: nothing written to {target.label}", "answer y, or --yes")


def _exclusive(target: Target) -> None:
    """The kernel's own in-use check: an O_EXCL open fails while anything holds the disk."""
    try:
        fd = os.open(target.path, os.O_RDONLY | os.O_EXCL)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise KitError(
                f"{target.label} is busy (mounted or held open exclusively)",
                f"find what holds it: lsblk {target.path}; fuser -vm {target.path}",
            ) from None
        raise KitError(f"cannot open {target.label}: {exc.strerror}", "run it as root") from None
    os.close(fd)


def _open_fresh(target: Target) -> int:
    """DEVICE for reading, past the page cache (bmaptool synced it: its pages are clean)."""
    fd = os.open(target.path, os.O_RDONLY)
    if target.kind == "disk":
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    return fd


def _device_chunks(fd: int, start: int, end: int, label: str) -> Iterator[bytes]:
    while start < end:
        chunk = os.pread(fd, min(CHUNK, end - start), start)
        if not chunk:
            raise KitError(f"{label} ends at byte {start}", "it shrank: re-seat the card, retry")
        start += len(chunk)
        yield chunk


def _mismatch(target: Target, what: str) -> KitError:
    return KitError(
        f"read-back of {target.label} differs from the image ({what})",
        "the card may be failing or fake-capacity: flash again, then try another card",
    )


def verify_bmap_ranges(image: Image, target: Target) -> str:
    """Read every mapped range back from DEVICE and check it against the bmap's checksum."""
    bmap, total = image.bmap, 0
    assert bmap is not None and bmap.checksum_type is not None
    cs_type = bmap.checksum_type
    fd = _open_fresh(target)
    try:
        for start, end, expected in bmap.ranges:
            h = hashlib.new(cs_type)
            for chunk in _device_chunks(fd, start, end, target.label):
                h.update(chunk)
            if expected is not None and h.hexdigest() != expected:
                raise _mismatch(target, f"bytes {start}-{end}")
            total += end - start
    finally:
        os.close(fd)
    return (
        f"read back {len(bmap.ranges)} mapped ranges ({human(total)}) from {target.path}: all "
        f"match the bmap's {bmap.checksum_type} checksums (unmapped blocks are not written)"
    )


def verify_whole(image: Image, target: Target) -> str:
    """sha256 of DEVICE's first N bytes = sha256 of the decompressed image (N bytes)."""
    source = " ".join(_decompress_argv(image.path) or ["cat", str(image.path)])
    console.print(f"  [dim]$ {escape(source)} | sha256sum[/]")
    console.print(f"  [dim]$ head -c {image.size} {escape(str(target.path))} | sha256sum[/]")
    want, got = hashlib.sha256(), hashlib.sha256()
    fd, pos = _open_fresh(target), 0
    try:
        for chunk in stream(image.path):
            want.update(chunk)
            for part in _device_chunks(fd, pos, pos + len(chunk), target.label):
                got.update(part)
            pos += len(chunk)
    finally:
        os.close(fd)
    if want.hexdigest() != got.hexdigest():
        raise _mismatch(target, f"sha256 {got.hexdigest()[:12]}… ≠ {want.hexdigest()[:12]}…")
    return f"read back {human(pos)} from {target.path}: sha256 {got.hexdigest()[:12]}… matches"


def flash(
    image_path: Path,
    device: Path,
    *,
    yes: bool = False,
    force: bool = False,
    bmap: Path | None = None,
    verify: bool = True,
    host: Host | None = None,
) -> Target:
    """Write IMAGE_PATH to DEVICE after every check in this module's docstring."""
    image = resolve_image(image_path, bmap)

    def fresh() -> Host:  # mounts change: the re-check after the question reads them again
        return host or Host.live()

    target = check_target(device, image, force=force, host=fresh())
    console.print(escape(f"  {target.describe()}"))
    bmap_note = image.bmap.path.name if image.bmap else "none beside it: every byte is copied"
    console.print(
        escape(f"  {image.path.name}: {human(image.size)} uncompressed; bmap: {bmap_note}")
    )
    if image.checksum:
        _sha256_matches(image, device)
    else:
        console.print(f"  no .sha256 beside {escape(image.path.name)}: image not checked")
    _confirm(image, target, yes)
    if target.kind == "disk":
        if check_target(device, image, force=force, host=fresh()) != target:
            raise KitError(f"{target.label} changed while waiting", "check lsblk, run it again")
        _exclusive(target)
    argv: list[str | Path] = ["bmaptool", "copy"]
    argv += ["--bmap", image.bmap.path] if image.bmap else ["--nobmap"]
    argv += [] if verify else ["--no-verify"]
    with step(f"write {image.path.name} to {target.path}"):
        run([*argv, image.path, device], fix="read bmaptool's message above; nothing else ran")
    with step("verify"):
        if not verify:
            how = "none (--no-verify): no bmap checksums, no read-back"
        elif image.bmap and image.bmap.checksum_type:
            how = (
                "bmaptool checked the image's data against the bmap while writing; "
                + verify_bmap_ranges(image, target)
            )
        elif image.bmap:  # unmapped blocks keep the card's old bytes: no whole-image compare
            how = (
                f"none: {image.bmap.path.name} has no checksums (bmap format < 1.3); "
                "regenerate it with `bmaptool create` to get a read-back"
            )
        else:
            how = verify_whole(image, target)
        console.print(f"  verification: {escape(how)}")
    return target
