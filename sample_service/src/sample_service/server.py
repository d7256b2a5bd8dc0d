"""Run the app under gunicorn (gthread worker): a production server that drains
in-flight requests on SIGTERM for up to graceful_timeout seconds, then exits 0."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from gunicorn.app.base import BaseApplication

from sample_service import __version__
from sample_service.app import create_app
from sample_service.config import Config
from sample_service.db import Store
from sample_service.logs import logging_dict

log = logging.getLogger("sample_service")


def _on_exit(server: Any) -> None:
    # The workers are gone: this process is the database's last user. Fold the WAL into
    # the database file and remove -wal/-shm (two workers stopping at once may each leave
    # them to the other).
    try:
        Store(server.app.config.db_path).checkpoint()
    except sqlite3.Error as exc:
        log.warning(f"final checkpoint failed: {exc}", extra={"event": "checkpoint_failed"})
    log.info("shutdown complete", extra={"event": "shutdown"})


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: Config) -> None:
        self.config = config
        super().__init__()

    def load_config(self) -> None:
        c = self.config
        settings: dict[str, Any] = {
            "bind": [f"[{c.host}]:{c.port}" if ":" in c.host else f"{c.host}:{c.port}"],
            "workers": c.workers,
            "threads": c.threads,
            "worker_class": "gthread",
            "graceful_timeout": c.graceful_timeout,
            "timeout": 30,
            "proc_name": "sample-service",
            "accesslog": "-",
            "logconfig_dict": logging_dict(c.log_level),
            "on_exit": _on_exit,
            "worker_tmp_dir": "/dev/shm",  # works on a read-only root
            "control_socket_disable": True,  # gunicorn >= 24 would write a socket to cwd
        }
        for key, value in settings.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self.config)


def serve(config: Config) -> None:
    schema = Store(config.db_path).init()  # first write to disk only after validation
    log.info(
        "starting",
        extra={"event": "start", "version": __version__, "port": config.port, "schema": schema},
    )
    Server(config).run()


__all__ = ["serve"]
