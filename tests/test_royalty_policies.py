"""Royalty policies (issue 14, section 5): pro_rata, streaming_2024 and user_centric.

Property tests of the pure per-pool rules in maestro_core.royalty_rules; the Spark job and the SQL engine agree with
each other and with a Python reference built on those rules, to the micro-unit, for every policy; a crafted month
where the policies disagree in the documented direction; unknown policy names; ROYALTY_RUNS.POLICY; reruns.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.royalty_statements import run_royalty_statements
from maestro_core.errors import InputError
from maestro_core.royalty_rules import (
    FUNCTIONAL_MIN_MS,
    MIN_TRAILING_STREAMS,
    POLICIES,
    QUALIFYING_MS,
    allocate_pool,
    allocate_pool_streaming_2024,
    allocate_pool_user_centric,
    check_policy,
    from_micros,
    period_bounds,
    split_equally,
    streaming_2024_eligible,
    to_micros,
    trailing_start,
)
from maestro_core.streams import StreamPlan, generate_events
from maestro_core.warehouse.duckdb_backend import DuckDBWarehouse
from maestro_pipeline.royalty_run import check_result, compute_with_sql, export_inputs

PERIOD = "2026-03"
FUNCTIONAL = ("ambient-noise", "sleep")

# --- the pure rules ----------------------------------------------------------------------------------------------

track_ids = st.sampled_from([f"t{i}" for i in range(8)])


@st.composite
def pool_inputs(draw: st.DrawFn) -> tuple[int, dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """A pool in micro-units, per-listener track streams, and splits of every track (summing to 10000)."""
    pool = draw(st.integers(0, 10**17))
    listeners = draw(st.dictionaries(st.sampled_from([f"l{i}" for i in range(10)]),
                                     st.dictionaries(track_ids, st.integers(0, 5_000), max_size=5), max_size=8))
    splits = {}
    for i in range(8):
        n = draw(st.integers(1, 3))
        cuts = sorted(draw(st.lists(st.integers(1, 9_999), min_size=n - 1, max_size=n - 1, unique=True)))
        splits[f"t{i}"] = {f"h{j}": hi - lo for j, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, 10_000],
                                                                              strict=True))}
    return pool, listeners, splits


def _track_totals(listeners: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for tracks in listeners.values():
        for t, s in tracks.items():
            totals[t] = totals.get(t, 0) + s
    return totals


@settings(max_examples=200, deadline=None)
@given(pool_inputs(), st.sets(track_ids))
def test_streaming_2024_allocates_the_whole_pool_to_eligible_tracks_only(
        inputs: tuple[int, dict, dict], eligible: set[str]) -> None:
    pool, listeners, splits = inputs
    streams = _track_totals(listeners)
    lines = allocate_pool_streaming_2024(pool, streams, splits, eligible)
    assert all(v >= 0 for v in lines.values())
    assert all(track in eligible for track, _ in lines)
    if any(s > 0 and t in eligible for t, s in streams.items()):
        assert sum(lines.values()) == pool
    else:
        assert lines == {}  # the pool is unallocated
    if eligible >= set(streams):  # nothing ineligible: exactly pro_rata
        assert lines == allocate_pool(pool, streams, splits)


@settings(max_examples=200, deadline=None)
@given(pool_inputs())
def test_user_centric_allocates_the_whole_pool_over_what_listeners_played(inputs: tuple[int, dict, dict]) -> None:
    pool, listeners, splits = inputs
    lines = allocate_pool_user_centric(pool, listeners, splits)
    played = {t for tracks in listeners.values() for t, s in tracks.items() if s > 0}
    assert all(v >= 0 for v in lines.values())
    assert {track for track, _ in lines} == played
    assert sum(lines.values()) == (pool if played else 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**17), st.sets(st.text("abc", min_size=1, max_size=3), max_size=20))
def test_an_equal_split_sums_to_the_pool_and_differs_by_at_most_one_micro_unit(pool: int, members: set[str]) -> None:
    shares = split_equally(pool, members)
    assert set(shares) == members
    if members:
        assert sum(shares.values()) == pool and max(shares.values()) - min(shares.values()) <= 1
        ordered = [shares[m] for m in sorted(members)]
        assert ordered == sorted(ordered, reverse=True)  # left-over micro-units go to the first ids


@settings(max_examples=100, deadline=None)
@given(pool_inputs(), st.sampled_from([f"l{i}" for i in range(10)]))
def test_a_listener_share_goes_only_to_what_that_listener_played(inputs: tuple[int, dict, dict], solo: str) -> None:
    pool, _listeners, splits = inputs
    listeners = {solo: {"t0": 1}, "zz-heavy": {"t1": 10_000}}
    lines = allocate_pool_user_centric(pool, listeners, splits)
    t0 = sum(v for (t, _), v in lines.items() if t == "t0")
    assert t0 == split_equally(pool, listeners)[solo]  # one stream gets a whole listener's share


def test_eligibility_of_streaming_2024() -> None:
    assert streaming_2024_eligible(MIN_TRAILING_STREAMS, "pop", 60_000, FUNCTIONAL)
    assert not streaming_2024_eligible(MIN_TRAILING_STREAMS - 1, "pop", 300_000, FUNCTIONAL)
    assert not streaming_2024_eligible(10**6, "sleep", FUNCTIONAL_MIN_MS - 1, FUNCTIONAL)
    assert streaming_2024_eligible(10**6, "sleep", FUNCTIONAL_MIN_MS, FUNCTIONAL)
    assert streaming_2024_eligible(10**6, None, 1_000, FUNCTIONAL)
    assert streaming_2024_eligible(10**6, "sleep", None, FUNCTIONAL)
    assert streaming_2024_eligible(10**6, "sleep", 1_000, ())


def test_the_trailing_window_is_the_period_and_the_eleven_months_before() -> None:
    assert trailing_start("2026-03") == period_bounds("2025-04")[0]
    assert trailing_start("2026-12") == period_bounds("2026-01")[0]
    assert trailing_start("2026-01", 1) == period_bounds("2026-01")[0]


def test_an_unknown_policy_is_one_error_naming_the_field() -> None:
    assert [check_policy(p) for p in POLICIES] == list(POLICIES)
    with pytest.raises(InputError, match="accepted: pro_rata, streaming_2024, user_centric") as err:
        check_policy("fair_share", "--policy")
    assert err.value.field == "--policy"


def test_simulated_streams_have_deterministic_heavy_tailed_listeners() -> None:
    plan = StreamPlan(("a", "b", "c"), ("2026-10",), ("US", "DE"), 5_000, seed=3)
    one = pa.concat_tables(generate_events(plan, chunk=1_000))
    assert one.equals(pa.concat_tables(generate_events(plan, chunk=1_000)))
    listeners = one.column("LISTENER_ID").to_pylist()
    assert None not in listeners and all(x.startswith("lst3-") for x in listeners)
    counts = sorted((listeners.count(x) for x in set(listeners)), reverse=True)
    assert len(counts) > 20 and counts[0] > 10 * counts[len(counts) // 2]


# --- both engines ------------------------------------------------------------------------------------------------

SCHEMAS = {
    "STREAM_EVENTS": pa.schema([("EVENT_ID", pa.string()), ("TRACK_ID", pa.string()), ("TERRITORY", pa.string()),
                                ("EVENT_TS", pa.timestamp("us", tz="UTC")), ("MS_PLAYED", pa.int32()),
                                ("LISTENER_ID", pa.string())]),
    "ROYALTY_SPLITS": pa.schema([("TRACK_ID", pa.string()), ("HOLDER_ID", pa.string()), ("SHARE_BPS", pa.int32())]),
    "REVENUE_POOLS": pa.schema([("PERIOD", pa.string()), ("TERRITORY", pa.string()), ("CURRENCY", pa.string()),
                                ("AMOUNT", pa.decimal128(18, 6))]),
    "TRACKS": pa.schema([("TRACK_ID", pa.string()), ("GENRE", pa.string()), ("DURATION_MS", pa.int32())]),
}


def warehouse_of(directory: Path, data: dict[str, list[dict]]) -> DuckDBWarehouse:
    """An in-memory DuckDB warehouse whose four tables are Parquet files written from ``data``."""
    directory.mkdir(parents=True, exist_ok=True)
    wh = DuckDBWarehouse(":memory:")
    for name, rows in data.items():
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS[name]), directory / f"{name.lower()}.parquet")
        wh.attach_parquet(name, directory / f"{name.lower()}.parquet")
    return wh


def generate(seed: int) -> dict[str, list[dict]]:
    """A trailing year of events (the period busiest), some tracks above and some below 1000 trailing streams,
    functional tracks short and long, null listeners, duplicates, unknown tracks and a pool without streams."""
    rng = random.Random(seed)
    start, end = period_bounds(PERIOD)
    window = trailing_start(PERIOD)
    tracks = [f"trk_{i:02d}" for i in range(10)]
    genres = {t: rng.choice(["pop", "jazz", "sleep", "ambient-noise", None]) for t in tracks}
    genres.update({"trk_00": "pop", "trk_01": "sleep", "trk_02": "ambient-noise"})
    durations = {t: rng.choice([60_000, 119_999, 120_000, 200_000]) for t in tracks}
    durations.update({"trk_01": 119_999, "trk_02": 120_000})  # functional: one too short, one just long enough
    track_rows = [{"TRACK_ID": t, "GENRE": genres[t], "DURATION_MS": durations[t]}
                  for t in tracks if genres[t] is not None]  # tracks without a TRACKS row too
    splits = []
    for t in tracks:
        holders = rng.sample([f"hld_{i}" for i in range(6)], rng.choice([1, 2, 3]))
        cuts = sorted(rng.sample(range(1, 10_000), len(holders) - 1))
        splits += [{"TRACK_ID": t, "HOLDER_ID": h, "SHARE_BPS": hi - lo}
                   for h, lo, hi in zip(holders, [0, *cuts], [*cuts, 10_000], strict=True)]
    weights = [60, 40, 40, *(rng.choice([1, 3, 10]) for _ in tracks[3:])]  # a few tracks near 1000 trailing
    listeners = [f"lst_{i:03d}" for i in range(40)]
    events = []
    for i in range(10_000):
        in_period = rng.random() < 0.4
        ts = (start + timedelta(seconds=rng.randrange(31 * 86400)) if in_period
              else window - timedelta(days=20) + timedelta(seconds=rng.randrange(int((start - window).total_seconds())
                                                                                  + 20 * 86400)))
        track = rng.choices(tracks, weights)[0] if rng.random() > 0.03 else "trk_unknown"
        listener = None if rng.random() < 0.1 else listeners[min(int(rng.paretovariate(1.2)) - 1, 39)]
        events.append({"EVENT_ID": f"ev_{i:05d}", "TRACK_ID": track, "TERRITORY": rng.choice(["US", "GB", "FR"]),
                       "EVENT_TS": ts, "LISTENER_ID": listener,
                       "MS_PLAYED": rng.choice([QUALIFYING_MS, QUALIFYING_MS - 1, rng.randint(30_000, 300_000),
                                                rng.randint(30_000, 300_000), 5_000])})
    for ev in rng.sample(events, 200):
        events.append({**ev, "MS_PLAYED": rng.randint(0, 100_000), "LISTENER_ID": rng.choice(listeners)})
    pools = [{"PERIOD": PERIOD, "TERRITORY": "US", "CURRENCY": "USD", "AMOUNT": Decimal("123456.789012")},
             {"PERIOD": PERIOD, "TERRITORY": "GB", "CURRENCY": "GBP", "AMOUNT": Decimal("999.999999")},
             {"PERIOD": PERIOD, "TERRITORY": "GB", "CURRENCY": "EUR", "AMOUNT": Decimal("0.000007")},
             {"PERIOD": PERIOD, "TERRITORY": "DE", "CURRENCY": "EUR", "AMOUNT": Decimal("50")}]
    return {"STREAM_EVENTS": events, "ROYALTY_SPLITS": splits, "REVENUE_POOLS": pools, "TRACKS": track_rows}


def python_ledger(data: dict[str, list[dict]], policy: str) -> list[tuple]:
    """The policy straight from maestro_core.royalty_rules: the third, independent implementation."""
    start, end = period_bounds(PERIOD)
    window = trailing_start(PERIOD)
    fields = ("EVENT_TS", "TRACK_ID", "TERRITORY", "MS_PLAYED", "LISTENER_ID")
    key = lambda e: tuple((e[f] is not None, e[f]) for f in fields)  # noqa: E731
    kept: dict[str, dict] = {}
    for ev in data["STREAM_EVENTS"]:
        if ev["EVENT_ID"] not in kept or key(ev) < key(kept[ev["EVENT_ID"]]):
            kept[ev["EVENT_ID"]] = ev
    splits: dict[str, dict[str, int]] = {}
    for s in data["ROYALTY_SPLITS"]:
        splits.setdefault(s["TRACK_ID"], {})[s["HOLDER_ID"]] = s["SHARE_BPS"]
    trailing: dict[str, int] = {}
    by_territory: dict[str, dict[str, int]] = {}
    by_listener: dict[str, dict[str, dict[str, int]]] = {}
    for ev in kept.values():
        if ev["MS_PLAYED"] < QUALIFYING_MS:
            continue
        if window <= ev["EVENT_TS"] < end:
            trailing[ev["TRACK_ID"]] = trailing.get(ev["TRACK_ID"], 0) + 1
        if start <= ev["EVENT_TS"] < end and ev["TRACK_ID"] in splits:
            per = by_territory.setdefault(ev["TERRITORY"], {})
            per[ev["TRACK_ID"]] = per.get(ev["TRACK_ID"], 0) + 1
            if ev["LISTENER_ID"] is not None:
                mine = by_listener.setdefault(ev["TERRITORY"], {}).setdefault(ev["LISTENER_ID"], {})
                mine[ev["TRACK_ID"]] = mine.get(ev["TRACK_ID"], 0) + 1
    meta = {t["TRACK_ID"]: t for t in data["TRACKS"]}
    eligible = {t for t, n in trailing.items()
                if streaming_2024_eligible(n, meta.get(t, {}).get("GENRE"), meta.get(t, {}).get("DURATION_MS"),
                                           FUNCTIONAL)}
    lines = []
    for pool in data["REVENUE_POOLS"]:
        territory, micros = pool["TERRITORY"], to_micros(pool["AMOUNT"])
        if policy == "pro_rata":
            alloc = allocate_pool(micros, by_territory.get(territory, {}), splits)
        elif policy == "streaming_2024":
            alloc = allocate_pool_streaming_2024(micros, by_territory.get(territory, {}), splits, eligible)
        else:
            alloc = allocate_pool_user_centric(micros, by_listener.get(territory, {}), splits)
        for (track, holder), value in alloc.items():
            streams = (sum(m.get(track, 0) for m in by_listener.get(territory, {}).values())
                       if policy == "user_centric" else by_territory[territory][track])
            lines.append((PERIOD, territory, track, holder, pool["CURRENCY"], from_micros(value), streams))
    return sorted(lines)


def _rows(path: str) -> list[tuple]:
    return sorted(tuple(r.values()) for r in pq.read_table(path).to_pylist())


def both_engines(spark: Any, wh: DuckDBWarehouse, tmp_path: Path, policy: str) -> tuple[Any, Any]:
    """The SQL engine on ``wh`` and the Spark job on ``wh``'s export, both under ``policy``."""
    sql_result = compute_with_sql(wh, PERIOD, tmp_path / f"sql-{policy}", policy, FUNCTIONAL)
    export_inputs(wh, PERIOD, tmp_path / f"in-{policy}", policy)
    spark_result = run_royalty_statements(spark, str(tmp_path / f"in-{policy}"), PERIOD,
                                          str(tmp_path / f"spark-{policy}"), policy, FUNCTIONAL)
    return sql_result, spark_result


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_agrees_across_spark_sql_and_python(spark: Any, tmp_path: Path, policy: str) -> None:
    data = generate(21)
    sql_result, spark_result = both_engines(spark, warehouse_of(tmp_path / "wh", data), tmp_path, policy)
    expected = python_ledger(data, policy)
    assert expected and _rows(sql_result.ledger_path) == expected
    assert _rows(spark_result.ledger_path) == expected
    assert _rows(spark_result.statements_path) == _rows(sql_result.statements_path)
    # The SQL engine reads the whole table, the job the period's export: counts of events outside it differ.
    outside = {"input_events", "duplicate_events", "out_of_period_events"}
    assert ({k: v for k, v in spark_result.report.as_row().items() if k not in outside}
            == {k: v for k, v in sql_result.report.as_row().items() if k not in outside})
    assert spark_result.policy == sql_result.policy == policy
    check_result(spark_result, {(p["TERRITORY"], p["CURRENCY"]): to_micros(p["AMOUNT"])
                                for p in data["REVENUE_POOLS"]})
    assert ("DE", "EUR") in [(u.territory, u.currency) for u in spark_result.report.unallocated]


