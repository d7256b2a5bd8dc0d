"""How the contract drives the layer's supervisor. One class per supervisor kind
(layer.toml `contract.supervisor`); tests only use this interface."""

from __future__ import annotations

import time
from typing import Any


class Systemd:
    kind = "systemd"

    def __init__(self, host: Any, unit: str) -> None:
        self.host = host
        self.unit = unit

    def show(self, *props: str) -> dict[str, str]:
        out = self.host.check_output("systemctl show %s -p %s", self.unit, ",".join(props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def main_pid(self) -> int:
        return int(self.show("MainPID")["MainPID"])

    def is_active(self) -> bool:
        return self.show("ActiveState")["ActiveState"] == "active"

    def restart(self) -> None:
        self.host.check_output("systemctl restart %s", self.unit)

    def stop(self) -> dict[str, str]:
        """Stop with SIGTERM; return how the main process ended."""
        self.host.check_output("systemctl stop %s", self.unit)
        return self.show("ExecMainStatus", "ExecMainCode", "Result", "ActiveState")

    def start(self) -> None:
        self.host.check_output("systemctl start %s", self.unit)

    def crash(self) -> int:
        """SIGKILL the main process, as a crash would; return the killed pid."""
        pid = self.main_pid()
        self.host.check_output("kill -9 %s", str(pid))
        return pid

    def wait_new_main_pid(self, old: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.main_pid()
            if pid not in (0, old) and self.is_active():
                return pid
            time.sleep(0.5)
        raise AssertionError(f"{self.unit} was not restarted within {timeout} s of a crash")


def for_target(kind: str, host: Any, unit: str) -> Systemd:
    if kind == "systemd":
        return Systemd(host, unit)
    raise NotImplementedError(f"no contract supervisor for {kind!r} yet — add one in {__file__}")
