"""Fabric tasks: the ad-hoc path — one host over SSH, no inventory, no Ansible.

    fab -r ansible/fabric -H admin@host deploy --artifact dist/deb/trixie/1.0.1/<the .deb>
    fab -r ansible/fabric -H admin@host status
    fab -r ansible/fabric -H admin@host logs --lines 100
    fab -r ansible/fabric -H admin@host rollback

(`-i KEY` for a key, `-H user@host:port` for another port; run from the kit's checkout with
its venv: `.kit/venv/bin/fab`.) The service's identity — package and unit name, port,
health and version paths — is read from kit.toml, never typed here.

What `deploy` installs: a package, which carries its own unit, user and config — the .deb
of the deb layer (or the Omnibus .deb) with apt, the .rpm of the rpm layer (or the Omnibus
.rpm) into the company rpmdb with the host's acme-rpm. The other layers' artifacts need the
user and unit their Ansible role makes (ansible/roles/service_<layer>). Every deploy is
health-gated (health 200, then /version = the package's version) and keeps the artifact
it replaced on the host, in /var/lib/<name>-deploy/, for `rollback`; a deploy that fails
its gate puts that one back at once. Needs root or sudo on the host. Every failure is one
line that names the host and the fix (exit 2).
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko
from fabric import Connection, task
from invoke.exceptions import Exit, UnexpectedExit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from kitcli.errors import KitError  # noqa: E402  (the kit's checkout, on the path above)
from kitcli.settings import Settings, load  # noqa: E402

GATE_SECONDS = 60  # the default wait for the first health 200 (deploy/rollback --gate-seconds)
KINDS = {".deb": "deb", ".rpm": "rpm"}
ACME_RPM = "/opt/acme/bin/acme-rpm"  # where the service_rpm role installs it

# paramiko logs every refused channel (the health probe before the service listens) as a
# warning on stderr: the tasks report in one line instead.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False


class Failed(Exception):
    """One line for the user: what went wrong and the fix."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem} — fix: {fix}")


def _settings() -> Settings:
    try:
        return load()
    except KitError as exc:
        raise Exit(f"kit.toml: {exc.problem} — fix: {exc.fix}", code=2) from None


def _host(c: Connection) -> str:
    return f"{c.user}@{c.host}:{c.port}"


@contextmanager
def _one_line(c: Connection) -> Iterator[None]:
    """Turn every failure into one line naming the host and the fix (exit 2)."""
    try:
        yield
    except Failed as exc:
        raise Exit(f"{_host(c)}: {exc}", code=2) from None
    except paramiko.AuthenticationException as exc:
        raise Exit(
            f"{_host(c)}: SSH refused the login ({exc}) — fix: pass the right key (-i KEY) "
            "and user (-H user@host), or add your key to the user's authorized_keys",
            code=2,
        ) from None
    except (OSError, paramiko.SSHException) as exc:
        raise Exit(
            f"{_host(c)}: cannot reach the host over SSH ({exc or type(exc).__name__}) — fix: "
            "check the host name and port (-H user@host:port) and that sshd runs there",
            code=2,
        ) from None
    except UnexpectedExit as exc:
        result = exc.result
        said = (result.stderr or result.stdout).strip().splitlines()
        raise Exit(
            f"{_host(c)}: `{result.command}` exited {result.exited}: "
            f"{said[-1] if said else '(no output)'} — fix: see `fab logs` and the command above",
            code=2,
        ) from None


def _root(c: Connection, command: str, hide: bool = True, warn: bool = False) -> str:
    """Run COMMAND as root (sudo unless the login is root); return its stdout."""
    runner = c.run if c.user == "root" else c.sudo
    result = runner(command, hide=hide, warn=warn, in_stream=False)
    return str(result.stdout)


