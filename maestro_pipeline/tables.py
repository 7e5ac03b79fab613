"""The fan-out's stage contract, defined once: the request and result tables, and the typed records in them.

Every stage takes a table and returns a table (plan -> gate -> generate -> load). The tables are Arrow; the
columns that hold lists of records (ASSETS, RELIED) or warehouse rows (TRACK_ROW, PROVENANCE_ROW) carry them as
JSON text, so a table crosses Ray, Parquet and XCom unchanged, and this module is the one place that writes and
reads that text:

* ``REQUEST_TABLE``: what planning produces and the rights gate completes, one row per request;
* ``WORK_TABLE``: the columns of it a worker reads (derived from ``REQUEST_TABLE``, so the types cannot drift);
* ``RESULT_TABLE``: what a worker returns per request, which the load stage MERGEs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from maestro_core.provenance import AssetUse
from maestro_core.rights import ReliedLicense

REQUEST_TABLE = pa.schema([
    ("REQUEST_ID", pa.string()), ("RUN_ID", pa.string()), ("PROMPT_ID", pa.string()), ("PLAYLIST_ID", pa.string()),
    ("ORDINAL", pa.int32()), ("SEED", pa.int64()), ("TRACK_ID", pa.string()), ("ISRC", pa.string()),
    ("GENRE", pa.string()), ("MOOD", pa.string()),
    ("KEY_PHRASES", pa.string()),  # JSON array of text
    ("TEMPO_BPM", pa.int32()), ("MUSICAL_KEY", pa.string()), ("DURATION_S", pa.int32()),
    ("MELODY_SEED_ASSET_ID", pa.string()), ("MELODY_URI", pa.string()),
    ("TERRITORIES", pa.string()),  # JSON array of ISO 3166-1 alpha-2 codes or WW
    ("ASSETS", pa.string()),  # JSON array of AssetUse (dump_assets): what provenance records
    ("LICENSE_IDS", pa.string()),  # JSON array of the license ids the gate relied on
    ("RELIED", pa.string()),  # JSON array of ReliedLicense (dump_relied): what the splits are computed from
    ("RUN_CONTEXT", pa.string()),  # JSON object: Airflow's dag, run and try
    ("STATUS", pa.string()),  # maestro_core.request_status
    ("REASONS", pa.string()),  # JSON array of {"code", "message"}
    ("DESCRIPTORS", pa.string()),  # JSON object: the key phrases' musical descriptors (planning.with_descriptors)
])

# The columns a worker reads. DESCRIPTORS null lets the engine compute them (it then loads the text model).
WORK_TABLE = pa.schema([REQUEST_TABLE.field(name) for name in (
    "REQUEST_ID", "RUN_ID", "PROMPT_ID", "PLAYLIST_ID", "ORDINAL", "SEED", "TRACK_ID", "ISRC", "GENRE", "MOOD",
    "KEY_PHRASES", "TEMPO_BPM", "MUSICAL_KEY", "DURATION_S", "MELODY_SEED_ASSET_ID", "MELODY_URI", "ASSETS",
    "LICENSE_IDS", "RUN_CONTEXT", "DESCRIPTORS")])

RESULT_TABLE = pa.schema([
    ("REQUEST_ID", pa.string()), ("TRACK_ID", pa.string()),
    ("STATUS", pa.string()),  # generated or failed
    ("ERROR_CLASS", pa.string()),  # systemic / transient / request (maestro_pipeline.worker.classify)
    ("ERROR_MESSAGE", pa.string()), ("REASONS", pa.string()), ("TITLE", pa.string()), ("GENRE", pa.string()),
    ("URI", pa.string()), ("FILE_SHA256", pa.string()),
    ("TRACK_ROW", pa.string()),  # the TRACKS row (dump_row)
    ("PROVENANCE_ROW", pa.string()),  # the TRACK_PROVENANCE row (dump_row)
    ("RESUMED", pa.bool_()), ("OBJECTS_WRITTEN", pa.int32()), ("T_GENERATE_S", pa.float64()),
    ("T_QC_S", pa.float64()), ("T_SIGN_STORE_S", pa.float64()), ("WORKER", pa.string()),
])


def request_row(**values: Any) -> dict[str, Any]:
    """A REQUEST_TABLE row: the given columns, every other one null.

    Raises:
        KeyError: a name that is not a column of the table (a typo would otherwise vanish).
    """
    unknown = set(values) - set(REQUEST_TABLE.names)
    if unknown:
        raise KeyError(f"not REQUEST_TABLE columns: {sorted(unknown)}")
    return {name: values.get(name) for name in REQUEST_TABLE.names}


def empty_row(schema: pa.Schema) -> dict[str, Any]:
    """A row of ``schema`` with every column null."""
    return dict.fromkeys(schema.names)


def dump_assets(assets: Iterable[AssetUse]) -> str:
    """The ASSETS column: AssetUse records as a JSON array (sorted keys, so the text is deterministic)."""
    return json.dumps([asdict(a) for a in assets], sort_keys=True)


def load_assets(text: str | None) -> list[AssetUse]:
    """The AssetUse records of an ASSETS cell (null or empty: none)."""
    return [AssetUse(**a) for a in json.loads(text or "[]")]


def dump_relied(relied: Iterable[ReliedLicense]) -> str:
    """The RELIED column: the licenses the gate relied on, as a JSON array."""
    return json.dumps([asdict(r) for r in relied], sort_keys=True)


def load_relied(text: str | None) -> list[ReliedLicense]:
    """The ReliedLicense records of a RELIED cell (null or empty: none)."""
    return [ReliedLicense(**r) for r in json.loads(text or "[]")]


def dump_row(row: Mapping[str, Any]) -> str:
    """A warehouse row (TRACK_ROW, PROVENANCE_ROW) as JSON: datetimes and dates as ISO 8601, numpy scalars as
    numbers, sorted keys (so the text is deterministic)."""
    return json.dumps(row, default=_json_default, sort_keys=True)


def load_row(text: str) -> dict[str, Any]:
    """The warehouse row of ``dump_row``, with CREATED_AT back to a naive UTC datetime (TIMESTAMP_NTZ)."""
    row = json.loads(text)
    value = row.get("CREATED_AT")
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        row["CREATED_AT"] = parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    return row


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)
