"""Schema migrations (sample_service/migrations/) and storage failures as HTTP answers."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import falcon.testing
import pytest

from sample_service import cli, migrations
from sample_service.app import create_app
from sample_service.config import Config
from sample_service.db import SchemaError, Store

NEXT = Path(__file__).parent / "upgrade" / "v0002_item_note.py"


def _schema(db: Path) -> tuple[int, list[str]]:
    with sqlite3.connect(db) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        cols = [r[1] for r in conn.execute("PRAGMA table_info(items)")]
    return version, cols


def test_migrations_are_numbered_without_gaps() -> None:
    steps = migrations.load()
    assert [m.version for m in steps] == list(range(1, len(steps) + 1))
    assert all(1 <= m.readable_by <= m.version for m in steps)


def test_init_migrates_once_and_records_user_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "items.db")
    assert store.init() == 1
    assert store.init() == 1  # idempotent
    assert _schema(tmp_path / "items.db") == (1, ["id", "name", "created_at"])


def test_database_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    db = tmp_path / "items.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
            " created_at REAL NOT NULL)"
        )
        conn.execute("INSERT INTO items (name, created_at) VALUES ('old', 0)")
    store = Store(db)
    assert store.init() == 1
    assert [i["name"] for i in store.list()] == ["old"]


def _upgraded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    store = Store(tmp_path / "items.db")
    store.init()
    store.add("before")
    pkg = tmp_path / "pkg"
    shutil.copytree(Path(migrations.__file__).parent, pkg, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(NEXT, pkg / NEXT.name)
    with monkeypatch.context() as m:
        m.setattr(migrations, "__path__", [str(pkg)])
        assert store.init() == 2
    return store


def test_next_version_migrates_and_keeps_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _upgraded(tmp_path, monkeypatch)
    assert _schema(tmp_path / "items.db") == (2, ["id", "name", "created_at", "note"])
    assert [i["name"] for i in store.list()] == ["before"]


def test_rollback_runs_on_an_additive_newer_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _upgraded(tmp_path, monkeypatch)
    assert store.init() == 2  # this (older) code: schema 2 declares itself readable by 1
    store.add("after rollback")
    assert [i["name"] for i in store.list()] == ["before", "after rollback"]
    assert _schema(tmp_path / "items.db")[0] == 2  # untouched, ready for the re-upgrade


def test_rollback_refuses_an_incompatible_newer_schema_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "items.db"
    _upgraded(tmp_path, monkeypatch)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_compat SET readable_by = 2")
    before = db.read_bytes()
    with pytest.raises(SchemaError, match=r"schema 2, which needs code for schema >= 2.*fix:"):
        Store(db).init()
    assert db.read_bytes() == before


def test_a_full_disk_is_507_and_other_storage_failures_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = Config(data_dir=tmp_path)
    Store(config.db_path).init()
    client = falcon.testing.TestClient(create_app(config))

    def full(self: Store, name: str) -> None:
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(Store, "add", full)
    resp = client.simulate_post("/items", json={"name": "x"})
    assert resp.status_code == 507, resp.text
    assert resp.headers["Retry-After"] and "retry later" in resp.json["description"]
    assert "storage full" in caplog.text
    assert client.simulate_get("/healthz").status_code == 200

    def locked(self: Store, name: str) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Store, "add", locked)
    assert client.simulate_post("/items", json={"name": "x"}).status_code == 503


def test_serve_refuses_an_incompatible_schema_with_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write_config,  # type: ignore[no-untyped-def]
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = data_dir / "items.db"
    _upgraded(data_dir, monkeypatch)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_compat SET readable_by = 2")
    monkeypatch.setattr("sample_service.logs.setup", lambda level: None)
    assert cli.main(["serve", "--config", str(write_config())]) == cli.EXIT_DATA
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sample-service: database error:"), err