def _http_get(c: Connection, port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:PORT/PATH on the host through the SSH connection itself (a
    direct-tcpip channel: no curl or python needed there). Status -1: nothing listens."""
    c.open()
    transport = c.client.get_transport()
    assert transport is not None
    try:
        chan = transport.open_channel(
            "direct-tcpip", ("127.0.0.1", port), ("127.0.0.1", 0), timeout=5
        )
    except paramiko.ChannelException:
        return -1, ""
    try:
        chan.settimeout(5)
        request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        chan.sendall(request.encode())
        data = b""
        while chunk := chan.recv(65536):
            data += chunk
    except (TimeoutError, OSError):
        return -1, ""
    finally:
        chan.close()
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    try:
        return int(parts[1]), body.decode(errors="replace")
    except (IndexError, ValueError):
        return -1, ""


def _gate(c: Connection, s: Settings, version: str, seconds: int) -> None:
    """Health 200 within SECONDS, then the version path reports VERSION."""
    deadline = time.monotonic() + seconds
    status = -1
    while time.monotonic() < deadline:
        status, _ = _http_get(c, s.port, s.http["health"])
        if status == 200:
            break
        time.sleep(1)
    if status != 200:
        raise Failed(
            f"{s.http['health']} did not answer 200 within {seconds} s (last: {status})",
            f"read `fab logs` (journalctl -u {s.name})",
        )
    if s.http.get("version"):
        status, body = _http_get(c, s.port, s.http["version"])
        served = json.loads(body).get("version") if status == 200 else None
        if served != version:
            raise Failed(
                f"{s.http['version']} reports {served!r}, not {version}",
                "check the unit runs the new code: `fab logs`, systemctl status",
            )


def _state_dir(s: Settings) -> str:
    return f"/var/lib/{s.name}-deploy"


def _kept(c: Connection, s: Settings, which: str) -> str:
    """The kept artifact `current.*` / `previous.*` on the host, or ""."""
    out = _root(c, f"ls {_state_dir(s)}/{which}.deb {_state_dir(s)}/{which}.rpm", warn=True)
    return out.split()[0] if out.split() else ""


def _package_id(c: Connection, path: str) -> tuple[str, str]:
    """(name, version) read from a package file on the host."""
    if path.endswith(".deb"):
        out = _root(c, f"dpkg-deb --showformat='${{Package}} ${{Version}}' --show {path}")
    else:
        out = _root(c, f"{ACME_RPM} -qp --queryformat '%{{NAME}} %{{VERSION}}' {path}")
    name, version = out.split()
    return name, version


def _install(c: Connection, path: str) -> None:
    """Install the package file (upgrade or downgrade: deploy and rollback move both ways)."""
    if path.endswith(".deb"):
        _root(
            c,
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades "
            "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
            f"{path}",
        )
    else:
        _root(c, f"{ACME_RPM} -U --oldpackage --replacepkgs {path}")


def _installed(c: Connection, s: Settings) -> str:
    out = _root(c, f"dpkg-query -W -f='${{Version}}' {s.name} 2>/dev/null", warn=True).strip()
    if not out:
        out = _root(
            c, f"{ACME_RPM} -q --queryformat '%{{VERSION}}' {s.name} 2>/dev/null", warn=True
        ).strip()
    return out if out and "not installed" not in out else ""


def _switch_to(c: Connection, s: Settings, path: str, version: str, seconds: int) -> str:
    """Install PATH and gate it; on failure reinstall the current kept artifact and gate it.
    Returns that current kept artifact ("" for none), for the caller's rotation."""
    current = _kept(c, s, "current")
    try:
        _install(c, path)
        _gate(c, s, version, seconds)
    except (Failed, UnexpectedExit) as exc:
        why = str(exc).split(" — fix: ")[0] if isinstance(exc, Failed) else f"install: {exc}"
        if not current or current == path:
            raise Failed(
                f"{version} failed ({why}); no earlier deploy kept here to go back to",
                f"read `fab logs`; the host is on whatever {s.name} it has now",
            ) from None
        # A release that crash-looped may have hit systemd's start limit: clear it, or the
        # package's own restart of the unit is refused.
        _root(c, f"systemctl reset-failed {shlex.quote(s.name)}", warn=True)
        _install(c, current)
        _, back = _package_id(c, current)
        _gate(c, s, back, max(seconds, GATE_SECONDS))
        raise Failed(
            f"{version} failed ({why}); rolled back to {back}, which serves",
            "read `fab logs`, fix the release and deploy again",
        ) from None
    return current


@task(
    help={
        "artifact": "the .deb or .rpm on this machine (./kit build deb|rpm|omnibus)",
        "gate-seconds": f"seconds to wait for the first health 200 (default {GATE_SECONDS})",
    }
)
def deploy(c: Connection, artifact: str, gate_seconds: int = GATE_SECONDS) -> None:
    """Install ARTIFACT (.deb or .rpm) on the host, health-gated; keep the one it replaces."""
    s = _settings()
    local = Path(artifact)
    kind = KINDS.get(local.suffix)
    if kind is None:
        raise Exit(
            f"{artifact}: fabric deploys packages (.deb, .rpm), which carry their own unit and "
            "user — fix: deploy a wheelhouse, PEX or image with its Ansible role "
            "(ansible/roles/service_<layer>)",
            code=2,
        )
    if not local.is_file():
        raise Exit(
            f"{artifact}: no such artifact — fix: ./kit build {kind} (it writes "
            f"dist/{kind}/<distro>/<version>/)",
            code=2,
        )
    with _one_line(c):
        state = _state_dir(s)
        _root(c, f"install -d -m 0700 {state}")
        staged = f"/tmp/{s.name}-deploy-{int(time.time())}{local.suffix}"
        c.put(str(local), staged)
        incoming = f"{state}/incoming{local.suffix}"
        _root(c, f"install -m 0600 {staged} {incoming} && rm -f {staged}")
        if kind == "rpm" and not _root(c, f"test -x {ACME_RPM} && echo y", warn=True).strip():
            raise Failed(
                f"the host has no {ACME_RPM}",
                "run the service_rpm role once (it installs the company rpmdb tool)",
            )
        name, version = _package_id(c, incoming)
        if name != s.name:
            raise Failed(
                f"{local.name} is package {name!r}, not {s.name!r} (kit.toml)",
                "deploy this service's own package",
            )
        t = time.monotonic()
        current = _switch_to(c, s, incoming, version, gate_seconds)
        _root(
            c,
            f"rm -f {state}/previous.*"
            + (f" && mv {current} {state}/previous{Path(current).suffix}" if current else "")
            + f" && mv {incoming} {state}/current{local.suffix}",
        )
        print(f"{_host(c)}: {s.name} {version} serves ({time.monotonic() - t:.1f} s)")


@task(help={"gate-seconds": f"seconds to wait for the first health 200 (default {GATE_SECONDS})"})
def rollback(c: Connection, gate_seconds: int = GATE_SECONDS) -> None:
    """Go back to the artifact the last deploy replaced, health-gated."""
    s = _settings()
    with _one_line(c):
        state = _state_dir(s)
        previous = _kept(c, s, "previous")
        if not previous:
            raise Failed(
                f"nothing to roll back to ({state} keeps no earlier deploy)",
                "deploy the version you want with `fab deploy --artifact …`",
            )
        _, version = _package_id(c, previous)
        current = _switch_to(c, s, previous, version, gate_seconds)
        suffix = Path(previous).suffix
        _root(
            c,
            f"mv {previous} {state}/swap{suffix}"
            + (f" && mv {current} {state}/previous{Path(current).suffix}" if current else "")
            + f" && mv {state}/swap{suffix} {state}/current{suffix}",
        )
        print(f"{_host(c)}: {s.name} rolled back to {version}, which serves")


@task
def status(c: Connection) -> None:
    """The installed version, the unit's state, health and /version, the kept artifacts."""
    s = _settings()
    with _one_line(c):
        installed = _installed(c, s) or "not installed"
        active = _root(c, f"systemctl is-active {shlex.quote(s.name)}", warn=True).strip()
        health, _ = _http_get(c, s.port, s.http["health"])
        served = "-"
        if s.http.get("version"):
            code, body = _http_get(c, s.port, s.http["version"])
            served = json.loads(body).get("version", "?") if code == 200 else f"HTTP {code}"
        kept = [
            f"{which}={Path(path).name}"
            for which in ("current", "previous")
            if (path := _kept(c, s, which))
        ]
        print(
            f"{_host(c)}: {s.name} installed {installed}, unit {active}, "
            f"health {health}, serves {served}, kept {' '.join(kept) or 'none'}"
        )


@task(help={"lines": "how many of the unit's last journal lines (default 50)"})
def logs(c: Connection, lines: int = 50) -> None:
    """The unit's last LINES journal lines."""
    s = _settings()
    with _one_line(c):
        print(_root(c, f"journalctl -u {shlex.quote(s.name)} -n {int(lines)} --no-pager"), end="")
