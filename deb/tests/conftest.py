"""The Debian package lifecycle on a target where the contract passed (molecule's
verify runs it after tests/contract):
    pytest deb/tests --hosts=docker://kit-deb-trixie --kit-vars dist/deb/trixie/kit-vars.json
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Share the contract's helpers (converge.py) instead of copying them.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "contract"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kit-vars",
        default=os.environ.get("KIT_VARS"),
        help="the layer's kit-vars.json (default: $KIT_VARS)",
    )
