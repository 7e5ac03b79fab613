"""Reads the rights snapshot (holders, assets, licenses, blocked terms) from the warehouse, and gates a prompt.

The SQL lives in ``sql/queries/rights_snapshot_*.sql``. Rows that cannot be parsed (e.g. a TERRITORIES value
that is not a JSON array) do not abort the read: they become snapshot issues, so only requests relying on the
asset concerned are denied.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from maestro_core.errors import InputError
from maestro_core.rights import (
    LICENSE_INVALID,
    Asset,
    BlockedTerm,
    GateDecision,
    Holder,
    License,
    RightsRequest,
    RightsSnapshot,
    SnapshotIssue,
    gate_request,
)

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

# The engine's own rights-bearing assets (seeded by the lead); maestro_core.assets lists them when present.


def load_snapshot(wh: Warehouse) -> RightsSnapshot:
    """The rights snapshot as of now, read through ``wh.query_file``."""
    holders = [Holder(r["HOLDER_ID"], r["NAME"], r["KIND"])
               for r in wh.query_file("queries/rights_snapshot_holders.sql").to_pylist()]
    assets = [Asset(r["ASSET_ID"], r["KIND"], r["HOLDER_ID"], r["SHA256"] or "", r["URI"] or "", r["TITLE"] or "",
                    r.get("SPDX_LICENSE") or "")
              for r in wh.query_file("queries/rights_snapshot_assets.sql").to_pylist()]
    licenses, problems = [], []
    for row in wh.query_file("queries/rights_snapshot_licenses.sql").to_pylist():
        try:
            licenses.append(license_from_row(row))
        except InputError as exc:
            problems.append(SnapshotIssue(LICENSE_INVALID, f"license {row['LICENSE_ID']!r}: {exc}", row["ASSET_ID"],
                                          row["LICENSE_ID"]))
    terms = [BlockedTerm(r["TERM"], r["REASON"] or "")
             for r in wh.query_file("queries/rights_snapshot_blocked_terms.sql").to_pylist()]
    snapshot = RightsSnapshot.of(holders, assets, licenses, terms)
    return dataclasses.replace(snapshot, issues=snapshot.issues + tuple(problems)) if problems else snapshot


def license_from_row(row: dict[str, Any]) -> License:
    """A License from a LICENSES row (VARIANT arrays as JSON text or lists). Raises InputError naming the column."""
    return License(license_id=row["LICENSE_ID"], asset_id=row["ASSET_ID"], holder_id=row["HOLDER_ID"],
                   territories=frozenset(_strings(row["TERRITORIES"], "TERRITORIES")),
                   usages=frozenset(_strings(row["USAGES"], "USAGES")),
                   valid_from=_date(row["VALID_FROM"], "VALID_FROM"),
                   valid_to=None if row["VALID_TO"] is None else _date(row["VALID_TO"], "VALID_TO"),
                   share_bps=int(row["SHARE_BPS"]))


def gate_prompt(wh: Warehouse, prompt_id: str, on_date: dt.date, engine_assets: Sequence[str], request_id: str = "",
                extra_assets: Sequence[str] = (), usage: str = "commercial_streaming") -> GateDecision:
    """Runs the rights gate for one PROMPT_CATALOG prompt: its melody seed, plus ``engine_assets`` (the ASSET_IDs
    the engine's output depends on, as ``inference.engine.engine_asset_ids`` gives them) and ``extra_assets``.

    Raises:
        InputError: naming ``prompt_id`` when the prompt does not exist, or the prompt's malformed column.
    """
    rows = wh.query_file("queries/rights_prompt.sql", {"prompt_id": prompt_id}).to_pylist()
    if not rows:
        raise InputError("prompt_id", f"no prompt {prompt_id!r} in PROMPT_CATALOG")
    row = rows[0]
    request = RightsRequest.from_prompt_row(request_id or f"check:{prompt_id}", row, usage=usage)
    assets = [a for a in (row.get("MELODY_SEED_ASSET_ID"),) if a] + list(engine_assets) + list(extra_assets)
    return gate_request(request, assets, load_snapshot(wh), on_date)


def _strings(value: Any, column: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(column, f"is not a JSON array: {value[:60]!r}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(column, "must be a JSON array of strings")
    return value


def _date(value: Any, column: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(column, f"{value!r} is not a date") from None
