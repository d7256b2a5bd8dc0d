"""The upgrade check: install the next version over this one; data and a locally edited
config must survive, and the service must come back on the new version."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from converge import converge
from supervisors import Supervisor
from target import Target


@pytest.mark.upgrade
def test_upgrade_keeps_data_and_local_config(
    target: Target, supervisor: Supervisor, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    playbook = Path(kit.get("kit_upgrade_playbook", ""))
    next_dir = Path(kit["kit_next_artifact_dir"])
    if not playbook.is_file() or not next_dir.is_dir():
        pytest.skip(f"no next-version build in {next_dir} — run `./kit test {kit['kit_layer']}`")
    config, token = target.contract["config"], uuid.uuid4().hex[:12]
    # Where an operator edits the config: on the target, or (a container's bind-mounted
    # config) on the container's host.
    edit_host, edit_path = supervisor.config_source(config)

    status, item = target.http("POST", "/items", {"name": f"upgrade-{token}"})
    assert status == 201
    edit_host.check_output("printf '%%s\\n' %s >> %s", f"# local edit {token}", edit_path)
    old = supervisor.instance()

    converge(request, kit, kit["kit_service"]["next_version"])

    target.wait_healthy()
    status, doc = target.http("GET", "/version")
    assert doc["version"] == kit["kit_service"]["next_version"], "not running the new version"
    assert supervisor.instance() != old, "service was not restarted onto the new version"
    status, back = target.http("GET", f"/items/{item['id']}")
    assert status == 200 and back["name"] == f"upgrade-{token}", "data lost in the upgrade"
    assert supervisor.config_source(config) == (edit_host, edit_path), "config moved"
    assert f"# local edit {token}" in edit_host.file(edit_path).content_string, "config edit lost"
