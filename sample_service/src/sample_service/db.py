"""SQLite storage for the items resource. WAL with synchronous=FULL: readers never wait
for a writer, and a write is acknowledged only once it is on disk (survives a crash and a
power loss). One connection per thread, kept open and closed at exit: the last close
checkpoints the WAL, so a stopped service leaves only items.db behind."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypedDict

from sample_service import migrations

log = logging.getLogger("sample_service")


class SchemaError(Exception):
    """The database's schema is one this version cannot run on; worded as one line."""


class Item(TypedDict):
    id: int
    name: str
    created_at: float


BUSY_TIMEOUT = 5.0  # seconds an operation waits for a lock, then "database is locked" (503)


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _Connections:
    """The connections of one Store: one per thread, opened on first use and kept (a
    WAL connection that stays open keeps its -shm mapping and page cache warm, ~1.3x the
    requests/s of one connection per operation); all closed by close(), when the Store
    is collected, or at interpreter exit — after the request threads have been joined."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        self.opened: list[sqlite3.Connection] = []
        self.lock = threading.Lock()  # guards opened
        self.writer = threading.Lock()  # one writer per process waits on the SQLite lock
        self.close = weakref.finalize(self, _close_all, self.opened, self.lock)

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            # check_same_thread=False only so close() may run on the exiting thread; each
            # connection is used by the one thread that opened it.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, check_same_thread=False)
            # WAL: readers never block on the writer, and a commit is one append + fsync
            # of the -wal file (a rollback journal fsyncs the journal and the database,
            # and blocks readers meanwhile). The mode is stored in the file: a no-op after
            # the first connection. synchronous=FULL fsyncs the WAL on every commit: WAL's
            # NORMAL would only sync at checkpoints and lose the last acknowledged writes
            # on a power loss.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            with self.lock:
                self.opened.append(conn)
            self.local.conn = conn
        if conn.in_transaction:  # left open by a failed commit: never build on it
            conn.rollback()
        return conn


def _close_all(opened: list[sqlite3.Connection], lock: threading.Lock) -> None:
    with lock:
        for conn in opened:
            conn.close()
        opened.clear()


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conns = _Connections(path)

    def close(self) -> None:
        """Close this store's connections (done at exit anyway) while no request runs;
        the next use reopens. Threads are long-lived (gunicorn's pool): one each."""
        self._conns.close()
        self._conns = _Connections(self.path)

    def checkpoint(self) -> None:
        """Close this store's connections, then open and close one more: when no other
        process has the database open, that last close copies the WAL into items.db and
        removes the -wal and -shm files. The server's master calls it after its workers
        exited: two workers closing at the same moment may each leave them to the other."""
        self.close()
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """This thread's connection, in one transaction: committed when the block ends,
        rolled back when it raises. write=True takes the write lock up front (BEGIN
        IMMEDIATE): within a process writers queue on a lock and wake when it is free;
        across worker processes a waiting writer retries every millisecond. SQLite's own
        busy wait backs off to 100 ms sleeps, which put p99 at hundreds of ms with a few
        concurrent writers (sample_service/README.md, "SQLite settings")."""
        conns = self._conns
        conn = conns.get()
        if not write:
            with conn:
                yield conn
            return
        deadline = time.monotonic() + BUSY_TIMEOUT
        if not conns.writer.acquire(timeout=BUSY_TIMEOUT):
            raise sqlite3.OperationalError("database is locked (by this process's writers)")
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                while True:
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                        break
                    except sqlite3.OperationalError as exc:
                        if not _busy(exc) or time.monotonic() >= deadline:
                            raise
                        time.sleep(0.001)
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            with conn:
                yield conn
        finally:
            conns.writer.release()

    def init(self) -> int:
        """Bring the schema up to this version's (sample_service/migrations/), each step
        in one transaction with its `PRAGMA user_version`; return the schema version.
        A newer database (a rollback after an upgrade) is used as it is when its last
        step declared this version able to read it; otherwise SchemaError, nothing
        written."""
        steps = migrations.load()
        known = steps[-1].version
        with closing(sqlite3.connect(self.path, timeout=5.0, isolation_level=None)) as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > known:
                try:
                    row = conn.execute("SELECT min(readable_by) FROM schema_compat").fetchone()
                except sqlite3.OperationalError:  # no compat record: assume the worst
                    row = None
                readable_by = int(row[0]) if row and row[0] is not None else current
                if readable_by > known:
                    raise SchemaError(
                        f"database {self.path} has schema {current}, which needs code for "
                        f"schema >= {readable_by}; this version knows up to {known} — fix: "
                        "install the newer release again, or restore the database from "
                        "before the upgrade (nothing was changed)"
                    )
                log.warning(
                    "running on a newer schema",
                    extra={"event": "schema_newer", "schema": current, "known": known},
                )
                return current
            conn.execute("PRAGMA journal_mode = WAL")  # stored in the file; workers' no-op
            for step in steps[current:]:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{step.sql};\n"
                    "DELETE FROM schema_compat;\n"
                    f"INSERT INTO schema_compat (readable_by) VALUES ({step.readable_by});\n"
                    f"PRAGMA user_version = {step.version};\nCOMMIT;"
                )
                log.info(
                    "schema migrated",
                    extra={"event": "migrate", "schema": step.version, "step": step.name},
                )
        return max(current, known)

    def ping(self) -> bool:
        try:
            with self._connect() as conn:
                conn.execute("SELECT count(*) FROM items").fetchone()
            return True
        except sqlite3.Error:
            return False

    def add(self, name: str) -> Item:
        now = time.time()
        with self._connect(write=True) as conn:
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
        with self._connect(write=True) as conn:
            cur = conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
        return cur.rowcount > 0
