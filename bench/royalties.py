"""Benchmark: royalty statements for one month on Spark (local[2]) and on DuckDB (plain SQL), same data, one run.

    .venv/bin/python bench/royalties.py [--events 10000000] [--tracks 2000] [--territories 30] [--keep DIR]

Generates the events with vectorised numpy straight to Parquet, times both engines end to end (Parquet in,
ledger and statements out), checks they agree to the micro-unit, and prints both times, their ratio and input
rows per second. Target: Spark under 120 s on 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.royalty_statements import INPUT_FILES, run_royalty_statements
from maestro_core.royalty_rules import period_bounds
from maestro_core.warehouse.duckdb_backend import DuckDBWarehouse
from maestro_pipeline.royalty_run import compute_with_sql

PERIOD = "2026-03"


def generate(directory: Path, events: int, tracks: int, territories: int, seed: int = 7) -> None:
    """Writes the three inputs; ~0.5% duplicate event ids, ~1% events of unknown tracks, ~0.1% negative ms."""
    rng = np.random.default_rng(seed)
    start, end = period_bounds(PERIOD)
    start_us, span_us = int(start.timestamp() * 1e6), int((end - start).total_seconds() * 1e6)
    track_ids = pa.array([f"trk_{i:05d}" for i in range(tracks + tracks // 100)])  # the last 1% have no splits
    codes = pa.array([f"T{i:02d}" for i in range(territories)])
    ids = np.arange(events, dtype=np.int64)
    replays = rng.random(events) < 0.005
    ids[replays] = rng.integers(0, events, int(replays.sum()))  # at-least-once delivery: replayed event ids
    popularity = rng.zipf(1.3, events) % len(track_ids)
    ms = rng.integers(-300, 300_000, events, dtype=np.int32)
    ms[rng.random(events) < 0.2] = 30_000  # many streams exactly at the threshold
    ts = start_us - 60_000_000 + rng.integers(0, span_us + 120_000_000, events, dtype=np.int64)  # spill over edges
    table = pa.table({
        "EVENT_ID": pa.array(ids).cast(pa.string()),
        "TRACK_ID": pa.DictionaryArray.from_arrays(pa.array(popularity.astype(np.int32)), track_ids),
        "TERRITORY": pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, territories, events, dtype=np.int32)),
                                                    codes),
        "EVENT_TS": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "MS_PLAYED": pa.array(ms),
    })
    pq.write_table(table, directory / INPUT_FILES["STREAM_EVENTS"], row_group_size=1_000_000)
    split_rows = []
    for i in range(tracks):
        n = int(rng.integers(1, 4))
        cuts = sorted(rng.choice(np.arange(1, 10_000), n - 1, replace=False).tolist())
        for j, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, 10_000], strict=True)):
            split_rows.append({"TRACK_ID": f"trk_{i:05d}", "HOLDER_ID": f"hld_{(i * 7 + j) % 500:04d}",
                               "SHARE_BPS": hi - lo})
    pq.write_table(pa.Table.from_pylist(split_rows), directory / INPUT_FILES["ROYALTY_SPLITS"])
    pools = [{"PERIOD": PERIOD, "TERRITORY": f"T{i:02d}", "CURRENCY": "EUR" if i % 3 else "USD",
              "AMOUNT": Decimal(int(rng.integers(10**6, 10**14))).scaleb(-6)} for i in range(1, territories)]
    pools.append({"PERIOD": PERIOD, "TERRITORY": "T01", "CURRENCY": "GBP", "AMOUNT": Decimal("12345.678901")})
    pools.append({"PERIOD": PERIOD, "TERRITORY": "ZZ", "CURRENCY": "USD", "AMOUNT": Decimal("1.000000")})
    schema = pa.schema([("PERIOD", pa.string()), ("TERRITORY", pa.string()), ("CURRENCY", pa.string()),
                        ("AMOUNT", pa.decimal128(18, 6))])
    pq.write_table(pa.Table.from_pylist(pools, schema=schema), directory / INPUT_FILES["REVENUE_POOLS"])


def parquet_warehouse(directory: Path) -> DuckDBWarehouse:
    """An in-memory DuckDB warehouse whose input tables are views of the Parquet files Spark reads."""
    wh = DuckDBWarehouse(":memory:")
    for name, file in INPUT_FILES.items():
        wh.attach_parquet(name, directory / file)
    return wh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tracks", type=int, default=2_000)
    parser.add_argument("--territories", type=int, default=30)
    parser.add_argument("--keep", type=Path, default=None, help="work directory to keep (default: a temp dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = args.keep or Path(tempfile.mkdtemp(prefix="maestro-bench-royalties-"))
    inputs = work / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    generate(inputs, args.events, args.tracks, args.territories)
    gen_s = time.perf_counter() - t0
    print(f"generated {args.events:,} events, {args.tracks:,} tracks, {args.territories} territories in {gen_s:.1f} s")

    from pyspark.sql import SparkSession

    t0 = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").appName("bench-royalties")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.ansi.enabled", "true").config("spark.sql.shuffle.partitions", "8")
             .config("spark.driver.memory", "6g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    startup_s = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        spark_result = run_royalty_statements(spark, str(inputs), PERIOD, str(work / "spark"))
        spark_s = time.perf_counter() - t0
    finally:
        spark.stop()

    t0 = time.perf_counter()
    sql_result = compute_with_sql(parquet_warehouse(inputs), PERIOD, work / "sql")
    duck_s = time.perf_counter() - t0

    def rows(path: str) -> list[tuple]:
        return sorted(tuple(r.values()) for r in pq.read_table(path).to_pylist())

    agree = (rows(spark_result.ledger_path) == rows(sql_result.ledger_path)
             and rows(spark_result.statements_path) == rows(sql_result.statements_path)
             and spark_result.report == sql_result.report)
    lines = pq.read_table(spark_result.ledger_path).num_rows
    print(f"ledger lines {lines:,}; report {spark_result.report.as_row()}")
    print(f"spark local[2]: {spark_s:6.1f} s  ({args.events / spark_s:,.0f} input rows/s; session start "
          f"{startup_s:.1f} s not included)  target < 120 s: {'met' if spark_s < 120 else 'MISSED'}")
    print(f"duckdb sql    : {duck_s:6.1f} s  ({args.events / duck_s:,.0f} input rows/s)")
    print(f"ratio spark/duckdb: {spark_s / duck_s:.2f}x   results agree to the micro-unit: {agree}")
    if not agree:
        raise SystemExit("Spark and DuckDB disagree")


if __name__ == "__main__":
    main()