def crafted() -> dict[str, list[dict]]:
    """One US pool of 1000.000000 USD and five tracks (one holder each):

    * ``hit``: 1500 streams by one heavy listener;
    * ``niche``: 100 streams by a light listener (and 1100 the year before);
    * ``near``: 999 trailing streams, 500 of them in the period (light listener ``l2``);
    * ``noise``: genre sleep, 90 s, 1200 streams in the period by ``l3``;
    * ``old``: 1200 streams with no LISTENER_ID.
    """
    start, _ = period_bounds(PERIOD)
    before = start - timedelta(days=100)
    events: list[dict] = []

    def play(track: str, listener: str | None, n: int, at: datetime) -> None:
        events.extend({"EVENT_ID": f"{track}-{len(events)}", "TRACK_ID": track, "TERRITORY": "US",
                       "EVENT_TS": at + timedelta(minutes=i), "MS_PLAYED": 60_000, "LISTENER_ID": listener}
                      for i in range(n))

    play("hit", "heavy", 1500, start)
    play("niche", "l1", 100, start)
    play("niche", "l1", 1100, before)
    play("near", "l2", 500, start)
    play("near", "l2", 499, before)
    play("noise", "l3", 1200, start)
    play("old", None, 1200, start)
    tracks = ("hit", "niche", "near", "noise", "old")
    return {"STREAM_EVENTS": events,
            "ROYALTY_SPLITS": [{"TRACK_ID": t, "HOLDER_ID": f"h_{t}", "SHARE_BPS": 10_000} for t in tracks],
            "REVENUE_POOLS": [{"PERIOD": PERIOD, "TERRITORY": "US", "CURRENCY": "USD", "AMOUNT": Decimal("1000")}],
            "TRACKS": [{"TRACK_ID": t, "GENRE": "sleep" if t == "noise" else "pop",
                        "DURATION_MS": 90_000 if t == "noise" else 200_000} for t in tracks]}


