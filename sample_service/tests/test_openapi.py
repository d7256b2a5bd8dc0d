"""The OpenAPI document (src/sample_service/openapi.py) stays true: it is valid OpenAPI
with the package's version, every falcon route is in it and nothing else, the responses the
app really gives — errors included — validate against it, and schemathesis fuzzes the app
in-process against it (no 5xx, every answer documented, invalid input refused with a 4xx).
The kit's contract (tests/contract/test_fuzz.py) does the same to every installed layer."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path
from typing import Any

import falcon
import falcon.inspect
import jsonschema_rs
import pytest
import schemathesis
from conftest import free_port
from falcon import testing
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from test_server import running
from werkzeug.test import Client

from sample_service import __version__, openapi
from sample_service.app import MAX_ID, MAX_NAME, create_app
from sample_service.config import Config
from sample_service.db import Store

LIMIT = 1024  # server.max_body_bytes for these tests: small, so oversized bodies are cheap
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
EXAMPLES = settings(
    max_examples=25,
    derandomize=True,  # the same examples every run
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


# Invalid input must be refused with what the app documents: 400 (the body), 404 (an id
# outside 1..MAX_ID never matches the route), 413 (over server.max_body_bytes).
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": ["400", "404", "413"]}}}
)


@pytest.fixture
def app(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> falcon.App[Any, Any]:
    monkeypatch.setenv("KIT_LAYER", "unit-test")
    cfg = Config(data_dir=data_dir, max_body_bytes=LIMIT)
    Store(cfg.db_path).init()
    return create_app(cfg)


@pytest.fixture
def doc(app: falcon.App[Any, Any]) -> dict[str, Any]:
    resp = testing.TestClient(app).simulate_get(openapi.PATH)
    assert resp.status_code == 200 and resp.headers["content-type"] == falcon.MEDIA_JSON
    body: dict[str, Any] = resp.json
    return body


@pytest.fixture
def api_schema(app: falcon.App[Any, Any]) -> Any:
    """The document as the app serves it, loaded by schemathesis over WSGI (CONFIG: no
    schemathesis.toml of the working directory applies)."""
    return schemathesis.openapi.from_wsgi(openapi.PATH, app, config=CONFIG)


def test_document_is_valid_openapi_with_the_package_version(doc: dict[str, Any]) -> None:
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.1 meta-schema
    assert doc["openapi"] == openapi.OPENAPI_VERSION
    assert doc["info"]["version"] == __version__


def _documented(doc: dict[str, Any]) -> dict[str, set[str]]:
    return {
        path: {method.upper() for method in item if method in METHODS}
        for path, item in doc["paths"].items()
    }


def _routed(app: falcon.App[Any, Any]) -> dict[str, set[str]]:
    """Every falcon route (converters dropped: {item_id:int(...)} → {item_id}) and the
    methods it has a responder for (not falcon's own OPTIONS / 405 responders)."""
    return {
        re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.path): {
            m.method for m in route.methods if not m.internal
        }
        for route in falcon.inspect.inspect_routes(app)
    }


def test_every_route_is_documented_and_nothing_else(
    app: falcon.App[Any, Any], doc: dict[str, Any]
) -> None:
    assert _documented(doc) == _routed(app)


