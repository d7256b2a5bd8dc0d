#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM (JSON) of the Debian packages installed in a disk image (the
packer VM image, the hardware Pi image), from its package list (packages.tsv: name,
version, arch, source, source version — packer/scripts/80-package-list.sh, or
hardware/steps/20-service.sh). Standard library only.

    python3 lib/debian-sbom.py --packages packages.tsv \
        --image sample-service-1.0.0-trixie-amd64.qcow2 --name <name> --version <version> \
        --distro trixie --out image.cdx.json

Each package becomes a component with a purl, the purl spec's form for Debian:
`pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-13` (`upstream=` names the source
package when it differs).
The output is reproducible: the serial number is derived from the image's sha256, the
timestamp from SOURCE_DATE_EPOCH when set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

DEBIAN_RELEASE = {"bookworm": "12", "trixie": "13"}


def purl(name: str, version: str, arch: str, distro: str, source: str, source_version: str) -> str:
    qualifiers = [f"arch={quote(arch, safe='')}"]
    if distro in DEBIAN_RELEASE:
        qualifiers.append(f"distro=debian-{DEBIAN_RELEASE[distro]}")
    if source and (source != name or (source_version and source_version != version)):
        upstream = source if not source_version else f"{source}@{source_version}"
        qualifiers.append(f"upstream={quote(upstream, safe='@')}")
    path = f"{quote(name, safe='')}@{quote(version, safe='')}"
    return f"pkg:deb/debian/{path}?{'&'.join(sorted(qualifiers))}"


def read_packages(path: Path) -> list[dict[str, str]]:
    packages = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            sys.exit(f"{path}:{number}: expected tab-separated name, version, arch[, source, …]")
        fields += [""] * (5 - len(fields))
        name, version, arch, source, source_version = fields[:5]
        packages.append(
            {
                "name": name,
                "version": version,
                "arch": arch,
                "source": source or name,
                "source_version": source_version or version,
            }
        )
    if not packages:
        sys.exit(f"{path}: no packages listed")
    return packages


def sbom(args: argparse.Namespace) -> dict[str, object]:
    image = Path(args.image)
    digest = hashlib.sha256()
    with image.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    components = []
    for p in read_packages(Path(args.packages)):
        ref = purl(
            p["name"], p["version"], p["arch"], args.distro, p["source"], p["source_version"]
        )
        components.append(
            {
                "type": "library",
                "bom-ref": ref,
                "name": p["name"],
                "version": p["version"],
                "purl": ref,
                "properties": [
                    {"name": "debian:source", "value": p["source"]},
                    {"name": "debian:source_version", "value": p["source_version"]},
                    {"name": "debian:arch", "value": p["arch"]},
                ],
            }
        )
    components.sort(key=lambda c: str(c["bom-ref"]))
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": uuid.uuid5(uuid.NAMESPACE_URL, f"sha256:{digest.hexdigest()}").urn,
        "version": 1,
        "metadata": {
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "lib/debian-sbom.py"}]},
            "component": {
                "type": "operating-system",
                "bom-ref": image.name,
                "name": f"{args.name}-vm-image",
                "version": args.version,
                "description": f"qcow2 VM image: Debian {args.distro} + {args.name} {args.version}",
                "hashes": [{"alg": "SHA-256", "content": digest.hexdigest()}],
                "properties": [
                    {"name": "image:file", "value": image.name},
                    {"name": "image:format", "value": "qcow2"},
                ],
            },
        },
        "components": components,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", required=True, help="packages.tsv of the image")
    parser.add_argument(
        "--image", required=True, help="the disk image the SBOM describes (its sha256: the serial)"
    )
    parser.add_argument("--name", required=True, help="the service's name (kit.toml)")
    parser.add_argument("--version", required=True, help="the service's version")
    parser.add_argument("--distro", required=True, help="Debian release codename")
    parser.add_argument("--out", required=True, help="the SBOM file to write")
    args = parser.parse_args()
    Path(args.out).write_text(json.dumps(sbom(args), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
