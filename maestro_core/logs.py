"""Structured logs: every record prints as ``time level logger message key=value ...``.

Library code logs with ``log.info("event name", extra={...})``; this formatter renders the ``extra`` fields, so
the fields survive into Airflow task logs and CI output without a logging backend of their own.
"""

from __future__ import annotations

import logging
import sys

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class KeyValueFormatter(logging.Formatter):
    """Appends a record's extra fields as ``key=value`` pairs (values with spaces are quoted)."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        if not fields:
            return base
        return base + " " + " ".join(f"{k}={_quote(v)}" for k, v in sorted(fields.items()))


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to whatever ``sys.stderr`` is when it is emitted, not when the handler was made.

    A handler that kept the stream it was born with would write to a closed one once a caller (a test runner, a
    notebook, Airflow's task runner) swaps stderr, and print "Logging error" tracebacks instead of the record.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:  # StreamHandler assigns it; the live sys.stderr wins
        pass


def configure_logging(level: str = "WARNING") -> None:
    """Installs the key=value formatter on the root logger (idempotent), writing to the current stderr."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_maestro", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler._maestro = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.setLevel(level)
