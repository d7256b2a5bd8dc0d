"""Schema migrations: one module per step, `vNNNN_<what>.py`, applied in order at start.

Each module defines
    SQL: str           the statements of that step (run in one transaction with the
                       bump of `PRAGMA user_version` to NNNN)
    READABLE_BY: int   the lowest schema version whose code still works on the data
                       after this step: NNNN - 1 for an additive change (a new column with
                       a default, a new table), NNNN when older code would misread it.

So a rollback to the previous release either runs on the migrated data (the step was
additive) or refuses to start with one line and touches nothing — like SQLite's own
read/write file-format versions.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

_NAME = re.compile(r"v(\d{4})_\w+")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    readable_by: int


def load() -> list[Migration]:
    """Every step of this package, in order; gaps or duplicates are a packaging bug."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        match = _NAME.fullmatch(info.name)
        if not match:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        version = int(match.group(1))
        found.append(Migration(version, info.name, module.SQL, module.READABLE_BY))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"schema migrations must be numbered 1..n without gaps: {versions}")
    return found
