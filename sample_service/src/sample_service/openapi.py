"""The service's OpenAPI description, served at /openapi.json: every route of app.py with
the shapes it really answers, errors included. tests/test_openapi.py keeps it true (every
falcon route is in it and nothing else; every response validates against it; schemathesis
fuzzes the app against it), and the kit's contract fuzzes each installed layer with it.

Also the one error serializer of the app, so every error is what the document says: a JSON
body {"title", "description"} whatever the client's Accept header asks for (falcon's own
serializer answers XML, or an empty body, to a client that does not accept JSON), and the
description says what to send instead."""

from __future__ import annotations

from typing import Any

import falcon
import orjson

from sample_service import __version__

PATH = "/openapi.json"
OPENAPI_VERSION = "3.1.0"

# What an error says to send when the code that raised it gave no description.
_HINTS = {
    404: f"send a path this service serves (GET {PATH} lists them)",
    405: "send one of the methods in the Allow header",
}


def serialize_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    """app.set_error_serializer: every error as JSON {"title", "description"}."""
    body = dict(exc.to_dict())
    if not body.get("description"):
        allow = resp.get_header("Allow")
        hint = _HINTS.get(exc.status_code, f"send a request as GET {PATH} describes")
        body["description"] = f"{hint}: {allow}" if exc.status_code == 405 and allow else hint
    resp.content_type = falcon.MEDIA_JSON
    resp.data = orjson.dumps(body)


def _json(schema: dict[str, Any] | str, description: str, **extra: Any) -> dict[str, Any]:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return _json("Error", description, **extra)


def document(max_body_bytes: int, max_name: int, max_id: int) -> dict[str, Any]:
    """The OpenAPI document, for the service's limits (server.max_body_bytes, the longest
    item name, the largest item id)."""
    retry_after = {
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    }
    storage = {
        "503": _error(
            "the database cannot be used now (locked, read-only, I/O error): retry later; "
            "nothing was written",
            headers=retry_after,
        )
    }
    storage_write = {
        **storage,
        "507": _error(
            "the data dir's disk is full: retry later; nothing was written", headers=retry_after
        ),
    }
    too_large = _error(
        f"the request body is over server.max_body_bytes ({max_body_bytes} bytes): it is "
        "refused unread"
    )
    item_id = {
        "name": "item_id",
        "in": "path",
        "required": True,
        "description": f"an item's id, 1..{max_id}; any other value is no item (404)",
        "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": max_id},
    }
    no_item = _error(
        "no item has this id (also: an id that is not an integer from 1 to "
        f"{max_id}, which no item can have)"
    )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "sample-service",
            "version": __version__,
            "description": (
                "Sample JSON API shipped down the packaging gradient. Every error is a JSON "
                'object {"title", "description"} (components.schemas.Error) whose '
                "description says what to send instead. A method a path does not list is "
                "answered 405 with an Allow header (components.responses.MethodNotAllowed); "
                "a path not listed here, 404 (components.responses.NotFound); a request body "
                f"over {max_body_bytes} bytes (server.max_body_bytes), 413 unread."
            ),
        },
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "liveness: 200 while the process serves",
                    "responses": {"200": _json("Health", "the process serves")},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "summary": "readiness: 200 when the database answers",
                    "responses": {
                        "200": _json("Ready", "the database answers"),
                        "503": _json("Ready", "the database does not answer"),
                    },
                }
            },
            "/version": {
                "get": {
                    "operationId": "version",
                    "summary": "the version, the interpreter and the layer that installed it",
                    "responses": {"200": _json("Version", "what runs")},
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format 0.0.4)",
                    "responses": {
                        "200": {
                            "description": "the metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            PATH: {
                "get": {
                    "operationId": "openapi",
                    "summary": "this document",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["openapi", "info", "paths"],
                                "properties": {
                                    "openapi": {"type": "string"},
                                    "info": {"type": "object"},
                                    "paths": {"type": "object"},
                                },
                            },
                            "the OpenAPI document",
                        )
                    },
                }
            },
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "summary": "every item, oldest first",
                    "responses": {"200": _json("ItemList", "the items"), **storage},
                },
                "post": {
                    "operationId": "createItem",
                    "summary": "store a new item",
                    "requestBody": {
                        "required": True,
                        "description": f"a JSON object, UTF-8, at most {max_body_bytes} bytes",
                        "x-max-body-bytes": max_body_bytes,  # server.max_body_bytes: over it, 413
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}
                        },
                    },
                    "responses": {
                        "201": _json(
                            "Item",
                            "stored",
                            headers={
                                "Location": {
                                    "description": "the new item's path",
                                    "required": True,
                                    "schema": {"type": "string", "pattern": "^/items/[0-9]+$"},
                                }
                            },
                            links={
                                "GetItem": {
                                    "operationId": "getItem",
                                    "parameters": {"item_id": "$response.body#/id"},
                                },
                                "DeleteItem": {
                                    "operationId": "deleteItem",
                                    "parameters": {"item_id": "$response.body#/id"},
                                },
                            },
                        ),
                        "400": _error(
                            "the body is not JSON, or not an object with a name of "
                            f"1..{max_name} characters: nothing was written"
                        ),
                        "413": too_large,
                        **storage_write,
                    },
                },
            },
            "/items/{item_id}": {
                "parameters": [item_id],
                "get": {
                    "operationId": "getItem",
                    "summary": "one item",
                    "responses": {"200": _json("Item", "the item"), "404": no_item, **storage},
                },
                "delete": {
                    "operationId": "deleteItem",
                    "summary": "delete one item",
                    "responses": {
                        "204": {"description": "deleted"},
                        "404": no_item,
                        **storage_write,
                    },
                },
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "description": "every error the service answers (falcon's error body)",
                    "required": ["title", "description"],
                    "properties": {
                        "title": {"type": "string", "minLength": 1},
                        "description": {"type": "string", "minLength": 1},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"const": "ok"}},
                },
                "Ready": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"enum": ["ready", "database unavailable"]}},
                },
                "Version": {
                    "type": "object",
                    "required": ["version", "python", "executable", "layer"],
                    "properties": {
                        "version": {"type": "string"},
                        "python": {"type": "string"},
                        "executable": {"type": "string"},
                        "layer": {"type": "string"},
                    },
                },
                "NewItem": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": max_name}
                    },
                },
                "Item": {
                    "type": "object",
                    "required": ["id", "name", "created_at"],
                    "properties": {
                        "id": {"type": "integer", "minimum": 1, "maximum": max_id},
                        "name": {"type": "string", "minLength": 1, "maxLength": max_name},
                        "created_at": {"type": "number", "description": "Unix time"},
                    },
                },
                "ItemList": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
                    },
                },
            },
            "responses": {
                "NotFound": _error("a path this document does not list"),
                "MethodNotAllowed": _error(
                    "a method the path does not list",
                    headers={
                        "Allow": {
                            "description": "the methods the path answers",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    },
                ),
                "ContentTooLarge": too_large,
            },
        },
    }


class Resource:
    """GET /openapi.json: the document, serialized once."""

    def __init__(self, max_body_bytes: int, max_name: int, max_id: int) -> None:
        self.doc = document(max_body_bytes, max_name, max_id)
        self.body = orjson.dumps(self.doc)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self.body