@pytest.mark.slow
def test_the_three_policies_disagree_on_a_crafted_month_in_the_documented_direction(
        spark: Any, tmp_path: Path) -> None:
    data = crafted()
    wh = warehouse_of(tmp_path / "wh", data)
    paid: dict[str, dict[str, Decimal]] = {}
    for policy in POLICIES:
        sql_result, spark_result = both_engines(spark, wh, tmp_path, policy)
        assert _rows(spark_result.ledger_path) == _rows(sql_result.ledger_path) == python_ledger(data, policy)
        paid[policy] = {r[2]: r[5] for r in _rows(sql_result.ledger_path)}
    pro, s24, uc = paid["pro_rata"], paid["streaming_2024"], paid["user_centric"]
    # pro_rata: 4500 streams, each track its share of them; the 2 left-over micro-units go to the largest remainders.
    assert pro == {"hit": Decimal("333.333333"), "niche": Decimal("22.222222"), "near": Decimal("111.111111"),
                   "noise": Decimal("266.666667"), "old": Decimal("266.666667")}
    # streaming_2024: near (999 trailing) and noise (functional, 90 s) earn nothing; their share is reallocated.
    assert set(s24) == {"hit", "niche", "old"} and sum(s24.values()) == Decimal("1000")
    assert s24["hit"] == Decimal("535.714286") and s24["niche"] > pro["niche"]
    # user_centric: 4 identified listeners get 250 each; the heavy listener's 1500 plays are worth one share, the
    # light listener's 100 plays a whole one; events without LISTENER_ID earn nothing.
    assert uc == {"hit": Decimal("250"), "niche": Decimal("250"), "near": Decimal("250"), "noise": Decimal("250")}
    assert uc["hit"] < pro["hit"] and uc["niche"] > pro["niche"] and "old" not in uc


