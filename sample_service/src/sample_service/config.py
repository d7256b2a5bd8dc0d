"""Load and validate config.toml. Nothing here touches the disk except reading the file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path("/etc/sample-service/config.toml")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """A config problem, worded as one line: what is wrong and how to fix it."""


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = 2
    threads: int = 4
    graceful_timeout: int = 20
    max_body_bytes: int = 64 * 1024  # larger request bodies get 413, unread
    data_dir: Path = Path("/var/lib/sample-service")
    log_level: str = "info"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "items.db"


_KNOWN: dict[str, set[str]] = {
    "server": {"host", "port", "workers", "threads", "graceful_timeout", "max_body_bytes"},
    "storage": {"data_dir"},
    "log": {"level"},
}


def _int(section: dict[str, Any], table: str, key: str, default: int, lo: int, hi: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(
            f"{table}.{key} = {value!r} is invalid: set it to a whole number from {lo} to {hi}"
        )
    return value


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] must be a table: write it as a [{name}] section")
    unknown = sorted(set(section) - _KNOWN[name])
    if unknown:
        allowed = ", ".join(sorted(_KNOWN[name]))
        raise ConfigError(f"{name}.{unknown[0]} is not a known key: remove it (known: {allowed})")
    return section


def parse(raw: dict[str, Any], *, check_data_dir: bool = True) -> Config:
    unknown = sorted(set(raw) - set(_KNOWN))
    if unknown:
        raise ConfigError(
            f"[{unknown[0]}] is not a known section: remove it (known: {', '.join(_KNOWN)})"
        )
    server, storage, log = _table(raw, "server"), _table(raw, "storage"), _table(raw, "log")
    defaults = Config()

    host = server.get("host", defaults.host)
    if not isinstance(host, str) or not host:
        raise ConfigError(f'server.host = {host!r} is invalid: set it to an address like "0.0.0.0"')

    level = log.get("level", defaults.log_level)
    if level not in LOG_LEVELS:
        raise ConfigError(f"log.level = {level!r} is invalid: use one of {', '.join(LOG_LEVELS)}")

    data_dir_raw = storage.get("data_dir", str(defaults.data_dir))
    if not isinstance(data_dir_raw, str) or not data_dir_raw.startswith("/"):
        raise ConfigError(
            f"storage.data_dir = {data_dir_raw!r} is invalid: set it to an absolute path"
        )
    data_dir = Path(data_dir_raw)
    if check_data_dir:
        if not data_dir.is_dir():
            raise ConfigError(
                f"storage.data_dir = {data_dir_raw!r} does not exist: create it "
                "(owned by the service user, mode 0750) or point the key at one that does"
            )
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise ConfigError(
                f"storage.data_dir = {data_dir_raw!r} is not writable by uid {os.getuid()}: "
                "chown it to the service user"
            )

    return Config(
        host=host,
        port=_int(server, "server", "port", defaults.port, 1, 65535),
        workers=_int(server, "server", "workers", defaults.workers, 1, 64),
        threads=_int(server, "server", "threads", defaults.threads, 1, 256),
        graceful_timeout=_int(
            server, "server", "graceful_timeout", defaults.graceful_timeout, 1, 3600
        ),
        max_body_bytes=_int(
            server, "server", "max_body_bytes", defaults.max_body_bytes, 64, 16 * 1024 * 1024
        ),
        data_dir=data_dir,
        log_level=level,
    )


def load(path: Path, *, check_data_dir: bool = True) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file: create it (see the package's example config) or pass --config"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{path}: permission denied for uid {os.getuid()}: make it readable by the service"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text: re-save it as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}): fix the syntax there") from None
    try:
        return parse(raw, check_data_dir=check_data_dir)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
