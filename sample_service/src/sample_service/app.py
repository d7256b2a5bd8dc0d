"""The WSGI application: routes and their handlers."""

from __future__ import annotations

import logging
import os
import platform
import sqlite3
import sys
from functools import partial
from typing import Any

import falcon
import falcon.media
import orjson

from sample_service import __version__, openapi
from sample_service.config import Config
from sample_service.db import Store
from sample_service.metrics import Metrics

log = logging.getLogger("sample_service")

LAYER_ENV = "KIT_LAYER"  # set by every layer (the unit, the image): who installed us
MAX_NAME = 200
MAX_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY range; larger ids are no item (404)
NO_ITEM = "send the id of an existing item (GET /items lists them)"


class BodyLimit:
    """Refuse a request body over the configured limit with 413 before reading it (a
    Content-Length over it), or while reading it (a chunked body that grows over it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def too_large(self) -> falcon.HTTPError:
        return falcon.HTTPContentTooLarge(
            title="request body too large",
            description=f"send at most {self.limit} bytes (server.max_body_bytes)",
        )

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_length is not None and req.content_length > self.limit:
            raise self.too_large()

    def read_json(self, req: falcon.Request) -> Any:
        """The body as JSON, reading at most limit + 1 bytes; None when empty."""
        stream: Any = req.bounded_stream  # reads nothing without a Content-Length
        if req.content_length is None and req.env.get("wsgi.input_terminated"):
            stream = req.stream  # chunked: the server (gunicorn) ends the input at its end
        raw = stream.read(self.limit + 1)
        if len(raw) > self.limit:
            raise self.too_large()
        if not raw.strip():
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise falcon.HTTPBadRequest(
                title="invalid JSON", description="send a JSON object, UTF-8 encoded"
            ) from None


class MetricsMiddleware:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        route = req.uri_template or "unmatched"
        status = int(str(resp.status).split()[0]) if resp.status else 200
        self.metrics.observe(req.method, route, status)


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Ready:
    def __init__(self, store: Store) -> None:
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self.store.ping():
            resp.media = {"status": "ready"}
        else:
            resp.status = falcon.HTTP_503
            resp.media = {"status": "database unavailable"}


class Version:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {
            "version": __version__,
            "python": platform.python_version(),
            "executable": sys.executable,
            "layer": os.environ.get(LAYER_ENV, "unknown"),
        }


class MetricsResource:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "text/plain; version=0.0.4; charset=utf-8"
        resp.text = self.metrics.render(__version__)


class Items:
    def __init__(self, store: Store, body: BodyLimit) -> None:
        self.store = store
        self.body = body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"items": self.store.list()}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = self.body.read_json(req)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            raise falcon.HTTPBadRequest(
                title="invalid item",
                description=f'send JSON {{"name": "<1..{MAX_NAME} characters>"}}',
            )
        resp.status = falcon.HTTP_201
        item = self.store.add(name)
        resp.location = f"/items/{item['id']}"
        resp.media = item


class Item:
    def __init__(self, store: Store) -> None:
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, item_id: int) -> None:
        item = self.store.get(item_id)
        if item is None:
            raise falcon.HTTPNotFound(title="no such item", description=NO_ITEM)
        resp.media = item

    def on_delete(self, req: falcon.Request, resp: falcon.Response, item_id: int) -> None:
        if not self.store.delete(item_id):
            raise falcon.HTTPNotFound(title="no such item", description=NO_ITEM)
        resp.status = falcon.HTTP_204


def storage_error(
    req: falcon.Request, resp: falcon.Response, exc: sqlite3.Error, params: dict[str, Any]
) -> None:
    """The database refused a request: 507 when the disk is full, 503 otherwise (locked,
    read-only, I/O). Either way SQLite rolled the statement back: nothing half-written.
    One log line names the cause and the fix; the client is told to retry later."""
    full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    log.error(
        "storage full: free space in the data dir; writes resume by themselves"
        if full
        else f"storage unavailable: {exc}",
        extra={"event": "storage_full" if full else "storage_error", "route": req.uri_template},
    )
    resp.status = falcon.HTTP_507 if full else falcon.HTTP_503
    resp.set_header("Retry-After", "5")
    resp.media = {
        "title": "storage full" if full else "storage unavailable",
        "description": "the service cannot write its data now; retry later",
    }


def _json_handlers() -> dict[str, falcon.media.BaseHandler]:
    handler = falcon.media.JSONHandler(
        dumps=partial(orjson.dumps, option=orjson.OPT_NON_STR_KEYS),
        loads=orjson.loads,
    )
    return {falcon.MEDIA_JSON: handler}


def create_app(
    config: Config, metrics: Metrics | None = None
) -> falcon.App[falcon.Request, falcon.Response]:
    """Build the app. The caller must have run Store.init() on the data dir."""
    store = Store(config.db_path)
    metrics = metrics or Metrics()
    body = BodyLimit(config.max_body_bytes)
    app = falcon.App(middleware=[MetricsMiddleware(metrics)])
    app.add_middleware(body)
    app.set_error_serializer(openapi.serialize_error)  # JSON, saying what to send
    app.add_error_handler(sqlite3.Error, storage_error)
    handlers = _json_handlers()
    app.req_options.media_handlers.update(handlers)
    app.resp_options.media_handlers.update(handlers)
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Ready(store))
    app.add_route("/version", Version())
    app.add_route("/metrics", MetricsResource(metrics))
    app.add_route("/items", Items(store, body))
    # Ids outside SQLite's integer range never match the route: 404, not an overflow.
    app.add_route(f"/items/{{item_id:int(min=1, max={MAX_ID})}}", Item(store))
    app.add_route(openapi.PATH, openapi.Resource(config.max_body_bytes, MAX_NAME, MAX_ID))
    return app
