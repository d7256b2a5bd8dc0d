"""What only a Debian package must get right (the unit's hardening score is the contract's): no
installer tooling shipped, the command on PATH, conffile handling on upgrade, downgrade,
remove (keeps config and data) and purge (leaves nothing). Molecule's verify runs it after
tests/contract (ansible/molecule/deb/verify.yml); by hand, from the kit root:
    pytest deb/tests --hosts=docker://kit-sample-service-deb-trixie \
        --kit-vars $PWD/dist/deb/trixie/kit-vars.json
The fixtures (kit, target, supervisor) come from the contract's plugin
(tests/contract/plugin.py). Every path and name comes from kit-vars.json (kit.toml);
checks that need something the service does not declare are skipped with the reason.
The tests run in file order; each leaves the target as the next one expects."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.contract.converge import converge
from tests.contract.supervisors import Supervisor
from tests.contract.target import Target


def _installed(target: Target) -> str:
    """The installed version; fails unless the package is fully installed (ii)."""
    out: str = target.host.check_output(
        "dpkg-query -W -f='${db:Status-Abbrev}|${Version}' %s", target.service["name"]
    )
    status, version = out.split("|")
    assert status.strip() == "ii", f"package state {status!r}, not fully installed"
    return version


def _install(request: pytest.FixtureRequest, kit: dict[str, Any], version: str) -> None:
    """The scenario's converge play (the service_deb role), downgrades allowed."""
    converge(request, kit, version, "service_deb_allow_downgrade=true")


def _reported_version(target: Target) -> str | None:
    """The version the running service reports, or None if it declares no version path."""
    path = target.service["http"]["version"]
    if not path:
        return None
    status, doc = target.http("GET", path)
    assert status == 200, f"{path} answered {status}"
    return str(doc["version"])


def _write_item(target: Target, token: str) -> dict[str, Any] | None:
    """A record in the service's store (None if it declares no items path)."""
    items = target.service["http"]["items"]
    if not items:
        return None
    status, item = target.http("POST", items, {"name": f"lifecycle-{token}"})
    assert status == 201, f"POST {items} answered {status}: {item}"
    return dict(item)


def _item_kept(target: Target, item: dict[str, Any] | None, token: str, when: str) -> None:
    if item is None:
        return
    items = target.service["http"]["items"]
    status, back = target.http("GET", f"{items}/{item['id']}")
    assert status == 200 and back["name"] == f"lifecycle-{token}", f"data lost in the {when}"


def _edit_config(target: Target, token: str) -> str:
    """Append a local edit to the config (as an operator would); "" if there is none."""
    if not target.config:
        return ""
    edit = f"# local edit {token}"
    target.host.check_output("printf '%%s\\n' %s >> %s", edit, target.config)
    return edit


def _not_applicable(target: Target, what: str) -> None:
    missing = [
        f"{check} (kit.toml declares no {key})"
        for check, key, have in (
            ("data kept", "service.http.items", target.service["http"]["items"]),
            ("local config edit kept", "config_template", target.config),
            ("version reported", "service.http.version", target.service["http"]["version"]),
        )
        if not have
    ]
    if missing:  # the rest of the check still runs
        print(f"not applicable in the {what}: {'; '.join(missing)}")


def test_no_installer_or_bytecode_shipped(target: Target) -> None:
    listed = target.host.check_output("dpkg -L %s", target.service["name"]).splitlines()
    assert not [p for p in listed if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in listed if re.search(r"/site-packages/(pip|setuptools)(/|-)", p)]


def test_command_on_path_links_into_the_venv(target: Target) -> None:
    script, bin_dir = target.service["script"], target.contract["bin_dir"]
    link = target.host.file(f"/usr/bin/{script}")
    assert link.is_symlink, f"/usr/bin/{script} is not shipped as a link"
    assert link.linked_to == f"{bin_dir}/{script}"
    command = target.host.file(f"{bin_dir}/{script}")
    assert command.mode & 0o111, f"{bin_dir}/{script} is not executable"


