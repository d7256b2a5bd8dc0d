"""The upgrade check: install the next version over this one; data and a locally edited
config must survive, and the service must come back on the new version."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from supervisors import Systemd
from target import Target


def _ansible_target(hosts: str) -> list[str]:
    """testinfra's --hosts spec → ansible-playbook inventory/connection arguments."""
    url = urlparse(hosts)
    if url.scheme == "docker":
        return ["-i", f"{url.hostname},", "-c", "community.docker.docker"]
    if url.scheme in ("ssh", "paramiko"):
        args = ["-i", f"{url.hostname},", "-c", "ssh"]
        if url.username:
            args += ["-u", url.username]
        if url.port:
            args += ["-e", f"ansible_port={url.port}"]
        return [*args, "--become"]
    raise pytest.UsageError(f"no ansible connection for --hosts={hosts}")


@pytest.mark.upgrade
def test_upgrade_keeps_data_and_local_config(
    target: Target, supervisor: Systemd, kit: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    playbook = Path(kit.get("kit_upgrade_playbook", ""))
    next_dir = Path(kit["kit_next_artifact_dir"])
    if not playbook.is_file() or not next_dir.is_dir():
        pytest.skip(f"no next-version build in {next_dir} — run `./kit test {kit['kit_layer']}`")
    hosts = request.config.getoption("hosts").split(",")[0]
    config, token = target.contract["config"], uuid.uuid4().hex[:12]

    status, item = target.http("POST", "/items", {"name": f"upgrade-{token}"})
    assert status == 201
    target.host.check_output("printf '%%s\\n' %s >> %s", f"# local edit {token}", config)
    old_pid = supervisor.main_pid()

    vars_path = request.config.getoption("--kit-vars")
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
    argv = [
        ansible_playbook,
        *_ansible_target(hosts),
        str(playbook),
        "-e",
        f"@{vars_path}",
        "-e",
        f"kit_version={kit['kit_service']['next_version']}",
        "-e",
        f"kit_artifact_dir={next_dir}",
    ]
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=Path(kit["kit_root"]) / "ansible"
    )
    assert proc.returncode == 0, (
        f"upgrade playbook failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    )

    target.wait_healthy()
    status, doc = target.http("GET", "/version")
    assert doc["version"] == kit["kit_service"]["next_version"], "not running the new version"
    assert supervisor.main_pid() != old_pid, "service was not restarted onto the new version"
    status, back = target.http("GET", f"/items/{item['id']}")
    assert status == 200 and back["name"] == f"upgrade-{token}", "data lost in the upgrade"
    assert f"# local edit {token}" in target.host.file(config).content_string, "config edit lost"
