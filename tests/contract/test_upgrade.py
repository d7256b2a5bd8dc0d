"""The upgrade check: install the next version over this one; data and a locally edited
config must survive, and the service must come back on the new version."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.contract.converge import converge
from tests.contract.supervisors import Supervisor
from tests.contract.target import Target


@pytest.mark.upgrade
def test_upgrade_keeps_data_and_local_config(
    target: Target, supervisor: Supervisor, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    playbook = Path(kit.get("kit_upgrade_playbook", ""))
    next_dir = Path(kit["kit_next_artifact_dir"])
    if not playbook.is_file() or not next_dir.is_dir():
        pytest.skip(f"no next-version build in {next_dir} — run `./kit test {kit['kit_layer']}`")
    svc, token = target.service, uuid.uuid4().hex[:12]
    items, config, version = svc["http"]["items"], target.config, svc["http"]["version"]
    skipped = [
        f"{what} (kit.toml declares no {key})"
        for what, key, have in (
            ("data kept", "service.http.items", items),
            ("local config edit kept", "config_template", config),
            ("new version reported", "service.http.version", version),
        )
        if not have
    ]
    if skipped:  # the rest of the upgrade is still checked
        print(f"not applicable in this upgrade check: {'; '.join(skipped)}")

    if items:
        status, item = target.http("POST", items, {"name": f"upgrade-{token}"})
        assert status == 201
    if config:
        # Where an operator edits the config: on the target, or (a container's
        # bind-mounted config) on the container's host.
        edit_host, edit_path = supervisor.config_source(config)
        edit_host.check_output("printf '%%s\\n' %s >> %s", f"# local edit {token}", edit_path)
    old = supervisor.instance()
    before = target.database_state()

    converge(request, kit, svc["next_version"])

    target.wait_healthy()
    assert supervisor.instance() != old, "service was not restarted onto the new version"
    if version:
        status, doc = target.http("GET", version)
        assert doc["version"] == svc["next_version"], "not running the new version"
    if items:
        status, back = target.http("GET", f"{items}/{item['id']}")
        assert status == 200 and back["name"] == f"upgrade-{token}", "data lost in the upgrade"
    if config:
        assert supervisor.config_source(config) == (edit_host, edit_path), "config moved"
        content = edit_host.file(edit_path).content_string
        assert f"# local edit {token}" in content, "config edit lost"
    after = target.database_state()
    print(f"upgrade {kit['kit_version']} → {svc['next_version']}: {before} → {after}")


@pytest.mark.upgrade
def test_rollback_runs_on_the_upgraded_data(
    target: Target, supervisor: Supervisor, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    """After the upgrade (the test above): reinstall this version over the next one. The
    next version migrated the data (kit.toml [upgrade] next_files); the service decides
    whether it can run on that — this one does (the migration is additive): data written
    by either version reads back, writes work, the schema is left as the upgrade made it.
    A service that cannot must refuse to start instead (its own unit tests prove that)."""
    items, version = target.service["http"]["items"], target.service["http"]["version"]
    if not items:
        pytest.skip("not applicable: the rollback check needs service.http.items in kit.toml")
    svc, token = target.service, uuid.uuid4().hex[:12]
    target.wait_healthy()
    upgraded = target.database_state()
    status, item = target.http("POST", items, {"name": f"written-by-next-{token}"})
    assert status == 201, item
    old = supervisor.instance()

    converge(request, kit, kit["kit_version"], *target.contract.get("rollback_vars", []))

    target.wait_healthy()
    assert supervisor.instance() != old, "service was not restarted onto the previous version"
    if version:
        status, doc = target.http("GET", version)
        assert doc["version"] == kit["kit_version"], f"rolled back to {doc['version']}"
    status, back = target.http("GET", f"{items}/{item['id']}")
    assert status == 200 and back["name"] == f"written-by-next-{token}", "data lost in rollback"
    status, again = target.http("POST", items, {"name": f"written-after-rollback-{token}"})
    assert status == 201, f"the previous version cannot write the upgraded data: {again}"
    rolled_back = target.database_state()
    assert rolled_back == upgraded, f"the rollback changed the schema: {upgraded} → {rolled_back}"
    print(
        f"rollback {svc['next_version']} → {kit['kit_version']}: {upgraded} kept, "
        "data readable, writes work"
    )
