"""Load and validate kit.toml, the kit's single settings file."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitcli.errors import KitError

ROOT = Path(__file__).resolve().parent.parent
KIT_TOML = ROOT / "kit.toml"

# What each supported Debian release ships, so builds target the right interpreter.
DISTRO_PYTHON = {"trixie": "3.13", "bookworm": "3.11"}

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_PYPKG = re.compile(r"^[a-z_][a-z0-9_]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Settings:
    name: str
    python_package: str
    version: str
    port: int
    user: str
    uid: int
    gid: int
    source: Path
    distros: tuple[str, ...]
    mirror: str
    cache_dir: Path

    @property
    def default_distro(self) -> str:
        return self.distros[0]

    @property
    def next_version(self) -> str:
        """The version an upgrade test moves to: the next patch release."""
        major, minor, patch = self.version.split(".")
        return f"{major}.{minor}.{int(patch) + 1}"

    def facts(self) -> dict[str, Any]:
        """The facts layers and the contract are parametrised by."""
        return {
            "name": self.name,
            "python_package": self.python_package,
            "version": self.version,
            "next_version": self.next_version,
            "port": self.port,
            "user": self.user,
            "uid": self.uid,
            "gid": self.gid,
        }


def _get(table: dict[str, Any], section: str, key: str, kind: type, hint: str) -> Any:
    if key not in table:
        raise KitError(
            f"kit.toml: {section}.{key} is missing", f"add `{key} = {hint}` under [{section}]"
        )
    value = table[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise KitError(
            f"kit.toml: {section}.{key} = {value!r} is not a whole number",
            f"write it without quotes, e.g. `{key} = {hint}`",
        )
    if kind is not int and not isinstance(value, kind):
        raise KitError(
            f"kit.toml: {section}.{key} = {value!r} has the wrong type",
            f"write it like `{key} = {hint}`",
        )
    return value


def _check(ok: bool, section: str, key: str, value: Any, fix: str) -> None:
    if not ok:
        raise KitError(f"kit.toml: {section}.{key} = {value!r} is invalid", fix)


def parse(raw: dict[str, Any], base: Path = ROOT) -> Settings:
    for section in ("service", "targets", "kit"):
        if not isinstance(raw.get(section), dict):
            raise KitError(
                f"kit.toml: the [{section}] section is missing", f"add a [{section}] table"
            )
    svc, tgt, kit = raw["service"], raw["targets"], raw["kit"]

    name = _get(svc, "service", "name", str, '"sample-service"')
    _check(
        bool(_NAME.match(name)),
        "service",
        "name",
        name,
        "use lower-case letters, digits and '-', starting with a letter (max 31)",
    )
    pypkg = _get(svc, "service", "python_package", str, '"sample_service"')
    _check(
        bool(_PYPKG.match(pypkg)),
        "service",
        "python_package",
        pypkg,
        "use a valid Python import name, e.g. sample_service",
    )
    version = _get(svc, "service", "version", str, '"1.0.0"')
    _check(
        bool(_VERSION.match(version)),
        "service",
        "version",
        version,
        'use MAJOR.MINOR.PATCH, e.g. "1.0.0"',
    )
    port = _get(svc, "service", "port", int, "8080")
    _check(1 <= port <= 65535, "service", "port", port, "use a port from 1 to 65535")
    user = _get(svc, "service", "user", str, '"sample-service"')
    _check(
        bool(_NAME.match(user)) and user != "root",
        "service",
        "user",
        user,
        "use a dedicated system user name (never root)",
    )
    uid = _get(svc, "service", "uid", int, "990")
    gid = _get(svc, "service", "gid", int, "990")
    for key, val in (("uid", uid), ("gid", gid)):
        _check(
            100 <= val <= 999,
            "service",
            key,
            val,
            "use a system id from 100 to 999 (Debian's range for system users)",
        )
    source = base / _get(svc, "service", "source", str, '"sample_service"')
    _check(
        (source / "pyproject.toml").is_file(),
        "service",
        "source",
        str(source),
        "point it at the directory holding the service's pyproject.toml",
    )

    distros = _get(tgt, "targets", "distros", list, '["trixie", "bookworm"]')
    _check(
        bool(distros) and all(d in DISTRO_PYTHON for d in distros),
        "targets",
        "distros",
        distros,
        f"use one or more of {sorted(DISTRO_PYTHON)}",
    )
    mirror = _get(tgt, "targets", "mirror", str, '"http://deb.debian.org/debian"')
    _check(
        mirror.startswith(("http://", "https://", "file:/")),
        "targets",
        "mirror",
        mirror,
        "use an http(s):// or file:/ apt mirror URL",
    )
    cache_dir = Path(_get(kit, "kit", "cache_dir", str, '"/var/cache/kit"'))
    _check(cache_dir.is_absolute(), "kit", "cache_dir", str(cache_dir), "use an absolute path")

    return Settings(
        name, pypkg, version, port, user, uid, gid, source, tuple(distros), mirror, cache_dir
    )


def load(path: Path | None = None) -> Settings:
    """kit.toml beside ./kit, or the file named by $KIT_CONFIG."""
    path = path or Path(os.environ.get("KIT_CONFIG", KIT_TOML))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KitError(f"{path} not found", "run ./kit from the kit's checkout") from None
    except tomllib.TOMLDecodeError as exc:
        raise KitError(f"{path}: not valid TOML ({exc})", "fix the syntax at that line") from None
    return parse(raw, base=path.parent)
