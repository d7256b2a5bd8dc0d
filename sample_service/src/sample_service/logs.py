"""Structured logs: one JSON object per line on stdout (journald and `docker logs` keep it)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def logging_dict(level: str) -> dict[str, Any]:
    """A dictConfig for our loggers and gunicorn's, all through JsonFormatter to stdout."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "root": {"level": lvl, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": lvl, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": lvl, "handlers": ["stdout"], "propagate": False},
        },
    }


def setup(level: str) -> None:
    import logging.config

    logging.config.dictConfig(logging_dict(level))
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
