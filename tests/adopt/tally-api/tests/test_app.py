"""The app through WSGI, the store on a temp dir, and the start-up refusal."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tally.app import create_app
from tally.server import main
from tally.store import Store, state_dir


def call(app: Any, method: str, path: str, body: Any = None) -> tuple[str, dict[str, str], Any]:
    raw = b"" if body is None else json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=dict(headers))

    out = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], json.loads(out)


@pytest.fixture
def app(tmp_path: Path) -> Any:
    store = Store(tmp_path / "tally.db")
    store.init()
    return create_app(store)


def test_health(app: Any) -> None:
    assert call(app, "GET", "/health")[0] == "200 OK"


def test_item_round_trip(app: Any) -> None:
    status, headers, made = call(app, "POST", "/items", {"name": "first"})
    assert status == "201 Created" and made["name"] == "first"
    assert headers["Location"] == f"/items/{made['id']}"
    assert call(app, "GET", f"/items/{made['id']}")[2] == made
    assert call(app, "GET", "/items")[2] == {"items": [made]}


@pytest.mark.parametrize("body", [None, {}, {"name": ""}, {"name": 3}, ["x"]])
def test_bad_item_is_400(app: Any, body: Any) -> None:
    assert call(app, "POST", "/items", body)[0].startswith("400")


def test_unknown_is_404_and_wrong_method_405(app: Any) -> None:
    assert call(app, "GET", "/items/999")[0].startswith("404")
    assert call(app, "GET", "/version")[0].startswith("404")
    status, headers, _ = call(app, "DELETE", "/items")
    assert status.startswith("405") and headers["Allow"] == "GET, POST"


def test_data_survives_a_new_store(tmp_path: Path) -> None:
    made = Store(tmp_path / "tally.db")
    made.init()
    item = made.add("kept")
    assert Store(tmp_path / "tally.db").get(item["id"]) == item
    assert not list(tmp_path.glob("*-journal"))


def test_state_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}:/elsewhere")
    assert state_dir() == tmp_path


def test_no_state_directory_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    with pytest.raises(SystemExit) as exc:
        main([])
    assert "STATE_DIRECTORY is not set — fix:" in str(exc.value)


def test_a_full_disk_is_507_and_a_huge_id_404(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def full(self: Store, name: str) -> None:
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(Store, "add", full)
    status, headers, body = call(app, "POST", "/items", {"name": "x"})
    assert status.startswith("507") and headers["Retry-After"] and "full" in body["error"]
    assert call(app, "GET", "/items/" + "9" * 30)[0].startswith("404")
