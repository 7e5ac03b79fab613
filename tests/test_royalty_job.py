"""The Spark job and the SQL check implement the same rule: they agree to the micro-unit, and with a pure Python
reference built on maestro_core.royalty_rules, on seeded random data full of edge cases."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.royalty_statements import INPUT_FILES, run_royalty_statements
from maestro_core.errors import InputError
from maestro_core.royalty_rules import QUALIFYING_MS, allocate_pool, from_micros, period_bounds, to_micros
from maestro_core.warehouse.duckdb_backend import DuckDBWarehouse
from maestro_pipeline.royalty_run import check_result, compute_with_sql, period_params

pytestmark = pytest.mark.slow
PERIOD = "2026-03"
POOL_TYPE = pa.decimal128(18, 6)


def sql_warehouse(inputs: Path) -> DuckDBWarehouse:
    """The warehouse layer over a plain in-memory DuckDB whose (unconstrained) input tables are the Parquet inputs."""
    wh = DuckDBWarehouse(":memory:")
    for name, file in INPUT_FILES.items():
        wh.attach_parquet(name, inputs / file)
    return wh


def _write_inputs(directory: Path, events: list[dict], splits: list[dict], pools: list[dict],
                  pool_type: pa.DataType = POOL_TYPE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    schemas = {
        "STREAM_EVENTS": pa.schema([("EVENT_ID", pa.string()), ("TRACK_ID", pa.string()), ("TERRITORY", pa.string()),
                                    ("EVENT_TS", pa.timestamp("us", tz="UTC")), ("MS_PLAYED", pa.int32())]),
        "ROYALTY_SPLITS": pa.schema([("TRACK_ID", pa.string()), ("HOLDER_ID", pa.string()),
                                     ("SHARE_BPS", pa.int32())]),
        "REVENUE_POOLS": pa.schema([("PERIOD", pa.string()), ("TERRITORY", pa.string()), ("CURRENCY", pa.string()),
                                    ("AMOUNT", pool_type)]),
    }
    for name, rows in (("STREAM_EVENTS", events), ("ROYALTY_SPLITS", splits), ("REVENUE_POOLS", pools)):
        pq.write_table(pa.Table.from_pylist(rows, schema=schemas[name]), directory / INPUT_FILES[name])
    return directory


def generate(seed: int) -> tuple[list[dict], list[dict], list[dict]]:
    """Events, splits and pools with every edge case of the rule, shuffled by ``seed``."""
    rng = random.Random(seed)
    start, end = period_bounds(PERIOD)
    tracks = [f"trk_{i:03d}" for i in range(rng.randint(5, 25))]
    splits = []
    for t in tracks:
        holders = rng.sample([f"hld_{i:02d}" for i in range(12)], rng.choice([1, 1, 2, 3, 4]))
        cuts = sorted(rng.sample(range(1, 10_000), len(holders) - 1))
        for h, lo, hi in zip(holders, [0, *cuts], [*cuts, 10_000], strict=True):
            splits.append({"TRACK_ID": t, "HOLDER_ID": h, "SHARE_BPS": hi - lo})
    boundary_ts = [start, start - timedelta(microseconds=1), end, end - timedelta(microseconds=1)]
    events = []
    for i in range(rng.randint(50, 400)):
        ts = rng.choice(boundary_ts) if rng.random() < 0.15 else start + timedelta(seconds=rng.randrange(31 * 86400))
        ms = rng.choice([QUALIFYING_MS, QUALIFYING_MS - 1, -5, 0, rng.randint(30_000, 400_000),
                         rng.randint(1, 29_999)])
        track = rng.choice(tracks) if rng.random() > 0.05 else "trk_unknown"
        events.append({"EVENT_ID": f"ev_{i:05d}", "TRACK_ID": track, "TERRITORY": rng.choice(["US", "GB", "FR", "JP"]),
                       "EVENT_TS": ts, "MS_PLAYED": ms})
    for ev in rng.sample(events, len(events) // 10):  # duplicates: identical replays and conflicting copies
        copy = dict(ev)
        if rng.random() < 0.5:
            copy["MS_PLAYED"] = rng.randint(0, 100_000)
        events.append(copy)
    rng.shuffle(events)
    amount = lambda: Decimal(rng.randrange(0, 10**rng.randint(3, 17))).scaleb(-6)  # noqa: E731
    pools = [
        {"PERIOD": PERIOD, "TERRITORY": "US", "CURRENCY": "USD", "AMOUNT": amount()},
        {"PERIOD": PERIOD, "TERRITORY": "GB", "CURRENCY": "GBP", "AMOUNT": amount()},
        {"PERIOD": PERIOD, "TERRITORY": "GB", "CURRENCY": "EUR", "AMOUNT": amount()},  # two currencies, one territory
        {"PERIOD": PERIOD, "TERRITORY": "DE", "CURRENCY": "EUR", "AMOUNT": amount()},  # a pool without streams
        {"PERIOD": "2026-02", "TERRITORY": "US", "CURRENCY": "USD", "AMOUNT": amount()},  # another period
    ]
    if rng.random() < 0.5:
        pools.append({"PERIOD": PERIOD, "TERRITORY": "JP", "CURRENCY": "JPY", "AMOUNT": Decimal("1000000000.000001")})
    return events, splits, pools


def python_ledger(events: list[dict], splits: list[dict], pools: list[dict]) -> list[tuple]:
    """The rule straight from maestro_core.royalty_rules: the third, independent implementation."""
    start, end = period_bounds(PERIOD)
    key = lambda e: tuple((v is not None, v) for v in (e["EVENT_TS"], e["TRACK_ID"], e["TERRITORY"], e["MS_PLAYED"]))  # noqa: E731
    kept: dict[str, dict] = {}
    for ev in events:
        if ev["EVENT_ID"] not in kept or key(ev) < key(kept[ev["EVENT_ID"]]):
            kept[ev["EVENT_ID"]] = ev
    by_track: dict[str, dict[str, int]] = {}
    for s in splits:
        by_track.setdefault(s["TRACK_ID"], {})[s["HOLDER_ID"]] = s["SHARE_BPS"]
    streams: dict[str, dict[str, int]] = {}
    for ev in kept.values():
        if ev["MS_PLAYED"] >= QUALIFYING_MS and start <= ev["EVENT_TS"] < end and ev["TRACK_ID"] in by_track:
            per = streams.setdefault(ev["TERRITORY"], {})
            per[ev["TRACK_ID"]] = per.get(ev["TRACK_ID"], 0) + 1
    lines = []
    for pool in pools:
        if pool["PERIOD"] != PERIOD:
            continue
        territory_streams = streams.get(pool["TERRITORY"], {})
        alloc = allocate_pool(to_micros(pool["AMOUNT"]), territory_streams, by_track)
        for (track, holder), micros in alloc.items():
            lines.append((PERIOD, pool["TERRITORY"], track, holder, pool["CURRENCY"], from_micros(micros),
                          territory_streams[track]))
    return sorted(lines)


def _rows(path: str) -> list[tuple]:
    return sorted(tuple(r.values()) for r in pq.read_table(path).to_pylist())


@pytest.mark.parametrize("seed", [1, 2])
def test_spark_sql_and_python_agree_to_the_micro_unit(spark: Any, tmp_path: Path, seed: int) -> None:
    events, splits, pools = generate(seed)
    inputs = _write_inputs(tmp_path / "in", events, splits, pools)
    spark_result = run_royalty_statements(spark, str(inputs), PERIOD, str(tmp_path / "spark"))
    sql_result = compute_with_sql(sql_warehouse(inputs), PERIOD, tmp_path / "sql")

    expected = python_ledger(events, splits, pools)
    assert _rows(spark_result.ledger_path) == expected
    assert _rows(sql_result.ledger_path) == expected
    assert _rows(spark_result.statements_path) == _rows(sql_result.statements_path)
    assert spark_result.report == sql_result.report
    micros = {(p["TERRITORY"], p["CURRENCY"]): to_micros(p["AMOUNT"]) for p in pools if p["PERIOD"] == PERIOD}
    check_result(spark_result, micros)
    assert [(u.territory, u.currency) for u in spark_result.report.unallocated][:1] == [("DE", "EUR")]


def test_report_counts_each_kind_of_bad_event(spark: Any, tmp_path: Path) -> None:
    start, end = period_bounds(PERIOD)
    ev = lambda i, ms, ts=start, track="t1", terr="US": {  # noqa: E731
        "EVENT_ID": f"e{i}", "TRACK_ID": track, "TERRITORY": terr, "EVENT_TS": ts, "MS_PLAYED": ms}
    events = [ev(1, 30_000), ev(1, 30_000), ev(2, 29_999), ev(3, -1), ev(4, 40_000, end),
              ev(5, 40_000, end - timedelta(microseconds=1)), ev(6, 50_000, track="ghost"), ev(7, 10, track="ghost"),
              ev(8, 31_000, terr="BR")]
    splits = [{"TRACK_ID": "t1", "HOLDER_ID": "h1", "SHARE_BPS": 10_000}]
    pools = [{"PERIOD": PERIOD, "TERRITORY": "US", "CURRENCY": "USD", "AMOUNT": Decimal("10.000001")},
             {"PERIOD": PERIOD, "TERRITORY": "SE", "CURRENCY": "SEK", "AMOUNT": Decimal("5")}]
    result = run_royalty_statements(spark, str(_write_inputs(tmp_path / "in", events, splits, pools)), PERIOD,
                                    str(tmp_path / "out"))
    r = result.report
    assert (r.input_events, r.duplicate_events, r.invalid_events, r.out_of_period_events) == (9, 1, 1, 1)
    assert (r.short_events, r.qualifying_events, r.unmatched_events, r.unmatched_streams) == (2, 4, 2, 1)
    assert (r.unpooled_streams, r.paid_streams) == (1, 2)
    assert [(u.territory, u.amount) for u in r.unallocated] == [("SE", Decimal("5.000000"))]
    assert _rows(result.ledger_path) == [(PERIOD, "US", "t1", "h1", "USD", Decimal("10.000001"), 2)]
    assert _rows(result.statements_path) == [(PERIOD, "h1", "USD", 2, Decimal("10.000001"))]


def test_splits_not_summing_to_10000_refuse_the_period_naming_the_tracks(spark: Any, tmp_path: Path) -> None:
    events, splits, pools = generate(4)
    splits = [s for s in splits if not (s["TRACK_ID"] == "trk_001" and s is splits[-1])]
    splits.append({"TRACK_ID": "trk_002", "HOLDER_ID": "hld_99", "SHARE_BPS": 1})
    inputs = _write_inputs(tmp_path / "in", events, splits, pools)
    with pytest.raises(InputError, match="trk_002") as err:
        run_royalty_statements(spark, str(inputs), PERIOD, str(tmp_path / "out"))
    assert err.value.field == "ROYALTY_SPLITS.SHARE_BPS"
    with pytest.raises(InputError, match="trk_002"):
        compute_with_sql(sql_warehouse(inputs), PERIOD, tmp_path / "sql")


def test_pool_amount_with_more_than_six_decimals_is_an_error(spark: Any, tmp_path: Path) -> None:
    events, splits, pools = generate(5)
    pools[0]["AMOUNT"] = Decimal("12.0000001")
    inputs = _write_inputs(tmp_path / "in", events, splits, pools, pool_type=pa.decimal128(20, 8))
    with pytest.raises(InputError, match="more than 6 decimal places") as err:
        run_royalty_statements(spark, str(inputs), PERIOD, str(tmp_path / "out"))
    assert err.value.field.startswith("REVENUE_POOLS.AMOUNT")


def test_period_without_pool_is_a_clear_error(spark: Any, tmp_path: Path) -> None:
    events, splits, pools = generate(6)
    inputs = _write_inputs(tmp_path / "in", events, splits, pools)
    with pytest.raises(InputError, match="no revenue pool for 2025-11"):
        run_royalty_statements(spark, str(inputs), "2025-11", str(tmp_path / "out"))
    with pytest.raises(InputError, match="no revenue pool for 2025-11"):
        compute_with_sql(sql_warehouse(inputs), "2025-11", tmp_path / "sql")


def test_each_engine_leaves_a_report_that_reads_back_as_its_result(spark: Any, tmp_path: Path) -> None:
    from maestro_pipeline.royalty_run import read_outputs

    events, splits, pools = generate(3)
    inputs = _write_inputs(tmp_path / "in", events, splits, pools)
    spark_result = run_royalty_statements(spark, str(inputs), PERIOD, str(tmp_path / "spark"))
    sql_result = compute_with_sql(sql_warehouse(inputs), PERIOD, tmp_path / "sql")
    assert read_outputs(tmp_path / "spark", PERIOD) == spark_result
    assert read_outputs(tmp_path / "sql", PERIOD) == sql_result
    with pytest.raises(InputError):  # a failed rerun leaves no report behind to vouch for the old outputs
        run_royalty_statements(spark, str(inputs), "2025-11", str(tmp_path / "spark"))
    assert not (tmp_path / "spark" / "report.json").exists()


def _warehouse_with_month(home: Path) -> Any:
    """A migrated DuckDB warehouse under ``home`` holding a generated month (no duplicates: EVENT_ID is its key)."""
    from maestro_core.config import load_settings
    from maestro_core.warehouse import connect

    events, splits, pools = generate(11)
    unique = {e["EVENT_ID"]: {**e, "EVENT_TS": e["EVENT_TS"].replace(tzinfo=None)} for e in events}
    settings = load_settings(home=home, warehouse_url=f"duckdb:///{home / 'wh.duckdb'}")
    with connect(settings) as wh:
        wh.migrate()
        wh.upsert("STREAM_EVENTS", list(unique.values()))
        wh.upsert("ROYALTY_SPLITS", [{**s, "ROLE": "artist"} for s in splits])
        wh.upsert("REVENUE_POOLS", pools)
    return settings


def test_rerun_of_a_period_replaces_it_and_never_double_counts(spark: Any, tmp_path: Path) -> None:
    from maestro_core.warehouse import connect
    from maestro_pipeline.royalty_run import run_royalties

    settings = _warehouse_with_month(tmp_path)
    first = run_royalties(settings, PERIOD, engine="spark", spark=spark)
    assert first.loads[0].inserted == first.ledger_lines > 0
    again = run_royalties(settings, PERIOD, engine="sql")  # the other engine, same answer: nothing changes
    assert [(r.inserted, r.updated) for r in again.loads[:2]] == [(0, 0), (0, 0)] and again.stale_deleted == 0
    assert again.statements.equals(first.statements)

    with connect(settings) as wh:  # a late correction: one track loses all its streams
        gone = wh.scalar("SELECT MIN(TRACK_ID) FROM ROYALTY_LEDGER WHERE PERIOD = :p", {"p": PERIOD})
        wh.execute("DELETE FROM STREAM_EVENTS WHERE TRACK_ID = :t", {"t": gone})
        remaining = wh.scalar("SELECT COUNT(*) FROM STREAM_EVENTS WHERE EVENT_TS >= :period_start AND EVENT_TS < "
                              ":period_end", {k: v for k, v in period_params(PERIOD).items() if k != "period"})
    third = run_royalties(settings, PERIOD, engine="spark", spark=spark)
    assert third.stale_deleted > 0 and third.report.input_events == remaining
    with connect(settings) as wh:
        assert wh.scalar("SELECT COUNT(*) FROM ROYALTY_LEDGER WHERE TRACK_ID = :t", {"t": gone}) == 0
        per_pool = wh.query("SELECT L.TERRITORY, L.CURRENCY, SUM(L.AMOUNT) AS PAID, MIN(P.AMOUNT) AS POOL "
                            "FROM ROYALTY_LEDGER L JOIN REVENUE_POOLS P ON P.PERIOD = L.PERIOD "
                            "AND P.TERRITORY = L.TERRITORY AND P.CURRENCY = L.CURRENCY GROUP BY 1, 2").to_pylist()
        assert per_pool and all(r["PAID"] == r["POOL"] for r in per_pool)
        assert wh.scalar("SELECT LEDGER_LINES FROM ROYALTY_RUNS WHERE PERIOD = :p", {"p": PERIOD}) == third.ledger_lines
