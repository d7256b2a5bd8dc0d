"""Rerun a layer's converge play against the target under test, for another version:
the upgrade check (contract), a downgrade (deb lifecycle). One place maps testinfra's
--hosts spec to ansible-playbook's inventory and connection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest


def ansible_target(hosts: str, converge_on: str, ssh_config: str = "") -> list[str]:
    """testinfra's --hosts spec → ansible-playbook inventory/connection arguments.

    converge_on (layer.toml `contract.converge_on`): "target" (default) runs the converge
    play on the target itself; "controller" runs it on this host, addressing the target by
    name — for layers whose install means driving a local engine (replace the container)."""
    url = urlparse(hosts)
    if converge_on == "controller":
        python = f"ansible_python_interpreter={sys.executable}"
        return ["-i", f"{url.hostname},", "-c", "local", "-e", python]
    if converge_on != "target":
        raise pytest.UsageError(f"contract.converge_on = {converge_on!r}: use target or controller")
    if url.scheme == "docker":
        return ["-i", f"{url.hostname},", "-c", "community.docker.docker"]
    if url.scheme in ("ssh", "paramiko"):
        args = ["-i", f"{url.hostname},", "-c", "ssh"]
        if ssh_config:  # testinfra's --ssh-config: the VM's port, user and key
            args += ["-e", json.dumps({"ansible_ssh_common_args": f"-F {ssh_config}"})]
        if url.username:
            args += ["-u", url.username]
        if url.port:
            args += ["-e", f"ansible_port={url.port}"]
        return [*args, "--become"]
    raise pytest.UsageError(f"no ansible connection for --hosts={hosts}")


def converge(
    request: pytest.FixtureRequest, kit: dict[str, Any], version: str, *extra_vars: str
) -> None:
    """Install `version` (this build's or the next one's) with the layer's converge play."""
    artifacts = (
        kit["kit_artifact_dir"] if version == kit["kit_version"] else kit["kit_next_artifact_dir"]
    )
    hosts = request.config.getoption("hosts").split(",")[0]
    converge_on = kit["kit_contract"].get("converge_on", "target")
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        *ansible_target(hosts, converge_on, request.config.getoption("ssh_config") or ""),
        kit["kit_upgrade_playbook"],
        "-e",
        f"@{Path(request.config.getoption('--kit-vars')).resolve()}",
        "-e",
        f"kit_version={version}",
        "-e",
        f"kit_artifact_dir={artifacts}",
    ]
    for var in extra_vars:
        argv += ["-e", var]
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=Path(kit["kit_root"]) / "ansible"
    )
    assert proc.returncode == 0, (
        f"converge of {version} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    )
