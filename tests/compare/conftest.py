"""The compare proof (slow: builds a layer three times). Not part of the fast `tests/kit`
run; `./kit test` runs it as its own stage, or by hand:
`.kit/venv/bin/python -m pytest -s tests/compare`."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "compare: runs kit compare end to end and opens its report (slow)"
    )
