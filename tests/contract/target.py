"""The contract's view of one installed target: facts from kit.toml + the layer, a probe
run under the layer's own interpreter, and the supervisor of that layer."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROBE = (Path(__file__).parent / "probe.py").read_text()


@dataclass
class Target:
    host: Any  # testinfra Host
    kit: dict[str, Any]  # the layer's kit-vars.json
    endpoint_spec: str = ""  # --kit-endpoint HOST:PORT, if given

    @property
    def service(self) -> dict[str, Any]:
        return dict(self.kit["kit_service"])

    @property
    def contract(self) -> dict[str, Any]:
        return dict(self.kit["kit_contract"])

    @property
    def scale(self) -> float:
        """How much longer than on a container every wait may take (contract.timeout_scale:
        a VM under emulation boots and restarts slower)."""
        return float(self.contract.get("timeout_scale", 1))

    @property
    def config(self) -> str:
        """The config file the service reads ("" when the service has none)."""
        return str(self.service["config_file"])

    @property
    def data_dir(self) -> str:
        return str(self.service["data_dir"])

    def path(self, what: str, check: str) -> str:
        """kit.toml's [service.http] path `what`, or skip `check` with the reason printed."""
        path = str(self.service["http"].get(what, ""))
        if not path:
            pytest.skip(
                f"not applicable: {check} needs service.http.{what}, which this service "
                "does not declare in kit.toml"
            )
        return path

    def endpoint(self) -> tuple[str, int]:
        """Where this host's own HTTP clients reach the service's port: one mechanism for
        every layer — the target publishes the port on loopback (a container's published
        port; a VM's forwarded port, passed as --kit-endpoint). Resolve it per connection:
        a restarted container may publish another port."""
        if self.endpoint_spec:
            address, _, port = self.endpoint_spec.rpartition(":")
            return address.strip("[]") or "127.0.0.1", int(port)
        backend = self.host.backend
        port = self.service["port"]
        if backend.NAME == "docker":
            proc = subprocess.run(
                ["docker", "port", backend.name, f"{port}/tcp"],
                capture_output=True,
                text=True,
                check=False,
            )
            for line in proc.stdout.split():
                address, _, published = line.rpartition(":")
                if address.strip("[]") in ("127.0.0.1", "0.0.0.0"):
                    return "127.0.0.1", int(published)
        raise AssertionError(
            f"port {port} of the target is not reachable from this host — fix: publish it on "
            f"loopback (docker run -p 127.0.0.1::{port}; molecule platforms.published_ports, "
            "as ansible/molecule/*/molecule.yml do) or pass --kit-endpoint HOST:PORT"
        )

    def url(self, path: str = "") -> str:
        address, port = self.endpoint()
        return f"http://{address}:{port}{path}"

    def probe(self, command: str, *args: str) -> Any:
        out = self.host.run(
            " ".join(["%s"] * (4 + len(args))),
            self.contract["interpreter"],
            "-c",
            PROBE,
            command,
            *args,
        )
        assert out.rc == 0, f"probe {command} failed on the target: {out.stderr.strip()}"
        return json.loads(out.stdout)

    def probe_as_service(self, command: str, *args: str) -> Any:
        """The probe as the service's own user: reads what only it may read (the data
        dir under a container's --cap-drop ALL) and writes files it could own."""
        svc, backend = self.service, self.host.backend
        argv = [self.contract["interpreter"], "-c", PROBE, command, *args]
        if backend.NAME == "docker":
            proc = subprocess.run(
                ["docker", "exec", "-u", f"{svc['uid']}:{svc['gid']}", backend.name, *argv],
                capture_output=True,
                text=True,
                check=False,
            )
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        else:
            ids = [f"--reuid={svc['uid']}", f"--regid={svc['gid']}", "--clear-groups"]
            argv = ["setpriv", *ids, *argv]  # util-linux, on every Debian
            out = self.host.run(" ".join(["%s"] * len(argv)), *argv)
            rc, stdout, stderr = out.rc, out.stdout, out.stderr
        assert rc == 0, f"probe {command} as {svc['user']} failed on the target: {stderr.strip()}"
        return json.loads(stdout)

    def database_state(self) -> str:
        """Assert the service's SQLite database (kit.toml service.database) passes
        PRAGMA integrity_check; return its schema version, for the report."""
        database = str(self.service.get("database", ""))
        if not database:
            return "no database declared"
        check = self.probe_as_service("sqlite_check", database)
        assert check["integrity"] == ["ok"], f"{database} is corrupt: {check['integrity'][:5]}"
        return f"schema {check['user_version']}"

    def http(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.service['port']}{path}"
        args = [method, url] + ([json.dumps(body)] if body is not None else [])
        res = self.probe("http", *args)
        try:
            return res["status"], json.loads(res["body"])
        except ValueError:
            return res["status"], res["body"]

    def wait_healthy(self, timeout: float = 60) -> None:
        """The one health wait of every suite: the service's health path answers 200."""
        health = self.service["http"]["health"]
        timeout *= self.scale
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, body = self.http("GET", health)
            except AssertionError as exc:  # the probe itself failed (e.g. mid-restart)
                status, body = 0, str(exc)
            if status == 200:
                return
            assert time.monotonic() < deadline, f"{health} not 200 within {timeout} s: {body}"
            time.sleep(0.5)
