"""The store's SQLite settings under concurrent writers (sample_service/README.md, "SQLite
settings"): WAL + synchronous=FULL, readers not blocked by a writer, writers from several
processes and threads all acknowledged, a bounded wait, and nothing left after close."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sample_service import db
from sample_service.db import Store

WRITER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from sample_service.db import Store

    store, errors = Store(Path(sys.argv[1])), []

    def write() -> None:
        for i in range(int(sys.argv[2])):
            try:
                item = store.add(f"w{i}")
                assert store.get(item["id"]) == item  # read back on this thread's connection
            except Exception as exc:  # noqa: BLE001 — counted, reported below
                errors.append(repr(exc))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(errors), errors[:3])
    """
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "items.db")
    s.init()
    s.list()  # the first connection turns the database to WAL (stored in the file)
    return s


def test_connections_use_wal_and_full_sync(store: Store) -> None:
    with store._connect() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_writers_of_several_processes_and_threads_are_all_acknowledged(store: Store) -> None:
    procs, per_thread = 3, 40
    running = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store.path), str(per_thread)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    for proc in running:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.startswith("0 "), out
    assert len(store.list()) == procs * 4 * per_thread
    store.close()
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["items.db"]


def test_a_reader_does_not_wait_for_a_writer(store: Store) -> None:
    item = store.add("before")
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO items (name, created_at) VALUES ('uncommitted', 0)")
    started = time.monotonic()
    seen: list[object] = []
    reader = threading.Thread(target=lambda: seen.extend([store.get(item["id"]), store.list()]))
    reader.start()  # a new thread: it opens its connection while the write lock is held
    reader.join()
    assert seen == [item, [item]]
    assert time.monotonic() - started < 0.5
    other.execute("ROLLBACK")
    other.close()


def test_a_writer_waits_for_the_lock_at_most_the_busy_timeout(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 0.3)
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store.add("blocked")
    assert 0.3 <= time.monotonic() - started < 2
    # A waiting writer gets the lock as soon as it is released, and writes.
    threading.Timer(0.1, other.rollback).start()
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 5.0)
    assert store.add("after")["name"] == "after"
    other.close()


def test_close_checkpoints_and_leaves_only_the_database(store: Store) -> None:
    threads = [threading.Thread(target=store.add, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (store.path.parent / "items.db-wal").exists()
    store.close()
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["items.db"]
    assert len(store.list()) == 4  # reopens on next use
    store.close()


def test_checkpoint_folds_a_left_wal_into_the_database(store: Store) -> None:
    """What the server's master does once its workers exited: a WAL another process left
    (here: one killed mid-life) is folded into items.db, and -wal/-shm are removed."""
    crash = (
        "import os, sys; from pathlib import Path; from sample_service.db import Store; "
        "s = Store(Path(sys.argv[1])); s.add('acknowledged'); os._exit(0)"
    )
    store.close()
    subprocess.run([sys.executable, "-c", crash, str(store.path)], check=True)
    assert (store.path.parent / "items.db-wal").exists()
    store.checkpoint()
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["items.db"]
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT name FROM items").fetchall() == [("acknowledged",)]
    conn.close()
