"""What only the RPM layer promises (rpm/README.md), on a target where the contract passed
(molecule's verify runs it after tests/contract and tests/selftest):

    pytest rpm/tests --hosts=docker://kit-sample-service-rpm-trixie \
        --kit-vars $PWD/dist/rpm/trixie/kit-vars.json

- the company rpmdb holds exactly the package; it verifies clean (rpm --dbpath … -Va:
  only a %config file may differ, and in content only) and requires nothing but rpmlib()
  features (AutoReqProv: no, Lua scriptlets);
- %pre refuses any rpmdb other than the company one;
- erase stops and disables the service, removes every file `rpm -ql` listed and the
  record in the company rpmdb, and KEEPS the data, the user and an edited config
  (.rpmsave); an install + erase leaves the host's tree (/etc, /usr, /opt, /var/lib) as it
  was (rpm/tests/host_tree.sh); a reinstall serves the old data again;
- relocation: a second copy under another prefix, in its own rpmdb, runs and imports;
- the host's own package databases are byte for byte what the scenario's prepare step
  recorded (rpm/tests/host_dbs.sh).

The tests run in file order; each leaves the target as the next one expects.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.contract.converge import ansible_target, converge
from tests.contract.target import Target

HERE = Path(__file__).resolve().parent
CHECK_IMPORTS = (HERE.parent / "check-imports.py").read_text()
HOST_DBS = (HERE / "host_dbs.sh").read_text()
HOST_DBS_BEFORE = "/var/tmp/kit-host-dbs.before"  # written by ansible/molecule/rpm/prepare.yml
HOST_TREE = (HERE / "host_tree.sh").read_text()
FILES_BEFORE_ERASE = "/var/tmp/kit-rpm-files.before"  # rpm -ql, kept across the erase
# rpm -V's nine flags: S size, M mode, 5 digest, D device, L link target, U user, G group,
# T mtime, P capabilities. An operator's edit of a config changes its content only.
CONTENT_ONLY = re.compile(r"^[.S5T]{9}$")
VERIFY_LINE = re.compile(r"^(?P<flags>\S+)\s+(?:(?P<attr>[cdglr])\s+)?(?P<path>/.*)$")
STAGED_DIR = "/var/tmp/kit-rpm-tests"
OTHER_DB = "/var/tmp/kit-other-rpmdb"
RELOC_ROOT = "/srv/acme-relocated"
UNIT_DIR = "/usr/lib/systemd/system"


@dataclass(frozen=True)
class Rpm:
    """The package under test and the company layout it lives in."""

    name: str
    root: str  # the company root: rpm/layer.toml [contract] install_root's parent
    prefix: str  # install_root
    rpm_file: Path  # the next version's .rpm on the controller (what the contract upgraded to)

    @property
    def wrapper(self) -> str:
        return f"{self.root}/bin/acme-rpm"

    @property
    def nevra(self) -> str:
        return self.rpm_file.name.removesuffix(".rpm")

    @property
    def staged(self) -> str:
        return f"{STAGED_DIR}/{self.rpm_file.name}"

    @property
    def unit(self) -> str:
        return f"{UNIT_DIR}/{self.name}.service"

    @property
    def db(self) -> str:
        """The company rpmdb (rpm/acme-rpm: <root>/var/lib/rpm)."""
        return f"{self.root}/var/lib/rpm"


@pytest.fixture(scope="module")
def rpm(kit: dict[str, Any]) -> Rpm:
    found = sorted(Path(kit["kit_next_artifact_dir"]).glob("*.rpm"))
    assert len(found) == 1, (
        f"expected one .rpm in {kit['kit_next_artifact_dir']}, found {[p.name for p in found]}"
        f" — fix: ./kit build rpm --distro {kit['kit_distro']} (the next version too: "
        "./kit test rpm builds both)"
    )
    prefix = kit["kit_contract"]["install_root"]
    return Rpm(kit["kit_service"]["name"], str(Path(prefix).parent), prefix, found[0])


def acme_rpm(host: Any, rpm: Rpm, *args: str, root: str | None = None) -> Any:
    """Run the acme-rpm wrapper on the target (ACME_ROOT=root: a second company root)."""
    env = f"ACME_ROOT={root} " if root else ""
    return host.run(env + " ".join(["%s"] * (1 + len(args))), rpm.wrapper, *args)


@pytest.fixture(scope="module")
def staged(
    request: pytest.FixtureRequest, host: Any, kit: dict[str, Any], rpm: Rpm
) -> Iterator[str]:
    """The next version's .rpm copied onto the target (ansible's copy over the same
    connection as the converge play), removed afterwards."""
    hosts = request.config.getoption("hosts").split(",")[0]
    host.check_output("install -d -m 0700 %s", STAGED_DIR)
    argv = [
        str(Path(sys.executable).parent / "ansible"),
        "all",
        *ansible_target(hosts, "target"),
        "-m",
        "ansible.builtin.copy",
        "-a",
        f"src={rpm.rpm_file} dest={rpm.staged} mode=0600",
    ]
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=Path(kit["kit_root"]) / "ansible"
    )
    assert proc.returncode == 0, (
        f"staging {rpm.rpm_file} on the target failed:\n{proc.stdout[-2000:]}"
    )
    yield rpm.staged
    host.run("rm -rf %s", STAGED_DIR)


@pytest.fixture(scope="module")
def memo() -> dict[str, Any]:
    """What one test leaves for the next (the item written before the erase)."""
    return {}


def _edit_config(host: Any, target: Target) -> None:
    host.check_output(
        "printf '%%s\\n' %s >> %s", f"# local edit {uuid.uuid4().hex[:8]}", target.config
    )


# --- the company rpmdb --------------------------------------------------------------------


def test_company_rpmdb_holds_exactly_the_package(
    host: Any, kit: dict[str, Any], rpm: Rpm, request: pytest.FixtureRequest
) -> None:
    converge(request, kit, kit["kit_service"]["next_version"])  # no-op after the contract's upgrade
    listed = acme_rpm(host, rpm, "-qa").stdout.split()
    assert listed == [rpm.nevra], (
        f"{rpm.wrapper} -qa lists {listed}, expected exactly [{rpm.nevra}] — fix: install "
        f"only through {rpm.wrapper} (company packages belong in its rpmdb, nothing else does)"
    )


def test_company_rpmdb_verifies_clean_while_installed(host: Any, rpm: Rpm) -> None:
    """rpm -Va against the company rpmdb, named with --dbpath: every file of every company
    package is as shipped. Only a %config file may differ (the contract's upgrade check
    edits it before this runs) and only in content — a changed mode, owner or group, or a
    missing config, is a fault of the package or of what runs it."""
    out = host.run("rpm --dbpath %s -Va", rpm.db)
    configs = set(acme_rpm(host, rpm, "-qc", rpm.name).stdout.split())
    findings = []
    for line in out.stdout.splitlines():
        m = VERIFY_LINE.match(line)
        if not (m and m["attr"] == "c" and m["path"] in configs and CONTENT_ONLY.match(m["flags"])):
            findings.append(line)
    assert not out.stderr.strip(), f"rpm --dbpath {rpm.db} -Va: {out.stderr.strip()}"
    assert not findings, (
        f"rpm --dbpath {rpm.db} -Va reports more than an edited config:\n"
        + "\n".join(findings)
        + "\n— fix: nothing may change the shipped files; modes and owners come from "
        "rpm/PACKAGE.spec.j2 %files and must agree with templates/tmpfiles.conf.j2"
    )
    print(f"\nrpm --dbpath {rpm.db} -Va (rc {out.rc}):\n{out.stdout.strip() or '(clean)'}")


def test_every_file_verifies_and_only_the_edited_config_differs(
    host: Any, rpm: Rpm, target: Target
) -> None:
    clean = acme_rpm(host, rpm, "-V", "--noconfig", rpm.name)
    assert clean.rc == 0 and not clean.stdout.strip(), (
        f"{rpm.wrapper} -V --noconfig {rpm.name} reports changed files:\n{clean.stdout}"
        "— fix: nothing may change the shipped code; reinstall it with acme-rpm -U --replacepkgs"
    )
    if not target.config:
        print("no config file (kit.toml config_template is empty): -V --noconfig is all of -V")
        return
    _edit_config(host, target)
    lines = acme_rpm(host, rpm, "-V", rpm.name).stdout.splitlines()
    expected = rf"^[.S5T]{{9}}\s+c {re.escape(target.config)}$"
    assert len(lines) == 1 and re.match(expected, lines[0]), (
        f"{rpm.wrapper} -V {rpm.name} said {lines}; expected one line for the locally edited "
        f"{target.config}, marked c (config), differing in content only — fix: ship it as "
        "%config(noreplace) in rpm/PACKAGE.spec.j2"
    )


def test_requires_only_rpmlib_features(host: Any, rpm: Rpm) -> None:
    requires = acme_rpm(host, rpm, "-q", "--requires", rpm.name).stdout.splitlines()
    other = [r for r in requires if not r.startswith("rpmlib(")]
    assert not other, (
        f"{rpm.name} requires {other}, which no package in the company rpmdb provides — fix: "
        "keep AutoReqProv: no and Lua scriptlets in rpm/PACKAGE.spec.j2, check the host in %pre"
    )


def test_ships_no_installer_in_the_venv(host: Any, rpm: Rpm) -> None:
    files = acme_rpm(host, rpm, "-ql", rpm.name).stdout.splitlines()
    tools = [f for f in files if re.search(r"/site-packages/(pip|setuptools|wheel)(/|-)", f)]
    assert not tools, f"the venv ships installer tooling: {tools[:5]} — fix: venv --without-pip"


def test_pre_refuses_another_rpmdb(host: Any, rpm: Rpm, staged: str) -> None:
    try:
        out = host.run("rpm --dbpath %s -i %s", OTHER_DB, staged)
    finally:
        host.run("rm -rf %s", OTHER_DB)
    assert out.rc != 0 and "belongs in the company rpmdb" in out.stderr, (
        f"plain `rpm --dbpath {OTHER_DB} -i` was not refused by %pre (rc {out.rc}: "
        f"{out.stderr.strip()[-500:]}) — fix: keep the db guard at the top of %pre"
    )


# --- erase keeps the data, the user and the edited config; leaves nothing else ------------


def _left_of(host: Any, listing: str) -> list[str]:
    """Which paths of a file on the target (one a line) still exist."""
    script = (
        'while IFS= read -r p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done < "$1"'
    )
    return host.check_output("sh -c %s _ %s", script, listing).splitlines()


def test_erase_removes_code_and_unit_and_keeps_data_user_and_edited_config(
    host: Any, rpm: Rpm, target: Target, memo: dict[str, Any]
) -> None:
    svc = target.service
    if svc["http"]["items"]:
        name = f"erase-keeps-data-{uuid.uuid4().hex[:8]}"
        status, item = target.http("POST", svc["http"]["items"], {"name": name})
        assert status == 201, f"POST {svc['http']['items']} answered {status}: {item}"
        memo["item"] = (item["id"], name)
    if target.config:
        _edit_config(host, target)
    # Every path the package owns (files and directories), recorded where the erase
    # cannot touch it.
    listed = acme_rpm(host, rpm, "-ql", rpm.name)
    assert listed.rc == 0 and listed.stdout.strip(), f"{rpm.wrapper} -ql {rpm.name} failed"
    host.check_output("%s -ql %s > %s", rpm.wrapper, rpm.name, FILES_BEFORE_ERASE)

    try:
        erased = acme_rpm(host, rpm, "-e", rpm.name)
        assert erased.rc == 0, f"{rpm.wrapper} -e {rpm.name} failed: {erased.stderr.strip()}"
        left = _left_of(host, FILES_BEFORE_ERASE)
    finally:
        host.run("rm -f %s", FILES_BEFORE_ERASE)

    # Nothing the package owned is left, except the config dir while it holds the
    # .rpmsave of the edited config (rpm keeps a directory that is not empty).
    kept_dir = [target.config.rsplit("/", 1)[0]] if target.config else []
    assert [p for p in left if p not in kept_dir] == [], (
        f"after {rpm.wrapper} -e, these files of the package are still there: {left[:20]} "
        "— fix: whatever makes them (a scriptlet, the service at run time) must not write "
        "into the package's own paths; rpm/PACKAGE.spec.j2 %files lists what it owns"
    )
    # path -> should it exist after the erase: code and unit go, data and edits stay
    expected = {rpm.prefix: False, rpm.unit: False, target.data_dir: True}
    if target.config:
        expected |= {target.config: False, f"{target.config}.rpmsave": True}
    exists = {path: host.file(path).exists for path in expected}
    enabled = host.run("systemctl is-enabled %s", rpm.name)
    assert exists == expected, (
        f"after {rpm.wrapper} -e, exists = {exists}; expected {expected} — fix: erase must "
        "remove code and unit and keep data and an edited config (rpm/PACKAGE.spec.j2 %files: "
        "no data dir, %config(noreplace))"
    )
    assert enabled.rc != 0, f"the unit is still enabled ({enabled.stdout.strip()}) — fix: %preun"
    assert host.user(svc["user"]).exists, f"erase removed the user {svc['user']} — keep it"
    assert acme_rpm(host, rpm, "-q", rpm.name).rc != 0, f"{rpm.name} is still in {rpm.db}"
    assert acme_rpm(host, rpm, "-qa").stdout.strip() == "", "the company rpmdb is not empty"


def test_install_and_erase_leave_the_host_as_it_was(
    host: Any, rpm: Rpm, staged: str, target: Target
) -> None:
    """With the package erased (data, user and .rpmsave kept from the erase above):
    install it, let the service run, erase it — /etc, /usr, /opt and /var/lib must be as
    before, path for path (type, mode, owner, size, sha256, link target). Left out: the
    data dir (erase keeps it, the service writes it) and the company rpmdb (its records
    are checked with rpm -q)."""
    excluded = [target.data_dir, rpm.db]
    tree = "bash -c %s _ " + " ".join(["%s"] * len(excluded))
    before = host.check_output(tree, HOST_TREE, *excluded).splitlines()

    installed = acme_rpm(host, rpm, "-i", staged)
    assert installed.rc == 0, f"{rpm.wrapper} -i {staged} failed: {installed.stderr.strip()}"
    target.wait_healthy()  # it ran: systemd made what a start makes
    erased = acme_rpm(host, rpm, "-e", rpm.name)
    assert erased.rc == 0, f"{rpm.wrapper} -e {rpm.name} failed: {erased.stderr.strip()}"

    after = host.check_output(tree, HOST_TREE, *excluded).splitlines()
    gone, new = sorted(set(before) - set(after)), sorted(set(after) - set(before))
    print(f"\nhost tree: {len(before)} lines before, {len(after)} after the install + erase")
    assert not gone and not new, (
        "an install + erase changed the host (one line a path: type mode owner [size] path, "
        "and sha256 path):\n"
        + "".join(f"  before: {line}\n" for line in gone[:30])
        + "".join(f"  after:  {line}\n" for line in new[:30])
        + "— fix: a scriptlet in rpm/PACKAGE.spec.j2 (or the unit) changed or left these; "
        "erase must undo what install did"
    )


def test_reinstall_serves_data_written_before_the_erase(
    host: Any,
    kit: dict[str, Any],
    rpm: Rpm,
    target: Target,
    memo: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    converge(request, kit, kit["kit_service"]["next_version"])
    target.wait_healthy()
    assert acme_rpm(host, rpm, "-qa").stdout.split() == [rpm.nevra], "the reinstall is missing"
    if "item" not in memo:
        pytest.skip("not applicable: kit.toml declares no service.http.items to read data back")
    item_id, name = memo["item"]
    status, back = target.http("GET", f"{target.service['http']['items']}/{item_id}")
    assert status == 200 and back.get("name") == name, (
        f"the item written before the erase came back as {status} {back} — fix: the package "
        "must not own the data dir (systemd's StateDirectory= makes it)"
    )


# --- relocation: a second copy under another prefix, in its own rpmdb ---------------------


def test_relocated_copy_runs_from_a_second_company_root(
    host: Any, kit: dict[str, Any], rpm: Rpm, staged: str, target: Target
) -> None:
    prefix = f"{RELOC_ROOT}/{rpm.name}"
    # Code only: the config dir and /usr/lib (unit, sysusers, tmpfiles) belong to the instance.
    exclude = ["--excludepath", target.config.rsplit("/", 1)[0]] if target.config else []
    try:
        installed = acme_rpm(
            host,
            rpm,
            "-i",
            "--noscripts",
            "--relocate",
            f"{rpm.prefix}={prefix}",
            *exclude,
            "--excludepath",
            "/usr/lib",
            staged,
            root=RELOC_ROOT,
        )
        assert installed.rc == 0, f"the relocated install failed: {installed.stderr.strip()}"
        # Every compiled module imports, the console script's entry point loads and its
        # relative trampoline finds the relocated python3 (rpm/check-imports.py).
        svc = kit["kit_service"]
        checked = host.run(
            "%s -c %s %s %s",
            f"{prefix}/venv/bin/python3",
            CHECK_IMPORTS,
            svc["python_package"],
            svc["script"],
        )
        assert checked.rc == 0 and f"from {prefix}/venv:" in checked.stdout, (
            f"the relocated venv in {prefix} does not work: {checked.stdout}{checked.stderr} "
            "— fix: console scripts must find python3 relative to themselves (%install step 4)"
        )
        verified = acme_rpm(host, rpm, "-V", rpm.name, root=RELOC_ROOT)
        assert verified.rc == 0, f"the relocated copy does not verify: {verified.stdout}"
    finally:
        acme_rpm(host, rpm, "-e", "--noscripts", rpm.name, root=RELOC_ROOT)
        host.run("rm -rf %s", RELOC_ROOT)


# --- the host's own package databases are untouched ---------------------------------------


def test_host_package_databases_untouched(host: Any) -> None:
    before = host.file(HOST_DBS_BEFORE)
    if not before.exists:
        pytest.skip(
            f"no snapshot {HOST_DBS_BEFORE}: the rpm scenario's prepare step takes it "
            "(by hand: run rpm/tests/host_dbs.sh there before the first install)"
        )
    after = host.check_output("bash -c %s", HOST_DBS)
    was, now = before.content_string.replace("\r\n", "\n").strip(), after.strip()
    print(f"\nbefore the first install:\n{was}\nnow:\n{now}")
    assert was == now, (
        "the host's own package databases changed — something ran rpm without acme-rpm "
        "(fix: every rpm call through acme-rpm; plays with gather_facts: false)"
    )
