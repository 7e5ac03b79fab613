"""Deterministic identity: the same prompt, date and ordinal always give the same request, seed and track.

* ``request_id`` = UUIDv5(MAESTRO_NAMESPACE, "request:{prompt_id}|{logical date ISO}|{ordinal}")
* ``seed`` = the first 8 bytes of sha256("maestro-seed:" + request_id bytes), shifted to 63 bits (fits BIGINT)
* ``track_id`` = UUIDv5(MAESTRO_NAMESPACE, "track:{request_id}|{engine_version}")

A rerun for the same logical date therefore plans the same requests and (with a deterministic engine) renders the
same tracks, and loads MERGE onto the same keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from maestro_core.errors import InputError

# Fixed forever: changing it would re-key every request and track ever made.
MAESTRO_NAMESPACE = uuid.UUID("6d1c52f0-7a0e-5b8e-9f3c-2d4b8a1e0c57")
SEED_BITS = 63


def logical_day(logical_date: dt.date | dt.datetime | str) -> dt.date:
    """The calendar date (UTC for aware datetimes) of an Airflow logical date, a date, or an ISO string."""
    if isinstance(logical_date, str):
        try:
            logical_date = dt.datetime.fromisoformat(logical_date)
        except ValueError:
            raise InputError("logical_date", f"{logical_date!r} is not an ISO date") from None
    if isinstance(logical_date, dt.datetime):
        if logical_date.tzinfo is not None:
            logical_date = logical_date.astimezone(dt.UTC)
        return logical_date.date()
    if isinstance(logical_date, dt.date):
        return logical_date
    raise InputError("logical_date", f"must be a date, datetime or ISO string, got {type(logical_date).__name__}")


def request_id(prompt_id: str, logical_date: dt.date | dt.datetime | str, ordinal: int) -> str:
    """The request id of the ``ordinal``-th (0-based) track planned for ``prompt_id`` on ``logical_date``."""
    if not isinstance(prompt_id, str) or not prompt_id.strip():
        raise InputError("prompt_id", "must be a non-empty string")
    if isinstance(ordinal, bool) or not isinstance(ordinal, int) or ordinal < 0:
        raise InputError("ordinal", f"must be an integer >= 0, got {ordinal!r}")
    day = logical_day(logical_date)
    return str(uuid.uuid5(MAESTRO_NAMESPACE, f"request:{prompt_id}|{day.isoformat()}|{ordinal}"))


def seed_for(request_id_: str) -> int:
    """The generation seed of a request: a 63-bit non-negative integer derived from its id."""
    digest = hashlib.sha256(b"maestro-seed:" + _uuid(request_id_, "request_id").bytes).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def track_id(request_id_: str, engine_version: str) -> str:
    """The track id of a request rendered by an engine version (a new engine version makes a new track)."""
    if not isinstance(engine_version, str) or not engine_version.strip():
        raise InputError("engine_version", "must be a non-empty string")
    rid = _uuid(request_id_, "request_id")
    return str(uuid.uuid5(MAESTRO_NAMESPACE, f"track:{rid}|{engine_version}"))


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InputError(field, f"{value!r} is not a UUID") from None
