"""What only an Omnibus package must get right, checked on the installed target after the
contract (ansible/molecule/omnibus/verify.yml): the host has no Python and needs none; the
package owns nothing outside /opt/<name>; the embedded interpreter and libraries are the
ones version-manifest.json names (not the host's); the trimmed parts are gone; every
component's licence is shipped; an .rpm lives in the company rpmdb only. By hand, from
the kit root:
    pytest omnibus/tests --hosts=docker://kit-sample-service-omnibus-trixie \
        --kit-vars $PWD/dist/omnibus/trixie/kit-vars.json
Every path comes from kit-vars.json (kit.toml + omnibus/layer.toml)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.target import Target

# The stdlib parts the project excludes (omnibus/config/projects/kit.rb `exclude`).
TRIMMED = ("test", "idlelib", "tkinter", "turtledemo")
# Where the omnibus role puts the rpm layer's wrapper (service_omnibus_rpm_root/bin).
ACME_RPM = "/opt/acme/bin/acme-rpm"


@pytest.fixture(scope="module")
def manifest(target: Target) -> dict[str, Any]:
    root = target.contract["install_root"]
    doc: dict[str, Any] = json.loads(
        target.host.file(f"{root}/version-manifest.json").content_string
    )
    return doc


def _embedded_python(target: Target, code: str, *args: str) -> str:
    argv = [target.contract["interpreter"], "-I", "-c", code, *args]
    out = target.host.run(" ".join(["%s"] * len(argv)), *argv)
    assert out.rc == 0, f"the embedded Python failed: {out.stderr.strip()}"
    return str(out.stdout.strip())


def test_the_host_has_no_python_of_its_own(target: Target) -> None:
    found = target.host.run("command -v python3 || command -v python || ls /usr/bin/python*")
    assert found.rc != 0, f"the target has a Python outside the package: {found.stdout.strip()}"


def _package_format(kit: dict[str, Any]) -> str:
    """deb or rpm: which of the build's two packages this target got (layer.toml
    target.formats; ansible/molecule/omnibus/converge.yml)."""
    return str(kit.get("kit_package_format", "deb"))


def test_the_package_owns_only_its_install_root(target: Target, kit: dict[str, Any]) -> None:
    root, name = target.contract["install_root"], target.service["name"]
    if _package_format(kit) == "rpm":
        files = target.host.check_output("%s -ql %s", ACME_RPM, name).splitlines()
    else:
        files = target.host.check_output("dpkg-query -L %s", name).splitlines()
    outside = [f for f in files if f not in ("/.", "/opt") and not f.startswith(root)]
    assert files and not outside, f"the package ships files outside {root}: {outside[:5]}"


def test_an_rpm_is_recorded_in_the_company_rpmdb_only(target: Target, kit: dict[str, Any]) -> None:
    """The .rpm went in through the rpm layer's acme-rpm: recorded and verifiable in the
    company rpmdb; neither dpkg nor the OS's rpmdb (/var/lib/rpm) knows of it."""
    if _package_format(kit) != "rpm":
        pytest.skip("not applicable: this target got the .deb (dpkg's record: the test above)")
    name = target.service["name"]
    known = target.host.run("%s -q %s", ACME_RPM, name)
    assert known.rc == 0, f"{name} is not in the company rpmdb: {known.stdout}{known.stderr}"
    verify = target.host.run("%s -V %s", ACME_RPM, name)
    assert verify.rc == 0, (
        f"rpm -V {name}: installed files differ from the package:\n{verify.stdout}"
    )
    dpkg = target.host.run("dpkg-query -W %s", name)
    assert dpkg.rc != 0, f"dpkg knows {name}: {dpkg.stdout.strip()}"
    os_db = target.host.run("find /var/lib/rpm -type f")
    assert not os_db.stdout.strip(), f"the OS rpmdb was written: {os_db.stdout.split()[:5]}"


def test_manifest_names_every_component_with_its_pinned_source(
    manifest: dict[str, Any],
) -> None:
    assert manifest["manifest_format"] == 2
    software = manifest["software"]
    for name in ("python", "openssl", "libsqlite3", "libffi", "zlib", "bzip2", "liblzma"):
        assert name in software, f"version-manifest.json lacks {name}"
        entry = software[name]
        assert entry["locked_version"], f"{name} has no version"
        assert len(entry["locked_source"].get("sha256", "")) == 64, f"{name} has no sha256"


