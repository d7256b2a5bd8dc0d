"""`tally-serve`: the app under gunicorn (gthread workers). On SIGTERM gunicorn stops
accepting, finishes in-flight requests for up to 20 s, then exits 0."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from tally import __version__
from tally.app import create_app
from tally.store import DB_NAME, StateDirError, Store, state_dir


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, store: Store, options: dict[str, Any]) -> None:
        self.store = store
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self.store)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tally-serve", description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:9191", help="HOST:PORT to listen on")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        store = Store(state_dir() / DB_NAME)
        store.init()  # fail before forking workers, with one line
    except (StateDirError, OSError) as exc:
        sys.exit(f"tally-serve: {exc}")
    print(f"tally-serve {__version__} on {args.bind}, data in {store.path}", flush=True)
    Server(
        store,
        {
            "bind": [args.bind],
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread",
            "graceful_timeout": 20,
            "proc_name": "tally-serve",
            "accesslog": "-",
            "worker_tmp_dir": "/dev/shm",  # works on a read-only root
            "control_socket_disable": True,  # gunicorn >= 24 would put a socket in the cwd
        },
    ).run()
