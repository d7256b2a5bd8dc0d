"""What only a Debian package must get right: the hardening score of its unit, no
installer tooling shipped, conffile handling on upgrade, downgrade, purge.
The tests run in file order; each leaves the target as the next one expects."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from converge import converge  # the contract's helper; conftest.py puts it on sys.path

MAX_EXPOSURE = 1.5


@pytest.fixture(scope="module")
def kit(request: pytest.FixtureRequest) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(request.config.getoption("--kit-vars")).read_text())
    return data


def _version(host: Any, name: str) -> str:
    out: str = host.check_output("dpkg-query -W -f='${db:Status-Abbrev}|${Version}' %s", name)
    status, version = out.split("|")
    assert status.strip() == "ii", f"package state {status!r}, not fully installed"
    return version


def _served(host: Any, kit: dict[str, Any], path: str) -> Any:
    url = f"http://127.0.0.1:{kit['kit_service']['port']}{path}"
    code = f"import urllib.request as u; print(u.urlopen({url!r}, timeout=5).read().decode())"
    for _ in range(60):
        out = host.run("%s -c %s", kit["kit_contract"]["interpreter"], code)
        if out.rc == 0:
            return json.loads(out.stdout)
        time.sleep(0.5)
    raise AssertionError(f"{path} did not answer within 30 s")


def _install(request: pytest.FixtureRequest, kit: dict[str, Any], version: str) -> None:
    """The scenario's converge play (the service_deb role), downgrades allowed."""
    converge(request, kit, version, "service_deb_allow_downgrade=true")


def test_unit_hardening_exposure(host: Any, kit: dict[str, Any]) -> None:
    unit = f"{kit['kit_service']['name']}.service"
    out = host.check_output("systemd-analyze security --no-pager %s", unit)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert match, out[-500:]
    score = float(match.group(1))
    print(f"\nsystemd-analyze security {unit}: exposure {score} (goal <= {MAX_EXPOSURE})")
    assert score <= MAX_EXPOSURE


def test_no_installer_or_bytecode_shipped(host: Any, kit: dict[str, Any]) -> None:
    listed = host.check_output("dpkg -L %s", kit["kit_service"]["name"]).splitlines()
    assert not [p for p in listed if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in listed if re.search(r"/site-packages/(pip|setuptools)(/|-)", p)]
    assert f"/usr/bin/{kit['kit_service']['name']}" in listed


def test_admin_cli_on_path(host: Any, kit: dict[str, Any]) -> None:
    name = kit["kit_service"]["name"]
    out = host.check_output("%s check-config --config %s", name, kit["kit_contract"]["config"])
    assert out.endswith(": ok")


def test_downgrade_keeps_data_and_config(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    svc, config = kit["kit_service"], kit["kit_contract"]["config"]
    token = f"# local edit {uuid.uuid4().hex[:8]}"
    host.check_output("printf '%%s\\n' %s >> %s", token, config)
    before = _served(host, kit, "/items")["items"]
    _install(request, kit, svc["next_version"])  # no-op when the contract already upgraded
    _install(request, kit, kit["kit_version"])
    assert _version(host, svc["name"]) == kit["kit_version"]
    assert _served(host, kit, "/version")["version"] == kit["kit_version"]
    assert _served(host, kit, "/items")["items"] == before, "data changed in the downgrade"
    assert token in host.file(config).content_string, "local config edit lost"


def test_upgrade_keeps_edit_and_leaves_new_default_as_dpkg_dist(
    host: Any, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    svc, config = kit["kit_service"], kit["kit_contract"]["config"]
    host.run("rm -f %s.dpkg-dist", config)
    token = f"# local edit {uuid.uuid4().hex[:8]}"
    host.check_output("printf '%%s\\n' %s >> %s", token, config)
    before = _served(host, kit, "/items")["items"]
    pid = host.check_output("systemctl show -p MainPID --value %s", svc["name"])
    _install(request, kit, svc["next_version"])
    assert _version(host, svc["name"]) == svc["next_version"]
    assert host.check_output("systemctl show -p MainPID --value %s", svc["name"]) != pid
    assert _served(host, kit, "/version")["version"] == svc["next_version"]
    assert _served(host, kit, "/items")["items"] == before, "data changed in the upgrade"
    assert token in host.file(config).content_string, "local config edit lost"
    dist = host.file(f"{config}.dpkg-dist")
    assert dist.exists, "the new default config was not kept as .dpkg-dist"
    assert f"{svc['name']} {svc['next_version']}" in dist.content_string


def test_purge_removes_config_and_user_keeps_data(host: Any, kit: dict[str, Any]) -> None:
    svc, data = kit["kit_service"], kit["kit_contract"]["data_dir"]
    host.check_output("DEBIAN_FRONTEND=noninteractive apt-get purge -y %s", svc["name"])
    assert host.run("dpkg-query -W %s", svc["name"]).rc != 0 or "un" in host.check_output(
        "dpkg-query -W -f='${db:Status-Abbrev}' %s", svc["name"]
    )
    assert not host.file(kit["kit_contract"]["config"].rsplit("/", 1)[0]).exists
    assert host.run("getent passwd %s", svc["user"]).rc != 0, "service user left behind"
    assert host.run("getent group %s", svc["user"]).rc != 0, "service group left behind"
    assert host.file(f"{data}/items.db").exists, "purge must keep the data (README says so)"
    assert host.run("systemctl is-active --quiet %s", svc["name"]).rc != 0
