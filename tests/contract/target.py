"""The contract's view of one installed target: facts from kit.toml + the layer, a probe
run under the layer's own interpreter, and the supervisor of that layer."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE = (Path(__file__).parent / "probe.py").read_text()


@dataclass
class Target:
    host: Any  # testinfra Host
    kit: dict[str, Any]  # the layer's kit-vars.json

    @property
    def service(self) -> dict[str, Any]:
        return dict(self.kit["kit_service"])

    @property
    def contract(self) -> dict[str, Any]:
        return dict(self.kit["kit_contract"])

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

    def http(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.service['port']}{path}"
        args = [method, url] + ([json.dumps(body)] if body is not None else [])
        res = self.probe("http", *args)
        try:
            return res["status"], json.loads(res["body"])
        except ValueError:
            return res["status"], res["body"]

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.http("GET", "/healthz")
            if status == 200:
                return
            assert time.monotonic() < deadline, f"/healthz not 200 within {timeout} s: {body}"
            time.sleep(0.5)
