"""A tiny Prometheus text-format registry. Counters are per worker process; with the
default single gthread worker that is the whole service."""

from __future__ import annotations

import threading
import time
from collections import Counter

_START = time.time()


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()

    def observe(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1

    def render(self, version: str) -> str:
        lines = [
            "# HELP sample_service_info Build information.",
            "# TYPE sample_service_info gauge",
            f'sample_service_info{{version="{version}"}} 1',
            "# HELP sample_service_start_time_seconds Process start time (unix seconds).",
            "# TYPE sample_service_start_time_seconds gauge",
            f"sample_service_start_time_seconds {_START:.3f}",
            "# HELP sample_service_requests_total HTTP requests handled.",
            "# TYPE sample_service_requests_total counter",
        ]
        with self._lock:
            items = sorted(self._requests.items())
        for (method, route, status), count in items:
            lines.append(
                f'sample_service_requests_total{{method="{method}",route="{route}",'
                f'status="{status}"}} {count}'
            )
        return "\n".join(lines) + "\n"
