"""The real server in a subprocess: graceful SIGTERM, data surviving a restart."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import free_port


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@contextmanager
def running(config: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sample_service", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
            assert time.monotonic() < deadline, "server did not become healthy in 20 s"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_drains_in_flight_request_and_exits_0(write_config, data_dir: Path) -> None:
    port = free_port()
    with running(write_config(port=port), port) as proc:
        body = json.dumps({"name": "in-flight"}).encode()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = (
            f"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        sock.sendall(head + body[:5])  # the request is now in flight
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[5:])
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        assert reply.startswith(b"HTTP/1.1 201"), reply[:200]
        assert proc.wait(timeout=15) == 0
        out = proc.stdout.read().decode() if proc.stdout else ""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(rec.get("event") == "shutdown" for rec in lines), out
    assert all({"ts", "level", "msg"} <= rec.keys() for rec in lines)
    assert sorted(p.name for p in data_dir.iterdir()) == ["items.db"]  # no journal left


def test_data_survives_restart(write_config) -> None:
    port = free_port()
    config = write_config(port=port)
    with running(config, port) as proc:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(
            "POST",
            "/items",
            body=json.dumps({"name": "kept"}),
            headers={"Content-Type": "application/json"},
        )
        item_id = json.loads(conn.getresponse().read())["id"]
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    with running(config, port):
        status, raw = _get(port, f"/items/{item_id}")
        assert status == 200 and json.loads(raw)["name"] == "kept"
