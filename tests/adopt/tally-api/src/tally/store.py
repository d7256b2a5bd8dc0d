"""Items in SQLite, each stored as a msgpack blob. One short connection per call: nothing
stays open, so a stopped service leaves no journal behind."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import msgpack

DB_NAME = "tally.db"


class StateDirError(Exception):
    """The data directory is unusable; the message says what to fix."""


def state_dir() -> Path:
    """$STATE_DIRECTORY (systemd may pass several, colon-separated: the first is ours)."""
    raw = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if not raw:
        raise StateDirError(
            "STATE_DIRECTORY is not set — fix: run under systemd with StateDirectory=, or "
            "export STATE_DIRECTORY=/path/to/a/writable/dir"
        )
    path = Path(raw)
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise StateDirError(
            f"STATE_DIRECTORY={raw} is not a writable directory — fix: create it, owned by the "
            "service user"
        )
    return path


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def init(self) -> None:
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body BLOB)")

    def add(self, name: str) -> dict[str, Any]:
        with closing(self._connect()) as db, db:
            body = msgpack.packb({"name": name})
            cur = db.execute("INSERT INTO items (body) VALUES (?)", (body,))
            item_id = cur.lastrowid
        return {"id": item_id, "name": name}

    def get(self, item_id: int) -> dict[str, Any] | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT body FROM items WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else {"id": item_id, **msgpack.unpackb(row[0])}

    def latest(self, limit: int = 100) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, body FROM items ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [{"id": i, **msgpack.unpackb(body)} for i, body in rows]