def test_downgrade_keeps_data_and_config(
    target: Target, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    svc, token = target.service, uuid.uuid4().hex[:8]
    _not_applicable(target, "downgrade")
    _install(request, kit, svc["next_version"])  # no-op when the contract already upgraded
    target.wait_healthy()
    item = _write_item(target, token)
    edit = _edit_config(target, token)

    _install(request, kit, kit["kit_version"])

    assert _installed(target) == kit["kit_version"]
    target.wait_healthy()
    assert _reported_version(target) in (None, kit["kit_version"]), "not running the old version"
    _item_kept(target, item, token, "downgrade")
    if edit:
        assert edit in target.host.file(target.config).content_string, "local config edit lost"


def test_upgrade_keeps_edit_and_leaves_new_default_as_dpkg_dist(
    target: Target, supervisor: Supervisor, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    svc, token = target.service, uuid.uuid4().hex[:8]
    _not_applicable(target, "upgrade")
    if target.config:
        target.host.run("rm -f %s.dpkg-dist", target.config)
    item = _write_item(target, token)
    edit = _edit_config(target, token)
    old = supervisor.instance()

    _install(request, kit, svc["next_version"])

    assert _installed(target) == svc["next_version"]
    target.wait_healthy()
    assert supervisor.instance() != old, "the upgrade did not restart the service"
    assert _reported_version(target) in (None, svc["next_version"]), "not running the new version"
    _item_kept(target, item, token, "upgrade")
    if edit:
        assert edit in target.host.file(target.config).content_string, "local config edit lost"
        dist = target.host.file(f"{target.config}.dpkg-dist")
        assert dist.exists, "the new default config was not kept as .dpkg-dist"
        assert f"{svc['name']} {svc['next_version']}" in dist.content_string


def _state(target: Target) -> str:
    """dpkg's two-letter state of the package ("un" when dpkg has no record of it)."""
    out = target.host.run("dpkg-query -W -f='${db:Status-Abbrev}' %s", target.service["name"])
    return out.stdout.strip()[:2] if out.rc == 0 else "un"


def test_remove_keeps_config_data_and_user(target: Target) -> None:
    svc, token = target.service, uuid.uuid4().hex[:8]
    item = _write_item(target, token)
    target.host.check_output("DEBIAN_FRONTEND=noninteractive apt-get remove -y %s", svc["name"])
    assert _state(target) == "rc", f"after apt remove the state is {_state(target)!r}, not rc"
    assert target.host.run("systemctl is-active --quiet %s", svc["name"]).rc != 0, "still running"
    assert not target.host.file(target.contract["install_root"]).exists, "the venv is left behind"
    if target.config:
        assert target.host.file(target.config).exists, "apt remove must keep the config"
    data = target.host.file(target.data_dir)
    assert data.is_directory, f"apt remove must keep the data in {target.data_dir}"
    if item is not None:
        assert target.host.check_output("ls -A %s", target.data_dir), "data dir emptied"
    assert target.host.run("getent passwd %s", svc["user"]).rc == 0, "remove took the user"


def test_purge_leaves_nothing_behind(target: Target) -> None:
    """Purge = the host as it was before the install (lib/piuparts.sh proves the same in a
    clean chroot): config, data, user and group go; the directories that were there before
    (e.g. /opt, which base-files makes and dpkg counts as the package's) stay."""
    svc = target.service
    unit_link = f"/etc/systemd/system/multi-user.target.wants/{svc['name']}.service"
    target.host.check_output("DEBIAN_FRONTEND=noninteractive apt-get purge -y %s", svc["name"])
    assert _state(target) in ("un", "pn"), f"after apt purge the state is {_state(target)!r}"
    paths = (svc["config_dir"], target.data_dir, target.contract["install_root"], unit_link)
    left = [p for p in paths if target.host.run("test -e %s || test -L %s", p, p).rc == 0]
    assert not left, f"apt purge left {left} — fix: deb/debian/PACKAGE.postrm.j2 (purge)"
    assert target.host.run("getent passwd %s", svc["user"]).rc != 0, "service user left behind"
    assert target.host.run("getent group %s", svc["group"]).rc != 0, "service group left behind"
    parent = target.contract["install_root"].rsplit("/", 1)[0]
    top = "/" + parent.strip("/").split("/")[0]
    assert target.host.file(top).is_directory, (
        f"apt purge removed {top}, which was there before the install — fix: the postrm's "
        "remove branch (deb/debian/PACKAGE.postrm.j2)"
    )
