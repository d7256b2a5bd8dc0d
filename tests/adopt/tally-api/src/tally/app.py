"""The WSGI app: /health, and a small JSON collection under /items."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from tally.store import Store

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

MAX_BODY = 64 * 1024
_ITEM = re.compile(r"^/items/(\d{1,18})$")  # within SQLite's integer range; longer: 404


class HTTPError(Exception):
    def __init__(self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def _read_json(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
    try:
        return json.loads(environ["wsgi.input"].read(length) or b"null")
    except ValueError:
        raise HTTPError(HTTPStatus.BAD_REQUEST, "body is not JSON") from None


def _route(store: Store, method: str, path: str, environ: dict[str, Any]) -> tuple[int, Any]:
    if path == "/health":
        if method != "GET":
            raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, "use GET", {"Allow": "GET"})
        return 200, {"status": "ok"}
    if path == "/items":
        if method == "GET":
            return 200, {"items": store.latest()}
        if method == "POST":
            body = _read_json(environ)
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name.strip() or len(name) > 200:
                raise HTTPError(HTTPStatus.BAD_REQUEST, 'send {"name": "<1..200 characters>"}')
            return 201, store.add(name)
        raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, "use GET or POST", {"Allow": "GET, POST"})
    match = _ITEM.match(path)
    if match:
        if method != "GET":
            raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, "use GET", {"Allow": "GET"})
        item = store.get(int(match.group(1)))
        if item is None:
            raise HTTPError(HTTPStatus.NOT_FOUND, f"no item {match.group(1)}")
        return 200, item
    raise HTTPError(HTTPStatus.NOT_FOUND, f"no route {path}")


def create_app(store: Store) -> WSGIApp:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {"Content-Type": "application/json"}
        try:
            status, payload = _route(
                store, environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/", environ
            )
        except HTTPError as exc:
            status, payload = exc.status, {"error": str(exc)}
            headers.update(exc.headers)
        except sqlite3.Error as exc:  # rolled back by SQLite: nothing half-written
            full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            status = HTTPStatus.INSUFFICIENT_STORAGE if full else HTTPStatus.SERVICE_UNAVAILABLE
            payload = {"error": "storage full, retry later" if full else "storage unavailable"}
            headers["Retry-After"] = "5"
            print(f"tally: storage {'full' if full else 'error'}: {exc}", file=sys.stderr)
        if status == 201:
            headers["Location"] = f"/items/{payload['id']}"
        body = json.dumps(payload).encode()
        headers["Content-Length"] = str(len(body))
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [body]

    return app
