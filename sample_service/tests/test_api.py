from __future__ import annotations

import sys
from pathlib import Path

import pytest
from falcon import testing

from sample_service.app import create_app
from sample_service.config import Config
from sample_service.db import Store


@pytest.fixture
def client(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> testing.TestClient:
    monkeypatch.setenv("KIT_LAYER", "unit-test")
    cfg = Config(data_dir=data_dir)
    Store(cfg.db_path).init()
    return testing.TestClient(create_app(cfg))


def test_health_ready(client: testing.TestClient) -> None:
    assert client.simulate_get("/healthz").json == {"status": "ok"}
    assert client.simulate_get("/readyz").status_code == 200


def test_ready_fails_without_db(data_dir: Path) -> None:
    client = testing.TestClient(create_app(Config(data_dir=data_dir / "gone")))
    assert client.simulate_get("/readyz").status_code == 503
    assert client.simulate_get("/healthz").status_code == 200


def test_version_reports_interpreter_and_layer(client: testing.TestClient) -> None:
    doc = client.simulate_get("/version").json
    assert doc["executable"] == sys.executable
    assert doc["layer"] == "unit-test"
    assert doc["python"].count(".") == 2


def test_crud_roundtrip(client: testing.TestClient) -> None:
    created = client.simulate_post("/items", json={"name": "widget"})
    assert created.status_code == 201
    item_id = created.json["id"]
    assert created.headers["location"].endswith(f"/items/{item_id}")
    assert client.simulate_get(f"/items/{item_id}").json["name"] == "widget"
    assert [i["name"] for i in client.simulate_get("/items").json["items"]] == ["widget"]
    assert client.simulate_delete(f"/items/{item_id}").status_code == 204
    assert client.simulate_get(f"/items/{item_id}").status_code == 404
    assert client.simulate_delete(f"/items/{item_id}").status_code == 404


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 3}, {"name": "x" * 201}, [1]])
def test_bad_item_is_400(client: testing.TestClient, body: object) -> None:
    resp = client.simulate_post("/items", json=body)
    assert resp.status_code == 400
    assert "name" in resp.json["description"]


def test_metrics_count_requests(client: testing.TestClient) -> None:
    client.simulate_get("/healthz")
    text = client.simulate_get("/metrics").text
    assert 'sample_service_requests_total{method="GET",route="/healthz",status="200"} 1' in text
    assert "# TYPE sample_service_info gauge" in text


@pytest.mark.parametrize("item_id", ["0", "-1", "99999999999999999999", "9223372036854775808"])
def test_out_of_range_ids_are_404_not_500(client: testing.TestClient, item_id: str) -> None:
    assert client.simulate_get(f"/items/{item_id}").status_code == 404
    assert client.simulate_delete(f"/items/{item_id}").status_code == 404


def test_largest_id_is_a_plain_404(client: testing.TestClient) -> None:
    assert client.simulate_get("/items/9223372036854775807").status_code == 404


def test_oversized_body_is_413_and_nothing_is_stored(client: testing.TestClient) -> None:
    big = '{"name": "' + "x" * (64 * 1024) + '"}'
    res = client.simulate_post("/items", body=big, headers={"Content-Type": "application/json"})
    assert res.status_code == 413
    assert "max_body_bytes" in res.json["description"]
    assert client.simulate_get("/items").json == {"items": []}


def test_chunked_body_over_the_limit_is_413(data_dir: Path) -> None:
    cfg = Config(data_dir=data_dir, max_body_bytes=64)
    Store(cfg.db_path).init()
    client = testing.TestClient(create_app(cfg))
    res = client.simulate_request(
        "POST",
        "/items",
        body=b'{"name": "' + b"y" * 100 + b'"}',
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert res.status_code == 413


@pytest.mark.parametrize("body", ["{", "[1, 2]", '"name"', '{"name": 5}', "\xff"])
def test_malformed_bodies_are_400_with_what_to_send(client: testing.TestClient, body: str) -> None:
    res = client.simulate_post("/items", body=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400, res.text
    assert res.json["description"]
