"""Stage tables between pipeline tasks: Parquet objects under ``{storage}/_runs/{run_id}/``.

Airflow tasks may run on different machines and XComs should carry ids and URIs only, so each stage writes its
output table here and hands on the key. Writes are atomic and idempotent (see :mod:`maestro_core.storage`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from maestro_core.storage import TrackStore, safe_segment

RUNS_PREFIX = "_runs"
# Rows per Parquet row group: readers that stream (iter_stage) hold one group decoded at a time.
ROW_GROUP_ROWS = 2048


def stage_path(run_id: str, name: str) -> str:
    """The key of stage ``name`` of run ``run_id`` (e.g. ``_runs/<run>/gated.parquet``)."""
    return f"{RUNS_PREFIX}/{safe_segment(run_id, 'run_id')}/{safe_segment(name, 'stage')}.parquet"


def write_stage(store: TrackStore, run_id: str, name: str, table: pa.Table,
                metadata: Mapping[str, str] | None = None) -> str:
    """Stores ``table`` as stage ``name`` (row groups of ROW_GROUP_ROWS, zstd); returns its object path.

    Args:
        metadata: key-value pairs stored in the Parquet footer (read back with :func:`read_stage_metadata`).
    """
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               **{k.encode(): v.encode() for k, v in metadata.items()}})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    key = stage_path(run_id, name)
    store.put_bytes(key, sink.getvalue())
    return key


def read_stage(store: TrackStore, key: str, columns: list[str] | None = None) -> pa.Table:
    """Reads a stage table written by :func:`write_stage` (only ``columns`` when given: the others are never
    decoded)."""
    return pq.read_table(io.BytesIO(store.read_bytes(key)), columns=columns)


def iter_stage(store: TrackStore, key: str, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """A stage table one row group at a time (at most ROW_GROUP_ROWS rows decoded at once), optionally only
    ``columns``: for stages that need one pass over a large table, not all of it in memory."""
    reader = pq.ParquetFile(io.BytesIO(store.read_bytes(key)))
    for group in range(reader.num_row_groups):
        yield reader.read_row_group(group, columns=columns)


def read_stage_metadata(store: TrackStore, key: str) -> dict[str, str]:
    """The key-value metadata :func:`write_stage` stored with a stage table (empty when none)."""
    meta = pq.ParquetFile(io.BytesIO(store.read_bytes(key))).schema_arrow.metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if not k.startswith(b"ARROW:")}


def delivered_fingerprint(store: TrackStore) -> dict[str, str]:
    """``{key: sha256}`` of every delivered object (stage tables under ``_runs/`` excluded: they are run logs)."""
    return {k: v for k, v in store.fingerprint().items() if not k.startswith(RUNS_PREFIX + "/")}
