"""Errors meant for people: each names the field at fault and what would be accepted."""

from __future__ import annotations


class MaestroError(Exception):
    """Base class. The CLI prints these without a traceback."""


class ConfigError(MaestroError, ValueError):
    """A setting is missing or malformed.

    Args:
        field: the setting's name as the user writes it (e.g. ``MAESTRO_WAREHOUSE_URL``).
        problem: what is wrong.
        accepted: what would be accepted.
    """

    def __init__(self, field: str, problem: str, accepted: str = "") -> None:
        self.field = field
        message = f"{field}: {problem}"
        if accepted:
            message += f" (accepted: {accepted})"
        super().__init__(message)


class InputError(MaestroError, ValueError):
    """A request, prompt or file is malformed. ``field`` names the offending input field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class WarehouseError(MaestroError):
    """The warehouse refused work, or cannot be reached; nothing of the failed unit was written."""


class SchemaViolation(WarehouseError, ValueError):
    """Rows handed to a load do not fit the table's schema (null key, bad type, duplicate key)."""

    def __init__(self, table: str, column: str, problem: str) -> None:
        self.table = table
        self.column = column
        super().__init__(f"{table}.{column}: {problem}")


class ServiceUnreachable(MaestroError):
    """A service a run needs (a Ray cluster, a warehouse endpoint) does not answer; a retry may succeed.

    ``field`` names the setting that points at it.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")