def test_documented_limits_are_the_apps(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["NewItem"]["properties"]["name"]["maxLength"] == MAX_NAME
    assert schemas["Item"]["properties"]["id"]["maximum"] == MAX_ID
    (param,) = doc["paths"]["/items/{item_id}"]["parameters"]
    assert (param["schema"]["minimum"], param["schema"]["maximum"]) == (1, MAX_ID)
    body = doc["paths"]["/items"]["post"]["requestBody"]
    assert body["x-max-body-bytes"] == LIMIT


# (method, path, body, headers) → the status the app must answer, documented for the
# operation (path template, method)
ANSWERS = [
    ("GET", "/healthz", None, {}, 200, ("/healthz", "GET")),
    ("GET", "/readyz", None, {}, 200, ("/readyz", "GET")),
    ("GET", "/version", None, {}, 200, ("/version", "GET")),
    ("GET", "/metrics", None, {}, 200, ("/metrics", "GET")),
    ("GET", "/items", None, {}, 200, ("/items", "GET")),
    ("POST", "/items", b'{"name": "widget"}', {}, 201, ("/items", "POST")),
    ("POST", "/items", b"{bad", {}, 400, ("/items", "POST")),
    ("POST", "/items", b'{"name": ""}', {}, 400, ("/items", "POST")),
    ("POST", "/items", b"[1]", {}, 400, ("/items", "POST")),
    ("POST", "/items", b"", {}, 400, ("/items", "POST")),
    ("POST", "/items", b"{bad", {"Accept": "text/plain"}, 400, ("/items", "POST")),
    ("POST", "/items", b"{" + b" " * LIMIT + b"}", {}, 413, ("/items", "POST")),
    (
        "POST",
        "/items",
        b"{" + b" " * LIMIT + b"}",
        {"Accept": "text/plain"},
        413,
        ("/items", "POST"),
    ),
    ("GET", "/items/1", None, {}, 200, ("/items/{item_id}", "GET")),
    ("GET", "/items/2", None, {}, 404, ("/items/{item_id}", "GET")),
    ("GET", "/items/0", None, {}, 404, ("/items/{item_id}", "GET")),
    ("GET", "/items/-1", None, {}, 404, ("/items/{item_id}", "GET")),
    ("GET", f"/items/{2**63}", None, {}, 404, ("/items/{item_id}", "GET")),
    ("GET", f"/items/{2**64}", None, {}, 404, ("/items/{item_id}", "GET")),
    ("GET", "/items/abc", None, {"Accept": "text/xml"}, 404, ("/items/{item_id}", "GET")),
    ("DELETE", "/items/1", None, {}, 204, ("/items/{item_id}", "DELETE")),
    ("DELETE", "/items/1", None, {}, 404, ("/items/{item_id}", "DELETE")),
]


def test_real_answers_validate_against_the_document(
    app: falcon.App[Any, Any], api_schema: Any
) -> None:
    """Each request, in order (one item is made, read, deleted): its status code, content
    type, headers and body as the operation documents them."""
    client = Client(app)
    for method, path, body, headers, status, (template, op_method) in ANSWERS:
        resp = client.open(
            path, method=method, data=body, headers={"Content-Type": "application/json", **headers}
        )
        what = f"{method} {path} {body!r:.40} {headers}"
        assert resp.status_code == status, f"{what}: {resp.status_code} {resp.get_data()!r}"
        operation = api_schema[template][op_method]
        case = operation.Case()
        case.validate_response(resp)  # raises with what differs from the document


ERROR = jsonschema_rs.validator_for(
    openapi.document(LIMIT, MAX_NAME, MAX_ID)["components"]["schemas"]["Error"]
)


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/nowhere", {}, 404),
        ("GET", "/items/1/x", {"Accept": "text/plain"}, 404),
        ("PUT", "/items", {}, 405),
        ("PATCH", "/healthz", {"Accept": "application/xml"}, 405),
        ("HEAD", "/items", {}, 405),
    ],
)
def test_errors_outside_the_operations_are_the_documented_error(
    app: falcon.App[Any, Any], method: str, path: str, headers: dict[str, str], status: int
) -> None:
    """components.responses.NotFound / MethodNotAllowed: JSON {"title", "description"}
    whatever the client accepts, and a 405 names the methods to use."""
    resp = testing.TestClient(app).simulate_request(method, path, headers=headers)
    assert resp.status_code == status
    assert resp.headers["content-type"] == falcon.MEDIA_JSON
    if method == "HEAD":
        return  # no body by definition
    ERROR.validate(resp.json)
    if status == 405:
        assert resp.headers["allow"] in resp.json["description"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_in_process(api_schema: Any, mode: GenerationMode) -> None:
    """Every operation, valid or invalid input, all of schemathesis' checks: no 5xx,
    documented answers, invalid input refused with a 4xx. (A loop over the operations'
    strategies, not schemathesis.pytest.from_fixture: that reads pytest's private
    Node._nodeid, gone in pytest 9.2.)"""
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @EXAMPLES
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            case.call_and_validate()

        if (
            mode is GenerationMode.POSITIVE
            or operation.definition.raw.get("requestBody")
            or any(True for _ in operation.iter_parameters())
        ):
            fuzz()


def test_stateful_links_in_process(api_schema: Any) -> None:
    """The document's links (POST /items → GET / DELETE /items/{id} of the new item):
    create, read back, delete, read again — as documented."""
    api_schema.as_state_machine().run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )


def _post_chunked(port: int, chunks: list[bytes]) -> tuple[int, dict[str, Any]]:
    """POST /items with Transfer-Encoding: chunked (no Content-Length) to the real server."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST",
            "/items",
            body=iter(chunks),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_chunked_bodies_are_read_and_limited_like_the_others(write_config: Any) -> None:
    """gunicorn passes a chunked body without a Content-Length: it is read (201), and one
    over server.max_body_bytes gets the documented 413 (it was read as empty: 400)."""
    port = free_port()
    config = write_config(port=port)
    config.write_text(
        config.read_text().replace("[server]\n", f"[server]\nmax_body_bytes = {LIMIT}\n")
    )
    with running(config, port):
        status, body = _post_chunked(port, [b'{"name": ', b'"chunked"}'])
        assert (status, body["name"]) == (201, "chunked"), body
        status, body = _post_chunked(port, [b'{"name": "', b"x" * LIMIT, b'"}'])
        assert status == 413, body
        ERROR.validate(body)
        assert str(LIMIT) in body["description"]
