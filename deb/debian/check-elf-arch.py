"""Fail the build when the venv holds compiled code for another CPU than the package's.
debian/rules runs it on the built venv:
    python3 debian/check-elf-arch.py DEB_HOST_ARCH VENV_DIR

The extension modules come from the wheelhouse (wheel/build.sh downloads them for the
target's CPU), and pip picks them by tag. A cross build (another CPU than the builder's)
tells pip the target's platform: a wrong wheel would install without an error and only
crash on the target at import time, so every ELF file is checked here, by its header."""

import os
import sys

# Debian architecture → ELF e_machine (elf.h): the ones a Debian cross build targets.
MACHINES = {
    "amd64": 62,
    "arm64": 183,
    "armhf": 40,
    "i386": 3,
    "ppc64el": 21,
    "riscv64": 243,
    "s390x": 22,
}

arch, venv = sys.argv[1:]
if arch not in MACHINES:
    sys.exit(f"check-elf-arch: unknown architecture {arch!r} — fix: add its e_machine to MACHINES")
elves = wrong = 0
for dirpath, _dirs, files in os.walk(venv):
    for name in files:
        path = os.path.join(dirpath, name)
        if os.path.islink(path):
            continue
        with open(path, "rb") as f:
            header = f.read(20)
        if len(header) < 20 or header[:4] != b"\x7fELF":
            continue
        elves += 1
        machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
        if machine != MACHINES[arch]:
            wrong += 1
            print(
                f"check-elf-arch: {path}: e_machine {machine}, not {arch}'s {MACHINES[arch]}",
                file=sys.stderr,
            )
if wrong:
    sys.exit(
        f"check-elf-arch: {wrong} of {elves} compiled files are not for {arch} — fix: "
        f"the wheelhouse must hold {arch} wheels (wheel/build.sh with KIT_ARCH={arch})"
    )
print(f"check-elf-arch: {elves} compiled files, all for {arch}")
