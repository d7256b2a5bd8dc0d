"""SQLite storage for the items resource. One short-lived connection per operation:
nothing stays open between requests, so a stopped service leaves no journal behind."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypedDict

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at REAL    NOT NULL
)
"""


class Item(TypedDict):
    id: int
    name: str
    created_at: float


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=5.0)
        try:
            with conn:  # commit on success, roll back on error
                yield conn
        finally:
            conn.close()

    def init(self) -> None:
        with self._connect() as conn:
            conn.execute(SCHEMA)

    def ping(self) -> bool:
        try:
            with self._connect() as conn:
                conn.execute("SELECT count(*) FROM items").fetchone()
            return True
        except sqlite3.Error:
            return False

    def add(self, name: str) -> Item:
        now = time.time()
        with self._connect() as conn:
            cur = conn.execute("INSERT INTO items (name, created_at) VALUES (?, ?)", (name, now))
            item_id = cur.lastrowid
        assert item_id is not None
        return Item(id=item_id, name=name, created_at=now)

    def get(self, item_id: int) -> Item | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, name, created_at FROM items WHERE id = ?", (item_id,)
            ).fetchone()
        return None if row is None else Item(id=row[0], name=row[1], created_at=row[2])

    def list(self) -> list[Item]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id, name, created_at FROM items ORDER BY id").fetchall()
        return [Item(id=r[0], name=r[1], created_at=r[2]) for r in rows]

    def delete(self, item_id: int) -> bool:
        with self._connect() as conn:
            cur = conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
        return cur.rowcount > 0
