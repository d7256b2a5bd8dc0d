from __future__ import annotations

import socket
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def write_config(tmp_path: Path, data_dir: Path):  # type: ignore[no-untyped-def]
    def _write(body: str | None = None, port: int = 8080) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(
            body
            if body is not None
            else f'[server]\nhost = "127.0.0.1"\nport = {port}\ngraceful_timeout = 10\n'
            f'[storage]\ndata_dir = "{data_dir}"\n'
        )
        return path

    return _write
