"""simulate-streams: deterministic, bulk, spread over the latest pool periods and their territories."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from maestro_core.errors import InputError
from maestro_core.streams import StreamPlan, generate_events, simulate_streams
from maestro_core.warehouse import Warehouse


@pytest.fixture
def with_tracks(warehouse: Warehouse) -> Warehouse:
    warehouse.upsert("TRACKS", [{"track_id": f"trk{i:03d}", "request_id": f"req{i}", "title": "t", "uri": "u",
                                 "sha256": "0" * 64, "duration_ms": 30000, "genre": "jazz", "mood": "dark",
                                 "created_at": dt.datetime(2026, 11, 1)} for i in range(40)])
    return warehouse


def test_the_same_call_twice_loads_the_same_events(with_tracks: Warehouse) -> None:
    assert simulate_streams(with_tracks, 20_000, 2, seed=7) == 20_000
    assert simulate_streams(with_tracks, 20_000, 2, seed=7) == 0
    assert with_tracks.scalar("SELECT COUNT(*) FROM STREAM_EVENTS") == 20_000


def test_events_fall_in_the_latest_periods_and_pool_territories(with_tracks: Warehouse) -> None:
    simulate_streams(with_tracks, 30_000, 2, seed=1)
    span = with_tracks.query("SELECT MIN(EVENT_TS) AS LO, MAX(EVENT_TS) AS HI FROM STREAM_EVENTS").to_pylist()[0]
    assert span["LO"] >= dt.datetime(2026, 9, 1) and span["HI"] < dt.datetime(2026, 11, 1)
    territories = set(with_tracks.query("SELECT DISTINCT TERRITORY FROM STREAM_EVENTS").column(0).to_pylist())
    pools = set(with_tracks.query("SELECT DISTINCT TERRITORY FROM REVENUE_POOLS").column(0).to_pylist())
    assert territories == pools
    short = with_tracks.scalar("SELECT COUNT(*) FROM STREAM_EVENTS WHERE MS_PLAYED < 30000")
    at_threshold = with_tracks.scalar("SELECT COUNT(*) FROM STREAM_EVENTS WHERE MS_PLAYED = 30000")
    assert 0.1 < short / 30_000 < 0.3 and at_threshold > 0
    unknown = with_tracks.scalar("SELECT COUNT(*) FROM STREAM_EVENTS "
                                 "WHERE TRACK_ID NOT IN (SELECT TRACK_ID FROM TRACKS)")
    assert unknown == 0


def test_generation_is_identical_whatever_the_chunking_for_equal_chunks() -> None:
    plan = StreamPlan(("a", "b", "c"), ("2026-10",), ("US", "DE"), 5_000, seed=3)
    one = pa.concat_tables(generate_events(plan, chunk=1_000))
    two = pa.concat_tables(generate_events(plan, chunk=1_000))
    assert one.equals(two)
    assert one.column("EVENT_ID").to_pylist()[:2] == ["ev3-0", "ev3-1"]


def test_without_tracks_the_error_says_what_to_do_first(warehouse: Warehouse) -> None:
    with pytest.raises(InputError, match="tracks.*generate a catalog first"):
        simulate_streams(warehouse, 10, 1)


@pytest.mark.parametrize(("events", "months", "field"), [(-1, 1, "events"), (10, 0, "months")])
def test_bad_arguments_name_the_field(with_tracks: Warehouse, events: int, months: int, field: str) -> None:
    with pytest.raises(InputError) as err:
        simulate_streams(with_tracks, events, months)
    assert err.value.field == field
