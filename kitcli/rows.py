"""One layer's line of `kit compare`'s report (kitcli/measure.py fills it, kitcli/report.py
prints it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kitcli.layers import Layer


@dataclass
class Row:
    """One layer's line of the report: numbers per run, facts, or the first error line."""

    layer: Layer
    runs: dict[str, list[float]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def add(self, metric: str, value: float) -> None:
        self.runs.setdefault(metric, []).append(value)
