"""The contract's self-test: break a passing target on purpose and show the contract
fails for exactly that reason. Run after the contract passed (molecule verify does):
    pytest tests/selftest --hosts=docker://kit-wheel-trixie \
        --kit-vars dist/wheel/trixie/kit-vars.json
Each mutation file applies to one supervisor kind and reports itself skipped for others
(a container-image layer: --hosts=docker://root@kit-docker-trixie).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kit-vars",
        default=os.environ.get("KIT_VARS"),
        help="the layer's kit-vars.json (default: $KIT_VARS)",
    )


@pytest.fixture(scope="session")
def kit_vars(request: pytest.FixtureRequest) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(request.config.getoption("--kit-vars")).read_text())
    return data
