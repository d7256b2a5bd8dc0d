"""One layer's line of `kit compare`'s report (kitcli/measure.py fills it, kitcli/report.py
prints it), and its form in the file a second lane hands its rows over in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kitcli import layers
from kitcli.layers import Layer


@dataclass
class Row:
    """One layer's line of the report: numbers per run, facts, or the first error line;
    when it was measured (wall clock, seconds since the epoch), to say what ran beside."""

    layer: Layer
    runs: dict[str, list[float]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    error: str = ""
    began: float = 0.0
    ended: float = 0.0

    def add(self, metric: str, value: float) -> None:
        self.runs.setdefault(metric, []).append(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer.name,
            "runs": self.runs,
            "facts": self.facts,
            "error": self.error,
            "began": self.began,
            "ended": self.ended,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        return cls(
            layers.get(str(data["layer"])),
            {str(k): [float(v) for v in vs] for k, vs in dict(data["runs"]).items()},
            {str(k): str(v) for k, v in dict(data["facts"]).items()},
            str(data["error"]),
            float(data["began"]),
            float(data["ended"]),
        )
