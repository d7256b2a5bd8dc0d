"""How the contract drives the layer's supervisor. One class per supervisor kind
(layer.toml `contract.supervisor`); tests only use the `Supervisor` interface."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import testinfra

from tests.contract.target import Target


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

    def config_source(self, path: str) -> tuple[Any, str]:
        """(testinfra host, path) where an operator edits the config the service reads."""

    def reset_limits(self) -> None:
        """Forget earlier crashes (systemd's start rate limit, docker's restart back-off),
        so a drill's next trial meets the same supervisor as the first; the unit's own
        crash-loop protection stays as it is."""

    def wait_failed(self, timeout: float = 30) -> int:
        """Wait until the service has stopped after a failed start; its exit status."""

    def logs_since(self, since: float) -> str:
        """The service's log (journal, container log) since a wall-clock time."""

    def data_hashes(self, target: Target) -> dict[str, str]:
        """sha256 of each file in the data dir, also while the service is stopped."""

    def small_data_dir(self, target: Target, kib: int) -> Any:
        """Context manager: the service running with its data dir on a KIB-sized tmpfs
        (the real data untouched beside it); yields (Target, Supervisor) to drive."""


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

    # One `systemctl show` answers what a poll needs: on a VM every command is an SSH
    # round trip plus sudo (~0.7 s under TCG), so the waits ask once per poll.
    STATE = ("MainPID", "ExecMainStartTimestampMonotonic", "ActiveState")

    @staticmethod
    def _instance(props: dict[str, str]) -> str:
        return f"{props['MainPID']}@{props['ExecMainStartTimestampMonotonic']}"

    def instance(self) -> str:
        return self._instance(self.show(*self.STATE))

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

    # Read the instance and SIGKILL its main process in one command (one round trip); a
    # MainPID of 0 (not running) is refused, never passed to kill (-9 0 = the whole group).
    CRASH = (
        'props=$(systemctl show "$1" -p MainPID -p ExecMainStartTimestampMonotonic) && '
        'echo "$props" && pid=$(echo "$props" | sed -n "s/^MainPID=//p") && '
        '[ "${pid:-0}" -gt 0 ] && kill -9 "$pid"'
    )

    def crash(self) -> str:
        out = self.host.run("sh -c %s sh %s", self.CRASH, self.unit)
        assert out.rc == 0, (
            f"could not kill -9 the main process of {self.unit} (not running?): "
            f"{out.stdout.strip()} {out.stderr.strip()}"
        )
        return self._instance(dict(ln.split("=", 1) for ln in out.stdout.split() if "=" in ln))

    def wait_restarted(self, old: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            props = self.show(*self.STATE)
            new = self._instance(props)
            if new != old and props["MainPID"] != "0" and props["ActiveState"] == "active":
                return new
            time.sleep(0.5)
        raise AssertionError(
            f"{self.unit} was not restarted within {timeout} s of a crash "
            "— fix: set Restart=on-failure in the unit"
        )

    def list_dir(self, target: Any, path: str) -> list[str]:
        entries: list[str] = target.probe("files", path)  # the target outlives the service
        return entries

    def config_source(self, path: str) -> tuple[Any, str]:
        return self.host, path

    def reset_limits(self) -> None:
        self.host.check_output("systemctl reset-failed %s", self.unit)

    def wait_failed(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            props = self.show("ActiveState", "ExecMainStatus", "ExecMainCode")
            if props["ActiveState"] == "failed":
                return int(props["ExecMainStatus"])
            time.sleep(0.5)
        raise AssertionError(f"{self.unit} still {props['ActiveState']} after {timeout} s")

    def logs_since(self, since: float) -> str:
        # The service's own output only (not the manager's lines about the unit).
        out = self.host.run(
            "journalctl _SYSTEMD_UNIT=%s --since @%s -o cat --no-pager",
            f"{self.unit}.service" if "." not in self.unit else self.unit,
            str(int(since) - 1),
        )
        return str(out.stdout)

    def data_hashes(self, target: Target) -> dict[str, str]:
        found: dict[str, str] = target.probe("hashes", target.data_dir)
        return found

    @contextmanager
    def small_data_dir(self, target: Target, kib: int) -> Iterator[tuple[Target, Supervisor]]:
        svc, data = target.service, target.data_dir
        self.host.check_output("systemctl stop %s", self.unit)
        self.host.check_output(
            "mount -t tmpfs -o size=%s,uid=%s,gid=%s,mode=0750 kit-drill %s",
            f"{kib}k",
            str(svc["uid"]),
            str(svc["gid"]),
            data,
        )
        try:
            self.start()
            target.wait_healthy()
            yield target, self
        finally:
            self.host.run("systemctl stop %s", self.unit)
            self.host.run("umount %s", data)
            self.reset_limits()
            self.start()
            target.wait_healthy()


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

    def config_source(self, path: str) -> tuple[Any, str]:
        for mount in self.inspect()["Mounts"]:
            if mount["Destination"] == path and mount["Type"] == "bind":
                return self.local, str(mount["Source"])
        return self.host, path  # baked into the image

    def reset_limits(self) -> None:
        # The engine's restart back-off doubles per crash until a run lasts 10 s; a manual
        # restart resets it. Only between trials, never in the policy itself.
        if self.inspect()["RestartCount"]:
            self.docker("restart", self.container)

    def wait_failed(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.inspect()["State"]
            if (not state["Running"] or state["Restarting"]) and state["ExitCode"]:
                return int(state["ExitCode"])
            time.sleep(0.3)
        raise AssertionError(f"{self.container} still running after {timeout} s")

    def logs_since(self, since: float) -> str:
        proc = subprocess.run(
            ["docker", "logs", "--since", str(int(since) - 1), self.container],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout + proc.stderr

    def data_hashes(self, target: Target) -> dict[str, str]:
        # `docker cp` reads the volume whether the container runs, restarts or is stopped.
        proc = subprocess.run(
            ["docker", "cp", f"{self.container}:{target.data_dir}", "-"],
            capture_output=True,
            check=False,
        )
        assert proc.returncode == 0, f"docker cp: {proc.stderr.decode().strip()}"
        out = {}
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
            for member in tar.getmembers():
                parts = member.name.split("/")
                if member.isfile() and len(parts) == 2:
                    data = tar.extractfile(member)
                    assert data is not None
                    out[parts[1]] = hashlib.sha256(data.read()).hexdigest()
        return out

    @contextmanager
    def small_data_dir(self, target: Target, kib: int) -> Iterator[tuple[Target, Supervisor]]:
        """A container's mounts are fixed at its creation, so the drill runs a sibling:
        the same image and run options (user, read-only root, dropped capabilities,
        security options, tmpfs mounts, bind-mounted config, environment), with the data
        dir on a small tmpfs instead of the volume. The instance under test is untouched."""
        svc, data = target.service, target.data_dir
        info = self.inspect()
        config, host_config = info["Config"], info["HostConfig"]
        name = f"{self.container}-drill"
        argv = ["run", "-d", "--name", name, "-p", f"127.0.0.1::{svc['port']}"]
        argv += ["--user", config.get("User") or f"{svc['uid']}:{svc['gid']}"]
        argv += ["--tmpfs", f"{data}:size={kib}k,uid={svc['uid']},gid={svc['gid']},mode=0750"]
        if host_config.get("ReadonlyRootfs"):
            argv.append("--read-only")
        for cap in host_config.get("CapDrop") or []:
            argv += ["--cap-drop", cap]
        for opt in host_config.get("SecurityOpt") or []:
            argv += ["--security-opt", opt]
        for path, opts in (host_config.get("Tmpfs") or {}).items():
            argv += ["--tmpfs", f"{path}:{opts}" if opts else path]
        for mount in info["Mounts"]:
            if mount["Type"] == "bind" and mount["Destination"] != data:
                ro = "" if mount["RW"] else ",readonly"
                argv += [
                    "--mount",
                    f"type=bind,src={mount['Source']},dst={mount['Destination']}{ro}",
                ]
        for env in config.get("Env") or []:
            argv += ["-e", env]
        argv += [info["Image"], *(config.get("Cmd") or [])]
        self.docker("rm", "-f", name, check=False)
        self.docker(*argv)
        try:
            port = self.docker("port", name, f"{svc['port']}/tcp").split()[0].rpartition(":")[2]
            sibling = Target(
                testinfra.get_host(f"docker://root@{name}"), target.kit, f"127.0.0.1:{port}"
            )
            sibling.wait_healthy()
            yield sibling, Docker(sibling.host, name)
        finally:
            self.docker("rm", "-f", name, check=False)


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
