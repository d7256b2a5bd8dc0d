"""How the contract drives the layer's supervisor. One class per supervisor kind
(layer.toml `contract.supervisor`); tests only use the `Supervisor` interface."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import testinfra


@dataclass(frozen=True)
class Stopped:
    """How a stop ended, in supervisor-neutral terms."""

    exit_status: int | None  # the main process's exit status; None if a signal killed it
    clean: bool  # the supervisor's own verdict (systemd Result=success; docker: exit 0 in time)
    seconds: float  # how long the stop took
    detail: dict[str, Any] = field(default_factory=dict)  # the supervisor's raw facts


class Supervisor(Protocol):
    kind: str

    def main_pid(self) -> int:
        """The main process's pid as the target (and the probe) sees it; 0 if none."""

    def instance(self) -> str:
        """Identity of the running main process; changes on every (re)start or replacement."""

    def restart(self) -> None: ...

    def stop(self) -> Stopped:
        """Stop with SIGTERM and report how the main process ended."""

    def start(self) -> None: ...

    def crash(self) -> str:
        """SIGKILL the main process, as a crash would; return the instance that was killed."""

    def wait_restarted(self, old: str, timeout: float = 30) -> str:
        """Wait until the supervisor has brought up a new instance; return it."""

    def list_dir(self, target: Any, path: str) -> list[str]:
        """Entries of a directory on the target, also while the service is stopped."""

    def endpoint(self, port: int) -> tuple[str, int] | None:
        """Where the contract's own process can reach the service's port, if it can."""

    def config_source(self, path: str) -> tuple[Any, str]:
        """(testinfra host, path) where an operator edits the config the service reads."""


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

    def instance(self) -> str:
        props = self.show("MainPID", "ExecMainStartTimestampMonotonic")
        return f"{props['MainPID']}@{props['ExecMainStartTimestampMonotonic']}"

    def is_active(self) -> bool:
        return self.show("ActiveState")["ActiveState"] == "active"

    def restart(self) -> None:
        self.host.check_output("systemctl restart %s", self.unit)

    def stop(self) -> Stopped:
        start = time.monotonic()
        self.host.check_output("systemctl stop %s", self.unit)
        seconds = time.monotonic() - start
        props = self.show("ExecMainStatus", "ExecMainCode", "Result", "ActiveState")
        exited = props["ExecMainCode"] == "1"  # CLD_EXITED; 2/3 = killed/dumped by a signal
        return Stopped(
            exit_status=int(props["ExecMainStatus"]) if exited else None,
            clean=props["Result"] == "success",
            seconds=seconds,
            detail=dict(props),
        )

    def start(self) -> None:
        self.host.check_output("systemctl start %s", self.unit)

    def crash(self) -> str:
        old = self.instance()
        self.host.check_output("kill -9 %s", str(self.main_pid()))
        return old

    def wait_restarted(self, old: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = self.instance()
            if new != old and self.main_pid() != 0 and self.is_active():
                return new
            time.sleep(0.5)
        raise AssertionError(
            f"{self.unit} was not restarted within {timeout} s of a crash "
            "— fix: set Restart=on-failure in the unit"
        )

    def list_dir(self, target: Any, path: str) -> list[str]:
        entries: list[str] = target.probe("files", path)  # the target outlives the service
        return entries

    def endpoint(self, port: int) -> tuple[str, int] | None:
        return None  # the port is only reachable inside the target

    def config_source(self, path: str) -> tuple[Any, str]:
        return self.host, path


class Docker:
    """The container runtime as supervisor: the target IS the container. Drives the local
    engine with the docker CLI, so the contract must run on the docker host (as it does
    under molecule). The main process is the container's init: pid 1 in its namespace."""

    kind = "docker"

    def __init__(self, host: Any, container: str) -> None:
        self.host = host
        self.container = container
        self.local = testinfra.get_host("local://")

    def docker(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"`docker {' '.join(args)}` exited {proc.returncode}: {proc.stderr.strip()}"
                " — fix: check the engine (`docker info`) and the container (`docker ps -a`)"
            )
        return proc.stdout

    def inspect(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            self.docker("inspect", "--type", "container", self.container)
        )[0]
        return data

    def image_config(self) -> dict[str, Any]:
        image = self.inspect()["Image"]
        config: dict[str, Any] = json.loads(self.docker("image", "inspect", image))[0]["Config"]
        return config

    def main_pid(self) -> int:
        return 1 if self.inspect()["State"]["Running"] else 0

    def instance(self) -> str:
        info = self.inspect()
        state = info["State"]
        return f"{info['Id'][:12]}/{state['Pid']}@{state['StartedAt']}"

    def restart(self) -> None:
        self.docker("restart", self.container)  # waits up to the container's StopTimeout

    def stop(self) -> Stopped:
        start = time.monotonic()
        self.docker("stop", self.container)
        seconds = time.monotonic() - start
        info = self.inspect()
        state = info["State"]
        timeout = info["Config"].get("StopTimeout") or 10
        exit_code = int(state["ExitCode"])
        detail = {
            "ExitCode": exit_code,
            "OOMKilled": state["OOMKilled"],
            "Error": state["Error"],
            "StopTimeout": timeout,
            "seconds": round(seconds, 2),
        }
        return Stopped(
            exit_status=exit_code,
            # 137 = SIGKILLed after the stop timeout: the drain did not finish in time.
            clean=exit_code == 0 and not state["OOMKilled"] and seconds < timeout,
            seconds=seconds,
            detail=detail,
        )

    def start(self) -> None:
        self.docker("start", self.container)

    def crash(self) -> str:
        # `docker kill` would count as a manual stop, which restart policies ignore by
        # design. A crash is the process dying on its own: SIGKILL its host pid.
        old = self.instance()
        pid = int(self.inspect()["State"]["Pid"])
        assert pid > 0, f"{self.container} is not running"
        try:
            os.kill(pid, signal.SIGKILL)
        except PermissionError:
            raise AssertionError(
                f"cannot SIGKILL pid {pid} — fix: run the contract as root on the docker host"
            ) from None
        return old

    def wait_restarted(self, old: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.inspect()
            new = self.instance()
            if new != old and info["State"]["Running"]:
                return new
            time.sleep(0.5)
        policy = self.inspect()["HostConfig"]["RestartPolicy"]
        raise AssertionError(
            f"{self.container} was not restarted within {timeout} s of a crash (restart policy "
            f"{policy}) — fix: run it with --restart unless-stopped (or on-failure)"
        )

    def list_dir(self, target: Any, path: str) -> list[str]:
        # `docker cp` reads a stopped container's filesystem and volumes, too.
        proc = subprocess.run(
            ["docker", "cp", f"{self.container}:{path}", "-"], capture_output=True, check=False
        )
        assert proc.returncode == 0, f"docker cp {path}: {proc.stderr.decode().strip()}"
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            names = [m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name]
        return sorted(n for n in names if "/" not in n)

    def endpoint(self, port: int) -> tuple[str, int] | None:
        out = self.docker("port", self.container, f"{port}/tcp", check=False).split()
        if not out:
            return None  # not published
        address, _, published = out[0].rpartition(":")
        address = address.strip("[]")
        return ("127.0.0.1" if address in ("0.0.0.0", "::", "") else address), int(published)

    def config_source(self, path: str) -> tuple[Any, str]:
        for mount in self.inspect()["Mounts"]:
            if mount["Destination"] == path and mount["Type"] == "bind":
                return self.local, str(mount["Source"])
        return self.host, path  # baked into the image


def for_target(kind: str, host: Any, unit: str) -> Supervisor:
    if kind == "systemd":
        return Systemd(host, unit)
    if kind == "docker":
        backend = host.backend
        if backend.NAME != "docker":
            raise NotImplementedError(
                f"the docker supervisor needs --hosts=docker://[root@]CONTAINER, not {backend.NAME}"
            )
        return Docker(host, backend.name)
    raise NotImplementedError(f"no contract supervisor for {kind!r} yet — add one in {__file__}")
