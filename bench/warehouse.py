"""Bulk load vs row-by-row: 100,000 provenance-sized rows loaded, then upserted again (half new, half changed).

Prints rows per second for the bulk path (stage + one MERGE) and for row-by-row ``executemany`` of a one-row MERGE
on the same backend, and their ratio. Target: bulk >= 50x. The row-by-row path runs on a sample (``--baseline-rows``)
because at its speed the full 200,000 rows would take many minutes; rows per second is what is compared.

    .venv/bin/python bench/warehouse.py [--rows 100000] [--baseline-rows 2000] [--backend duckdb|snowflake]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from maestro_core import schema
from maestro_core.config import load_settings
from maestro_core.warehouse import Warehouse, connect, read_sql
from maestro_core.warehouse.rows import conform


def provenance_rows(start: int, n: int, version: str) -> pa.Table:
    """TRACK_PROVENANCE rows of realistic size (~1.2 KB of JSON each)."""
    ids = [f"{i:08d}-5e1c-5b0a-9c7e-{i:012d}" for i in range(start, start + n)]
    params = json.dumps({"genre": "lofi-chill", "mood": "ambient-focus", "tempo_bpm": 72, "key": "C major",
                         "duration_s": 180, "sections": ["intro", "A", "B", "break", "A", "outro"],
                         "descriptors": {"brightness": 0.41, "energy": 0.22, "density": 0.35, "mode": 0.7,
                                         "colour": 0.3, "texture": 0.45}, "version": version}, sort_keys=True)
    inputs = json.dumps({"key_phrases": ["rainy city lights", "quiet introspection", "velvet night"],
                         "melody_midi": "asset_seed_001", "sha256": "ab" * 32}, sort_keys=True)
    models = json.dumps([{"asset_id": "asset_model_minilm_l6_v2", "sha256": "cd" * 32},
                         {"asset_id": "asset_soundfont_timgm6mb", "sha256": "ef" * 32}], sort_keys=True)
    return pa.table({
        "TRACK_ID": ids, "ENGINE": ["composer"] * n, "ENGINE_VERSION": ["0.1.0"] * n,
        "MODEL_IDS": [models] * n, "PARAMS": [params] * n, "SEED": list(range(start, start + n)),
        "INPUTS": [inputs] * n, "LICENSE_IDS": [json.dumps(["lic_seed_001_ada", "lic_soundfont_timgm"])] * n,
        "RUN_ID": ["run-2026-11-25"] * n, "CODE_VERSION": ["0.1.0+bench"] * n,
        "CREATED_AT": [dt.datetime(2026, 11, 25, 12, 0)] * n,
    })


def second_pass(rows: int) -> pa.Table:
    """Half the keys already loaded (with a changed version), half new."""
    return pa.concat_tables([provenance_rows(rows // 2, rows // 2, "v2"), provenance_rows(rows, rows // 2, "v2")])


def bulk(wh: Warehouse, rows: int) -> float:
    t0 = time.perf_counter()
    first = wh.upsert("TRACK_PROVENANCE", provenance_rows(0, rows, "v1"))
    again = wh.upsert("TRACK_PROVENANCE", second_pass(rows))
    elapsed = time.perf_counter() - t0
    assert (first.inserted, again.inserted, again.updated) == (rows, rows // 2, rows // 2), (first, again)
    return 2 * rows / elapsed


def row_by_row(wh: Warehouse, rows: int) -> float:
    table = schema.table("TRACK_PROVENANCE")
    # One translated statement (binds named as the columns), run with the driver's executemany.
    stmt = wh._statements(read_sql("bench/merge_one_provenance.sql"))[0]
    conn = getattr(wh, "_conn", None)
    cursor = getattr(wh, "_cur", conn)
    first = conform(table, provenance_rows(10_000_000, rows, "v1")).to_pylist()
    again = conform(table, second_pass(rows).set_column(
        0, "TRACK_ID", pa.array([f"rb-{i}" for i in range(rows)]))).to_pylist()
    t0 = time.perf_counter()
    for batch in (first, again):
        cursor.executemany(stmt.sql, [[r[c] for c in stmt.binds] for r in batch])
    return 2 * rows / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--backend", choices=["duckdb", "snowflake"], default="duckdb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        if args.backend == "duckdb":
            settings = load_settings(home=Path(home))
            server = None
        else:
            import fakesnow

            server = fakesnow.server()
            kw = server.__enter__()
            settings = load_settings(home=Path(home), warehouse_url="snowflake://", snowflake_account=kw["account"],
                                     snowflake_user=kw["user"], snowflake_password=kw["password"],
                                     snowflake_database="BENCH", snowflake_schema="CORE", snowflake_host=kw["host"],
                                     snowflake_port=kw["port"], snowflake_protocol=kw["protocol"])
        try:
            with connect(settings) as wh:
                wh.migrate()
                bulk_rps = bulk(wh, args.rows)
                rbr_rps = row_by_row(wh, args.baseline_rows)
        finally:
            if server is not None:
                server.__exit__(None, None, None)
    print(f"backend={args.backend} rows={args.rows} (load + upsert half new/half changed)")
    print(f"bulk stage+MERGE:           {bulk_rps:12,.0f} rows/s")
    print(f"row-by-row executemany:     {rbr_rps:12,.0f} rows/s  (on {args.baseline_rows:,} rows per pass)")
    print(f"ratio bulk/row-by-row:      {bulk_rps / rbr_rps:12.1f}x  (target >= 50x)")


if __name__ == "__main__":
    main()
