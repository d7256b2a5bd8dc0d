"""What a built artifact is made of, read from the file itself: its members (name → sha256
of the content) for the formats the layers write, so `kit compare` can count files and
name the first member two builds disagree on."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Suffixes of the files a layer's out dir holds that are not artifacts of their own.
SIDE_SUFFIXES = (
    ".sha256",
    ".lintian.txt",
    ".build-times.tsv",
    ".packages.tsv",
    ".json",
    ".bmap",
    ".log",
)


def main_artifacts(out: Path) -> list[Path]:
    """The artifact files of a build's out dir (checksums, logs and manifests left out)."""
    return sorted(p for p in out.iterdir() if p.is_file() and not p.name.endswith(SIDE_SUFFIXES))


COMPRESSED = (".xz", ".gz", ".zst")


def shipped(out: Path) -> list[Path]:
    """The artifact files a host downloads: the main ones, minus an uncompressed copy kept
    beside its compressed twin (the Pi image's .img, which the test boots, beside the
    .img.xz that is flashed)."""
    return [
        p
        for p in main_artifacts(out)
        if not any((p.parent / (p.name + ext)).is_file() for ext in COMPRESSED)
    ]


def sboms(out: Path) -> list[Path]:
    """SBOM files a build wrote beside its artifacts (CycloneDX or SPDX)."""
    return sorted(
        p
        for p in out.iterdir()
        if p.is_file() and ("sbom" in p.name.lower() or p.name.endswith((".cdx.json", ".spdx")))
    )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_members(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: _digest(z.read(i)) for i in z.infolist() if not i.is_dir()}


def _tar_members(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with tarfile.open(path) as t:
        for m in t:
            if m.isfile():
                f = t.extractfile(m)
                out[m.name] = _digest(f.read() if f else b"")
            elif m.issym() or m.islnk():
                out[m.name] = "→ " + m.linkname
    return out


def _deb_members(path: Path) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.tar"
        with data.open("wb") as f:
            subprocess.run(["dpkg-deb", "--fsys-tarfile", str(path)], check=True, stdout=f)
        return _tar_members(data)


def members(path: Path) -> dict[str, str] | None:
    """Member name → content sha256 (a link → its target), or None for a format whose
    members are not read here (a disk image, an rpm)."""
    name = path.name
    if name.endswith((".whl", ".pex", ".zip")):
        return _zip_members(path)
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.xz")):
        return _tar_members(path)
    if name.endswith(".deb"):
        return _deb_members(path)
    return None


def first_difference(a: Path, b: Path) -> str:
    """Where two files that should be the same differ: the first member (sorted) whose
    content or presence differs, else "the container bytes" (same members, other order,
    timestamps or compression)."""
    ma, mb = members(a), members(b)
    if ma is None or mb is None:
        return "the file bytes (its members are not compared for this format)"
    for name in sorted(set(ma) | set(mb)):
        if ma.get(name) != mb.get(name):
            if name not in ma or name not in mb:
                return f"{name} (only in {'the first' if name in ma else 'the second'} build)"
            return name
    return "the archive itself (same members and contents: order, timestamps or compression)"