# --- the run: setting, CLI, ROYALTY_RUNS.POLICY, reruns ---------------------------------------------------------


def _warehouse_with(home: Path, data: dict[str, list[dict]]) -> Any:
    from maestro_core.config import load_settings
    from maestro_core.warehouse import connect

    settings = load_settings(home=home, warehouse_url=f"duckdb:///{home / 'wh.duckdb'}")
    created = datetime(2026, 1, 1)
    with connect(settings) as wh:
        wh.migrate()
        wh.upsert("STREAM_EVENTS", [{**e, "EVENT_TS": e["EVENT_TS"].replace(tzinfo=None)}
                                    for e in data["STREAM_EVENTS"]])
        wh.upsert("ROYALTY_SPLITS", [{**s, "ROLE": "artist"} for s in data["ROYALTY_SPLITS"]])
        wh.upsert("REVENUE_POOLS", data["REVENUE_POOLS"])
        wh.upsert("TRACKS", [{**t, "REQUEST_ID": "r", "TITLE": t["TRACK_ID"], "URI": "u", "SHA256": "0" * 64,
                              "MOOD": "calm", "CREATED_AT": created} for t in data["TRACKS"]])
    return settings


def test_the_policy_is_recorded_and_a_rerun_under_another_replaces_the_statements(tmp_path: Path) -> None:
    from maestro_core.warehouse import connect
    from maestro_pipeline.royalty_run import run_royalties

    settings = _warehouse_with(tmp_path, crafted())
    statements = "SELECT HOLDER_ID, AMOUNT FROM ROYALTY_STATEMENTS WHERE PERIOD = :p ORDER BY HOLDER_ID"
    run_policy = "SELECT POLICY, ENGINE FROM ROYALTY_RUNS WHERE PERIOD = :p"
    first = run_royalties(settings, PERIOD, engine="sql")  # the setting's default: pro_rata
    assert first.policy == "pro_rata"
    with connect(settings) as wh:
        assert len(wh.query(statements, {"p": PERIOD}).to_pylist()) == 5
        assert wh.query(run_policy, {"p": PERIOD}).to_pylist() == [{"POLICY": "pro_rata", "ENGINE": "sql"}]
    second = run_royalties(settings, PERIOD, engine="sql", policy="streaming_2024")
    assert second.stale_deleted == 4  # near and noise: a ledger line and a statement each
    with connect(settings) as wh:
        rows = wh.query(statements, {"p": PERIOD}).to_pylist()
        assert [r["HOLDER_ID"] for r in rows] == ["h_hit", "h_niche", "h_old"]
        assert sum(r["AMOUNT"] for r in rows) == Decimal("1000")
        assert wh.query(run_policy, {"p": PERIOD}).to_pylist() == [{"POLICY": "streaming_2024", "ENGINE": "sql"}]
        assert wh.scalar("SELECT COUNT(*) FROM ROYALTY_LEDGER WHERE PERIOD = :p", {"p": PERIOD}) == 3
    third = run_royalties(settings.model_copy(update={"royalty_policy": "user_centric"}), PERIOD, engine="sql")
    assert third.policy == "user_centric"
    with connect(settings) as wh:
        assert [r["AMOUNT"] for r in wh.query(statements, {"p": PERIOD}).to_pylist()] == [Decimal("250")] * 4
    with pytest.raises(InputError) as err:
        run_royalties(settings, PERIOD, engine="sql", policy="fair_share")
    assert err.value.field == "policy"


