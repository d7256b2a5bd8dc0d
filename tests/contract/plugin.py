"""The contract as a pytest plugin (loaded by the kit root's conftest.py): one --kit-vars
option and the fixtures every suite shares — the contract (tests/contract), its
self-test (tests/selftest) and each layer's own tests (deb/tests, rpm/tests, …).

Run by molecule's verify step (ansible/tasks/contract.yml), or by hand against any host:
    pytest tests/contract --hosts=docker://kit-sample-service-wheel-trixie \
        --kit-vars dist/wheel/trixie/kit-vars.json
A container-image layer (supervisor "docker") is probed as root inside its container:
    pytest tests/contract --hosts=docker://root@kit-sample-service-docker-trixie \
        --kit-vars dist/docker/trixie/kit-vars.json
(`./kit build LAYER` / `./kit test LAYER` write kit-vars.json: kit.toml's facts + the layer's.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.contract.supervisors import Supervisor, for_target
from tests.contract.target import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kit-vars",
        default=os.environ.get("KIT_VARS"),
        help="the layer's kit-vars.json (default: $KIT_VARS)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The upgrade check changes the installed version, so it always runs last.
    items.sort(key=lambda item: item.get_closest_marker("upgrade") is not None)


@pytest.fixture(scope="session")
def kit(request: pytest.FixtureRequest) -> dict[str, Any]:
    path = request.config.getoption("--kit-vars")
    if not path:
        raise pytest.UsageError(
            "no --kit-vars given — fix: pass --kit-vars dist/<layer>/<distro>/kit-vars.json "
            "(written by `./kit build LAYER`) or set KIT_VARS"
        )
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


@pytest.fixture(scope="module")
def target(host: Any, kit: dict[str, Any]) -> Target:
    return Target(host, kit)


@pytest.fixture(scope="module")
def supervisor(host: Any, kit: dict[str, Any]) -> Supervisor:
    return for_target(kit["kit_contract"]["supervisor"], host, kit["kit_service"]["name"])
