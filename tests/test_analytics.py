"""Named analytics queries: documented headers, and each one answering correctly on DuckDB and on Snowflake
(fakesnow) from the same small, hand-checked warehouse."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from maestro_core import analytics
from maestro_core.errors import InputError
from maestro_core.warehouse import Warehouse

MARCH = {"period": "2026-03", "start_date": "2026-03-01", "end_date": "2026-04-01", "as_of": "2026-03-15"}


def _load(wh: Warehouse) -> None:
    ts = datetime(2026, 3, 2, 12, 0)
    prompt = {"MOOD": "calm", "KEY_PHRASES": "[]", "TEMPO_BPM": 90, "DURATION_S": 60, "TERRITORIES": '["WW"]',
              "PRIORITY": 1}
    request = {"RUN_ID": "run1", "ORDINAL": 0, "SEED": 1, "UPDATED_AT": ts, "PLAYLIST_ID": None}
    track = {"URI": "file:///x.wav", "DURATION_MS": 60_000, "MOOD": "calm", "CREATED_AT": ts, "ISRC": None}
    loads = {
        "RIGHTS_HOLDERS": [{"HOLDER_ID": f"h{i}", "NAME": f"Holder {i}", "KIND": "artist"} for i in range(1, 13)],
        "PROMPT_CATALOG": [
            {**prompt, "PROMPT_ID": "p_jazz", "GENRE": "jazz", "TARGET_COUNT": 3, "ACTIVE": True},
            {**prompt, "PROMPT_ID": "p_rock", "GENRE": "rock", "TARGET_COUNT": 1, "ACTIVE": True},
            {**prompt, "PROMPT_ID": "p_off", "GENRE": "ambient", "TARGET_COUNT": 5, "ACTIVE": False},
        ],
        "GENERATION_RUNS": [{"RUN_ID": "run1", "DAG_ID": "d", "LOGICAL_DATE": date(2026, 3, 2), "ENGINE": "composer",
                             "STARTED_AT": datetime(2026, 3, 2, 12, 0), "FINISHED_AT": datetime(2026, 3, 2, 12, 10),
                             "STATUS": "success", "COUNTS": "{}"}],
        "GENERATION_REQUESTS": [
            {**request, "REQUEST_ID": "q1", "PROMPT_ID": "p_jazz", "STATUS": "generated", "REASONS": "[]"},
            {**request, "REQUEST_ID": "q2", "PROMPT_ID": "p_jazz", "STATUS": "failed", "REASONS": '["qc:loudness"]'},
            {**request, "REQUEST_ID": "q3", "PROMPT_ID": "p_rock", "STATUS": "rejected",
             "REASONS": '[{"code": "blocked_term", "message": "blocked term \'x\'"}, {"code": "license_expired"}]'},
            {**request, "REQUEST_ID": "q4", "PROMPT_ID": "p_rock", "STATUS": "generated", "REASONS": "[]"},
        ],
        "TRACKS": [
            {**track, "TRACK_ID": "t1", "REQUEST_ID": "q1", "TITLE": "One", "SHA256": "aa", "GENRE": "jazz"},
            {**track, "TRACK_ID": "t2", "REQUEST_ID": "q4", "TITLE": "Two", "SHA256": "bb", "GENRE": "rock"},
            {**track, "TRACK_ID": "t3", "REQUEST_ID": "q1", "TITLE": "Three", "SHA256": "cc", "GENRE": "jazz"},
        ],
        "TRACK_PROVENANCE": [
            {"TRACK_ID": "t1", "ENGINE": "composer", "ENGINE_VERSION": "1", "SEED": 1, "CREATED_AT": ts,
             "LICENSE_IDS": '["lic_soon"]', "AUDIO_SHA256": "aa", "MANIFEST_SIGNED": True},
            {"TRACK_ID": "t3", "ENGINE": "composer", "ENGINE_VERSION": "1", "SEED": 3, "CREATED_AT": ts,
             "LICENSE_IDS": '["lic_late"]', "AUDIO_SHA256": "zz", "MANIFEST_SIGNED": True},
        ],
        "LICENSES": [
            {"LICENSE_ID": lid, "ASSET_ID": "a", "HOLDER_ID": "h1", "TERRITORIES": '["WW"]', "USAGES": "[]",
             "VALID_FROM": date(2025, 1, 1), "VALID_TO": valid_to, "SHARE_BPS": 1000}
            for lid, valid_to in (("lic_soon", date(2026, 3, 20)), ("lic_late", date(2027, 1, 1)))
        ],
        "PLAYLISTS": [{"PLAYLIST_ID": "pl1", "NAME": "Late", "GENRE": "jazz", "MOOD": "calm", "TEMPO_MIN": 60,
                       "TEMPO_MAX": 100, "TARGET_TRACKS": 4}],
        "PLAYLIST_TRACKS": [{"PLAYLIST_ID": "pl1", "POSITION": 0, "TRACK_ID": "t1"}],
        "STREAM_EVENTS": [
            {"EVENT_ID": f"e{i}", "TRACK_ID": tid, "TERRITORY": "US", "EVENT_TS": datetime(2026, 3, day),
             "MS_PLAYED": ms}
            for i, (tid, day, ms) in enumerate([("t1", 1, 30_000), ("t1", 5, 90_000), ("t1", 31, 45_000),
                                                 ("t1", 6, 29_999), ("t2", 10, 60_000), ("t2", 14, 31_000)])
        ],
        "ROYALTY_STATEMENTS": [
            {"PERIOD": "2026-03", "HOLDER_ID": f"h{i}", "CURRENCY": "USD", "STREAMS": i, "AMOUNT": Decimal(i)}
            for i in range(1, 13)
        ] + [{"PERIOD": "2026-03", "HOLDER_ID": "h1", "CURRENCY": "EUR", "STREAMS": 3, "AMOUNT": Decimal("7.25")}],
    }
    for table, rows in loads.items():  # one by one: fakesnow's server fails on an 11-table upsert_many
        wh.upsert(table, rows)


def _run(wh: Warehouse, name: str, **extra: str) -> list[dict]:
    query = analytics.get_query(name)
    params = {p.name: MARCH[p.name] for p in query.params if p.name in MARCH}
    return analytics.run_query(wh, name, {**params, **extra}).to_pylist()


def test_every_query_documents_name_description_and_params() -> None:
    queries = analytics.list_queries()
    assert len(queries) >= 10
    for q in queries:
        assert q.path.stem == q.name and len(q.description) > 20
        assert {f":{p.name}" for p in q.params} <= set(q.sql.split()) | {tok for tok in q.sql.replace("(", " ")
                                                                        .replace(")", " ").split()}
    assert any(q.materialize for q in queries)


@pytest.mark.snowflake
def test_queries_answer_the_same_on_both_backends(wh_backend: Warehouse) -> None:
    wh = wh_backend
    _load(wh)
    statement = _run(wh, "royalty_statement_by_holder")
    assert [(r["HOLDER_ID"], r["CURRENCY"], r["AMOUNT"]) for r in statement][:2] == [
        ("h1", "EUR", Decimal("7.25")), ("h12", "USD", Decimal(12))]
    assert statement[0]["HOLDER_NAME"] == "Holder 1" and isinstance(statement[0]["AMOUNT"], Decimal)

    top = _run(wh, "top_tracks_by_streams", top_n="1")
    assert [(r["STREAM_RANK"], r["TRACK_ID"], r["STREAMS"]) for r in top] == [(1, "t1", 3)]
    genres = _run(wh, "top_genres_by_streams")
    assert [(r["GENRE"], r["STREAMS"], r["TRACKS_STREAMED"]) for r in genres] == [("jazz", 3, 1), ("rock", 2, 1)]

    volume = {(r["GENRE"], r["STATUS"]): r["REQUESTS"] for r in _run(wh, "generation_volume_by_genre_day")}
    assert volume == {("jazz", "failed"): 1, ("jazz", "generated"): 1, ("rock", "generated"): 1,
                      ("rock", "rejected"): 1}
    reasons = [(r["GENRE"], r["STATUS"], r["REASON"]) for r in _run(wh, "rejection_reasons_by_genre_day")]
    assert reasons == [("jazz", "failed", "qc:loudness"), ("rock", "rejected", "blocked_term")]
    failure = {r["GENRE"]: r["FAILURE_PCT"] for r in _run(wh, "quality_gate_failure_rate")}
    assert failure == {"jazz": Decimal("50.00"), "rock": Decimal("0.00")}

    (engine,) = _run(wh, "engine_throughput")
    assert (engine["ENGINE"], engine["TRACKS"], engine["ENGINE_SECONDS"]) == ("composer", 3, 600)
    assert engine["SECONDS_PER_TRACK"] == Decimal("200.000") and engine["TRACKS_PER_ENGINE_HOUR"] == Decimal("18.000")

    coverage = [(r["PROMPT_ID"], r["TRACKS"], r["MISSING"]) for r in _run(wh, "catalog_coverage")]
    assert coverage == [("p_jazz", 2, 1)]
    (fill,) = _run(wh, "playlist_fill_rate")
    assert (fill["TRACKS"], fill["FILL_PCT"]) == (1, Decimal("25.00"))
    audit = [(r["TRACK_ID"], r["PROBLEM"]) for r in _run(wh, "provenance_audit")]
    assert audit == [("t3", "audio hash mismatch"), ("t2", "no provenance row")]

    exposure = _run(wh, "rights_exposure", days="30")
    assert [(r["TRACK_ID"], r["LICENSE_ID"], r["DAYS_LEFT"], r["STREAMS_30D"]) for r in exposure] == [
        ("t1", "lic_soon", 5, 2)]
    assert _run(wh, "rights_exposure", days="2") == []
    concentration = {r["CURRENCY"]: r for r in _run(wh, "holder_concentration")}
    assert concentration["USD"]["TOP10_PAID"] == Decimal(75) and concentration["USD"]["TOTAL_PAID"] == Decimal(78)
    assert concentration["USD"]["TOP10_SHARE_PCT"] == Decimal("96.15")
    assert concentration["EUR"]["TOP10_SHARE_PCT"] == Decimal("100.00")

    wh.upsert("ROYALTY_RUNS", [{"PERIOD": "2026-03", "ENGINE": "spark", "INPUT_EVENTS": 6, "DUPLICATE_EVENTS": 0,
                                "INVALID_EVENTS": 0, "OUT_OF_PERIOD_EVENTS": 0, "SHORT_EVENTS": 1,
                                "QUALIFYING_EVENTS": 5, "UNMATCHED_EVENTS": 0, "UNMATCHED_STREAMS": 0,
                                "UNPOOLED_STREAMS": 0, "PAID_STREAMS": 5, "LEDGER_LINES": 2,
                                "UNALLOCATED": json.dumps([{"territory": "DE", "currency": "EUR", "amount": "9"}])}])
    (run,) = _run(wh, "royalty_runs_unallocated")
    assert json.loads(run["UNALLOCATED"]) == [{"territory": "DE", "currency": "EUR", "amount": "9"}]

    heavy = analytics.materialize_heavy(wh)
    assert heavy["ANALYTICS_CATALOG_COVERAGE"] == 1 and heavy["ANALYTICS_PROVENANCE_AUDIT"] == 2
    assert analytics.materialize_heavy(wh) == heavy  # a refresh replaces, never appends


def test_parameters_are_checked_by_name(warehouse_duckdb: Warehouse) -> None:
    with pytest.raises(InputError, match="top_n") as err:
        analytics.run_query(warehouse_duckdb, "top_tracks_by_streams",
                            {"start_date": "2026-03-01", "end_date": "2026-04-01", "top_n": "ten"})
    assert err.value.field == "top_n"
    with pytest.raises(InputError, match="start_date"):
        analytics.run_query(warehouse_duckdb, "top_tracks_by_streams", {"end_date": "2026-04-01"})
    with pytest.raises(InputError, match="accepted: period"):
        analytics.run_query(warehouse_duckdb, "holder_concentration", {"period": "2026-03", "colour": "red"})
    with pytest.raises(InputError, match="no analytics query 'nope'"):
        analytics.get_query("nope")


def test_results_write_as_csv_and_parquet(warehouse_duckdb: Warehouse, tmp_path: Path) -> None:
    _load(warehouse_duckdb)
    table = analytics.run_query(warehouse_duckdb, "playlist_fill_rate")
    assert pq.read_table(analytics.write_result(table, "parquet", tmp_path / "f.parquet")).equals(table)
    assert pcsv.read_csv(analytics.write_result(table, "csv", tmp_path / "f.csv")).num_rows == table.num_rows
