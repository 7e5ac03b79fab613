"""ISRC codes: format, validate, and mint them from the warehouse so they are unique and stable per track.

An ISRC is ``CC-XXX-YY-NNNNN``: country code (2 letters), registrant code (3 letters or digits), the two last
digits of the reference year, and a 5-digit designation number. It is stored as 12 characters without hyphens.

Minting reads and advances a per-prefix counter (ISRC_COUNTER) and records each code in ISRC_REGISTRY (TRACK_ID
primary key, ISRC unique) in one transaction. A track already in the registry keeps its code, so reruns and
retries never mint twice. DuckDB lets one process write its file at a time and refuses conflicting transactions,
so opening and committing are retried with backoff on lock or conflict errors.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from maestro_core.errors import ConfigError, InputError, WarehouseError

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)

MAX_DESIGNATION = 99999
_ISRC = re.compile(r"([A-Z]{2})-?([A-Z0-9]{3})-?(\d{2})-?(\d{5})")
_RETRYABLE = ("lock", "conflict", "could not serialize", "write-write", "timeout", "busy")
_CHUNK = 400  # binds per statement


@dataclass(frozen=True)
class Isrc:
    """A parsed ISRC. ``year`` is the two-digit reference year (0..99)."""

    country: str
    registrant: str
    year: int
    designation: int

    @property
    def code(self) -> str:
        """The 12-character stored form, e.g. ``ZZMAE2600001``."""
        return f"{self.country}{self.registrant}{self.year:02d}{self.designation:05d}"

    @property
    def display(self) -> str:
        """The hyphenated form, e.g. ``ZZ-MAE-26-00001``."""
        return f"{self.country}-{self.registrant}-{self.year:02d}-{self.designation:05d}"


def parse_isrc(text: str) -> Isrc:
    """Parses ``CC-XXX-YY-NNNNN`` or its 12-character form (upper case). Raises InputError naming ``isrc``."""
    match = _ISRC.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InputError("isrc", f"{text!r} is not an ISRC (CC-XXX-YY-NNNNN: 2 letters, 3 letters/digits, "
                                 "2 digits, 5 digits)")
    designation = int(match.group(4))
    if designation == 0:
        raise InputError("isrc", f"{text!r} has designation 00000; designations start at 00001")
    return Isrc(match.group(1), match.group(2), int(match.group(3)), designation)


def isrc_prefix(country: str, registrant: str, year: int) -> str:
    """The 7-character prefix ``CCXXXYY`` for a reference year (e.g. 2026 -> ``26``).

    Raises:
        ConfigError: naming MAESTRO_ISRC_COUNTRY or MAESTRO_ISRC_REGISTRANT when malformed.
        InputError: naming ``year`` when it is not a year.
    """
    if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country):
        raise ConfigError("MAESTRO_ISRC_COUNTRY", f"{country!r} is not a two-letter country code",
                          "two upper-case letters, e.g. 'US' or 'ZZ'")
    if not isinstance(registrant, str) or not re.fullmatch(r"[A-Z0-9]{3}", registrant):
        raise ConfigError("MAESTRO_ISRC_REGISTRANT", f"{registrant!r} is not a registrant code",
                          "three upper-case letters or digits, e.g. 'MAE'")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2999:
        raise InputError("year", f"{year!r} is not a reference year (1900..2999)")
    return f"{country}{registrant}{year % 100:02d}"


def format_isrc(country: str, registrant: str, year: int, designation: int) -> str:
    """The 12-character ISRC for a designation number (1..99999)."""
    prefix = isrc_prefix(country, registrant, year)
    if isinstance(designation, bool) or not isinstance(designation, int) or not 1 <= designation <= MAX_DESIGNATION:
        raise InputError("designation", f"{designation!r} is outside 1..{MAX_DESIGNATION}")
    return f"{prefix}{designation:05d}"


def mint_isrc(target: Any, track_ids: Iterable[str], year: int | None = None, *, country: str | None = None,
              registrant: str | None = None, timeout_s: float = 120.0) -> dict[str, str]:
    """Assigns an ISRC to every track id, reusing the registry's code for tracks minted before.

    Args:
        target: a :class:`maestro_core.config.Settings` (a connection is opened per attempt, so a lock held by
            another process is waited out) or an open :class:`maestro_core.warehouse.Warehouse`.
        track_ids: track ids to mint for (duplicates are fine).
        year: reference year (e.g. 2026); default: the current UTC year.
        country: ISO country code; default ``settings.isrc_country``.
        registrant: registrant code; default ``settings.isrc_registrant``.
        timeout_s: how long to keep retrying on lock or conflict errors (seconds).

    Returns:
        ``{track_id: isrc}`` for every track id, 12-character codes.

    Raises:
        ConfigError: the ISRC country or registrant is malformed.
        WarehouseError: the prefix ran out of designations, or the warehouse stayed locked past ``timeout_s``.
    """
    from maestro_core.config import Settings

    settings = target if isinstance(target, Settings) else None
    if country is None or registrant is None:
        if settings is None:
            from maestro_core.config import load_settings

            settings = load_settings()
        country = country if country is not None else settings.isrc_country
        registrant = registrant if registrant is not None else settings.isrc_registrant
    year = dt.datetime.now(dt.UTC).year if year is None else year
    prefix = isrc_prefix(country, registrant, year)
    ids = sorted({_track_id(t) for t in track_ids})
    if not ids:
        return {}
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            if isinstance(target, Settings):
                from maestro_core.warehouse import connect

                with connect(target) as wh:
                    return _mint_once(wh, ids, prefix, year)
            return _mint_once(target, ids, prefix, year)
        except WarehouseError as exc:
            if not any(word in str(exc).lower() for word in _RETRYABLE) or time.monotonic() > deadline:
                raise
            log.debug("ISRC minting retried after %s", type(exc).__name__)
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)


def _mint_once(wh: Warehouse, ids: Sequence[str], prefix: str, year: int) -> dict[str, str]:
    with wh.transaction():
        assigned = _existing(wh, ids)
        missing = [t for t in ids if t not in assigned]
        if missing:
            # Insert-if-absent rather than MERGE: fakesnow (the Snowflake stand-in) cannot MERGE in a transaction.
            wh.execute_file("isrc/ensure_counter.sql", {"prefix": prefix})
            # Advance first: on Snowflake the UPDATE takes the row lock before anyone reads the new value.
            wh.execute_file("isrc/advance_counter.sql", {"n": len(missing), "prefix": prefix})
            last = int(wh.scalar_file("isrc/counter_value.sql", {"prefix": prefix}))
            if last > MAX_DESIGNATION:
                raise WarehouseError(f"ISRC prefix {prefix} has no designation numbers left (would reach {last}, "
                                     f"max {MAX_DESIGNATION}); use another registrant code or year")
            first = last - len(missing) + 1
            new = {t: (first + i, f"{prefix}{first + i:05d}") for i, t in enumerate(missing)}
            for chunk_start in range(0, len(missing), _CHUNK):
                chunk = missing[chunk_start:chunk_start + _CHUNK]
                params: dict[str, Any] = {"prefix": prefix, "year": year}
                for i, t in enumerate(chunk):
                    params.update({f"t{i}": t, f"i{i}": new[t][1], f"d{i}": new[t][0]})
                wh.execute_file("isrc/register_codes.sql", params, rows=len(chunk))
            assigned.update({t: code for t, (_, code) in new.items()})
            log.info("minted %d ISRC(s) under %s", len(missing), prefix)
    return {t: assigned[t] for t in ids}


def _existing(wh: Warehouse, ids: Sequence[str]) -> dict[str, str]:
    return {r["TRACK_ID"]: r["ISRC"] for r in wh.query_file_for_ids("isrc/registered_codes.sql", ids, bind="t")}


def isrc_of(wh: Warehouse, track_id: str) -> str | None:
    """The ISRC registered for ``track_id``, or None."""
    return _existing(wh, [track_id]).get(track_id)


def _track_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError("track_id", f"{value!r} is not a track id")
    return value