def test_the_cli_takes_a_policy_and_refuses_an_unknown_one_with_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from maestro_ai.cli import run
    from maestro_core.warehouse import connect

    settings = _warehouse_with(tmp_path, crafted())
    monkeypatch.setenv("MAESTRO_HOME", str(settings.home))
    monkeypatch.setenv("MAESTRO_WAREHOUSE_URL", settings.warehouse_url)
    assert run(["royalties", "--period", PERIOD, "--engine", "sql", "--policy", "fair_share"]) == 2
    err = capsys.readouterr()
    assert "--policy" in err.out + err.err and "user_centric" in err.out + err.err
    assert run(["royalties", "--period", PERIOD, "--engine", "sql", "--policy", "user_centric"]) == 0
    assert "policy user_centric" in capsys.readouterr().out
    with connect(settings) as wh:
        assert wh.scalar("SELECT POLICY FROM ROYALTY_RUNS WHERE PERIOD = :p", {"p": PERIOD}) == "user_centric"
    monkeypatch.setenv("MAESTRO_ROYALTY_POLICY", "streaming_2024")
    assert run(["royalties", "--period", PERIOD, "--engine", "sql"]) == 0
    assert "policy streaming_2024" in capsys.readouterr().out
    monkeypatch.setenv("MAESTRO_ROYALTY_POLICY", "fair_share")
    assert run(["royalties", "--period", PERIOD, "--engine", "sql"]) == 2
    err = capsys.readouterr()
    assert "royalty_policy" in (err.out + err.err).lower()


@pytest.mark.slow
def test_the_dag_takes_a_policy_param_and_records_it(airflow_env: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from maestro_core.warehouse import connect

    settings = _warehouse_with(tmp_path, crafted())
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path))
    monkeypatch.setenv("MAESTRO_WAREHOUSE_URL", settings.warehouse_url)
    dag = DagBag(dag_folder=str(airflow_env.dags_folder)).get_dag("maestro_royalty_statements")
    run = dag.test(logical_date=datetime(2026, 4, 1, tzinfo=UTC),
                   run_conf={"engine": "sql", "policy": "streaming_2024"})
    assert run.state == "success"
    with connect(settings) as wh:
        assert wh.scalar("SELECT POLICY FROM ROYALTY_RUNS WHERE PERIOD = :p", {"p": PERIOD}) == "streaming_2024"
        assert wh.scalar("SELECT COUNT(*) FROM ROYALTY_STATEMENTS WHERE PERIOD = :p", {"p": PERIOD}) == 3
