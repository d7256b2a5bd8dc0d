"""The adopt proof test (slow: docker + four layers). Not part of the fast `tests/kit` run;
run it with `.kit/venv/bin/python -m pytest -s tests/adopt` (or `-m adopt`)."""

from __future__ import annotations

import pytest

# tally-api/ is the fixture service: its own tests run in the adopted copy, not here.
collect_ignore = ["tally-api"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "adopt: adopts the kit into a second service and runs its layers (slow)"
    )