def test_the_interpreter_is_the_manifests_cpython(target: Target, manifest: dict[str, Any]) -> None:
    got = _embedded_python(target, "import platform; print(platform.python_version())")
    assert got == manifest["software"]["python"]["locked_version"]


def test_ssl_and_sqlite_are_the_embedded_builds(target: Target, manifest: dict[str, Any]) -> None:
    """The modules load the package's libraries (their versions are the pinned ones), not a
    host copy — the health check proves the link paths, this the running result."""
    got = _embedded_python(
        target, "import ssl, sqlite3; print(ssl.OPENSSL_VERSION); print(sqlite3.sqlite_version)"
    ).splitlines()
    openssl = manifest["software"]["openssl"]["locked_version"]
    sqlite = manifest["software"]["libsqlite3"]["locked_version"]
    assert got[0].startswith(f"OpenSSL {openssl}"), f"ssl is {got[0]}, the package pins {openssl}"
    assert got[1] == sqlite, f"sqlite3 is {got[1]}, the package pins {sqlite}"


def test_every_embedded_library_resolves_inside_the_package(target: Target) -> None:
    root = target.contract["install_root"]
    maps = _embedded_python(
        target,
        "import ssl, sqlite3, ctypes, lzma, bz2, zlib, hashlib;"
        "print(open('/proc/self/maps').read())",
    )
    libs = {line.split()[-1] for line in maps.splitlines() if ".so" in line}
    for soname in ("libssl", "libcrypto", "libsqlite3", "libffi", "libz.so", "liblzma", "libbz2"):
        loaded = [lib for lib in libs if f"/{soname}" in lib]
        assert loaded, f"{soname} is not loaded at all"
        assert all(lib.startswith(f"{root}/embedded/") for lib in loaded), (
            f"{soname} came from the host: {loaded}"
        )


def test_the_stdlib_is_trimmed(target: Target) -> None:
    root = target.contract["install_root"]
    stdlib = _embedded_python(target, "import sysconfig; print(sysconfig.get_paths()['stdlib'])")
    assert stdlib.startswith(f"{root}/embedded/")
    for part in TRIMMED:
        assert not target.host.file(f"{stdlib}/{part}").exists, f"{stdlib}/{part} was not trimmed"
    leftovers = target.host.run(
        "find %s/embedded -name '*.a' -o -name '*.h' -o -name '*.opt-1.pyc' | head -3", root
    ).stdout.strip()
    assert not leftovers, f"static libraries, headers or optimised bytecode left: {leftovers}"


def test_every_component_ships_its_licence(target: Target, manifest: dict[str, Any]) -> None:
    root = target.contract["install_root"]
    licences = target.host.check_output("ls %s/LICENSES", root).split()
    for name in manifest["software"]:
        if name == "kit-service":
            continue  # the project's own licence: /opt/<name>/LICENSE
        assert any(f.startswith(f"{name}-") for f in licences), f"no licence of {name} in LICENSES/"
    assert target.host.file(f"{root}/LICENSE").exists


STALE_BYTECODE = r"""
import pathlib, struct, sys
stale = []
for pyc in pathlib.Path(sys.argv[1]).rglob("*.cpython-*.pyc"):
    src = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
    if not src.exists():
        continue
    head = pyc.read_bytes()[:16]
    if struct.unpack("<I", head[4:8])[0] & 1:
        continue  # hash-based: valid whatever the source's mtime
    if struct.unpack("<I", head[8:12])[0] != int(src.stat().st_mtime) & 0xFFFFFFFF:
        stale.append(str(src))
print(len(stale), *stale[:3])
"""


def test_bytecode_is_valid_as_installed(target: Target) -> None:
    """A .pyc whose recorded mtime is not its source's is recompiled in memory at every
    start (the service cannot write the tree): the packages clamp mtimes, so the build
    compiles checked-hash bytecode. None may be stale on the host."""
    root = target.contract["install_root"]
    out = _embedded_python(target, STALE_BYTECODE, root).split()
    assert out[0] == "0", f"{out[0]} stale .pyc under {root}, e.g. {out[1:]}"
