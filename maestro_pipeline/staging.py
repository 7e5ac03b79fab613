"""Stage tables between pipeline tasks: Parquet objects under ``{storage}/_runs/{run_id}/``.

Airflow tasks may run on different machines and XComs should carry ids and URIs only, so each stage writes its
output table here and hands on the key. Writes are atomic and idempotent (see :mod:`maestro_core.storage`).
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from maestro_core.storage import TrackStore, safe_segment

RUNS_PREFIX = "_runs"


def stage_path(run_id: str, name: str) -> str:
    """The key of stage ``name`` of run ``run_id`` (e.g. ``_runs/<run>/gated.parquet``)."""
    return f"{RUNS_PREFIX}/{safe_segment(run_id, 'run_id')}/{safe_segment(name, 'stage')}.parquet"


def write_stage(store: TrackStore, run_id: str, name: str, table: pa.Table) -> str:
    """Stores ``table`` as stage ``name``; returns its object path."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    key = stage_path(run_id, name)
    store.put_bytes(key, sink.getvalue())
    return key


def read_stage(store: TrackStore, key: str) -> pa.Table:
    """Reads a stage table written by :func:`write_stage`."""
    return pq.read_table(io.BytesIO(store.read_bytes(key)))


def delivered_fingerprint(store: TrackStore) -> dict[str, str]:
    """``{key: sha256}`` of every delivered object (stage tables under ``_runs/`` excluded: they are run logs)."""
    return {k: v for k, v in store.fingerprint().items() if not k.startswith(RUNS_PREFIX + "/")}
