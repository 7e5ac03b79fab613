"""Playlist fill: smooth key and tempo transitions, filling to target, and reruns that never overfill."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from inference.descriptors import phrase_descriptors
from maestro_core.request_status import PLANNED
from maestro_core.storage import TrackStore
from maestro_core.warehouse import connect
from maestro_pipeline import PipelineOptions, planning, staging
from maestro_pipeline.fingerprint import fingerprint
from maestro_pipeline.ordering import (
    MAX_TEMPO_STEP,
    fifths_position,
    key_distance,
    plan_keys_and_tempos,
    smooth_order,
    tempo_step,
)
from maestro_pipeline.playlist import run_playlist_fill
from tests.plugins.pipeline import RUN_DATE, TEST_DURATION_S

DAY = dt.date.fromisoformat(RUN_DATE)
OPTIONS = PipelineOptions(duration_s=TEST_DURATION_S, sign=False)


def test_relative_keys_share_a_place_on_the_circle_of_fifths():
    assert fifths_position("C major") == fifths_position("A minor") == 0
    assert fifths_position("G major") == fifths_position("E minor") == 1
    assert fifths_position("F major") == fifths_position("D minor") == 11
    assert key_distance("C major", "F major") == 1 and key_distance("C major", "F# major") == 6


@given(count=st.integers(1, 24), low=st.integers(40, 160), width=st.integers(0, 60),
       start=st.sampled_from(["C major", "A minor", "F# major", "Bb minor", None]), minor=st.booleans())
def test_planned_steps_move_one_fifth_and_under_eight_percent_tempo(count, low, width, start, minor):
    steps = plan_keys_and_tempos(count, low, low + width, start, None, minor)
    assert len(steps) == count
    assert all(low <= tempo <= low + width for _, tempo in steps)
    for (key_a, tempo_a), (key_b, tempo_b) in zip(steps, steps[1:], strict=False):
        assert key_distance(key_a, key_b) == 1
        assert tempo_step(tempo_a, tempo_b) <= MAX_TEMPO_STEP


def test_smooth_order_starts_next_to_the_last_track_and_keeps_neighbours_close():
    tracks = [{"TRACK_ID": f"t{i}", "TEMPO_BPM": tempo, "MUSICAL_KEY": key} for i, (key, tempo) in enumerate(
        [("E major", 100), ("C major", 90), ("D major", 96), ("G major", 92), ("A major", 98)])]
    order = smooth_order(tracks, after={"TEMPO_BPM": 88, "MUSICAL_KEY": "F major"})
    assert [t["MUSICAL_KEY"] for t in order] == ["C major", "G major", "D major", "A major", "E major"]
    for a, b in zip(order, order[1:], strict=False):
        assert key_distance(a["MUSICAL_KEY"], b["MUSICAL_KEY"]) == 1 and tempo_step(a["TEMPO_BPM"],
                                                                                  b["TEMPO_BPM"]) <= 0.08


def test_fill_reaches_target_at_most_and_a_rerun_changes_nothing(make_home, ray_cluster):
    settings = make_home("playlist")
    with connect(settings) as wh:
        wh.execute("UPDATE PLAYLISTS SET TARGET_TRACKS = CASE WHEN PLAYLIST_ID = 'pl_015' THEN 3 ELSE 0 END")
    first = run_playlist_fill(settings, DAY, OPTIONS)
    before = fingerprint(settings)
    with connect(settings) as wh:
        placed = wh.query("SELECT PT.POSITION, T.TEMPO_BPM, T.GENRE, T.MOOD FROM PLAYLIST_TRACKS PT JOIN TRACKS T "
                          "ON T.TRACK_ID = PT.TRACK_ID JOIN PLAYLISTS P ON P.PLAYLIST_ID = PT.PLAYLIST_ID "
                          "WHERE PT.PLAYLIST_ID = 'pl_015' ORDER BY PT.POSITION").to_pylist()
        window = wh.query("SELECT TEMPO_MIN, TEMPO_MAX, GENRE, MOOD FROM PLAYLISTS WHERE PLAYLIST_ID = 'pl_015'"
                          ).to_pylist()[0]
    assert 1 <= len(placed) <= 3 and first.counts["appended"] == len(placed)
    assert [p["POSITION"] for p in placed] == list(range(1, len(placed) + 1))
    assert all(p["GENRE"] == window["GENRE"] and p["MOOD"] == window["MOOD"] for p in placed)
    gated = staging.read_stage(TrackStore(settings.storage_url), staging.stage_path(first.run_id, "gated"))
    allowed = planning.with_status(gated, PLANNED).to_pylist()
    assert allowed and all(json.loads(r["DESCRIPTORS"]) == phrase_descriptors(json.loads(r["KEY_PHRASES"])).to_dict()
                           for r in allowed)  # described in planning, once, for the workers
    again = run_playlist_fill(settings, DAY, OPTIONS)
    assert fingerprint(settings).differences(before) == [] and again.changed_rows == 0
    with connect(settings) as wh:
        wh.execute("UPDATE PLAYLISTS SET TARGET_TRACKS = 1 WHERE PLAYLIST_ID = 'pl_015'")
    run_playlist_fill(settings, DAY + dt.timedelta(days=1), OPTIONS)  # a lower target: nothing to add
    with connect(settings) as wh:
        assert wh.scalar("SELECT COUNT(*) FROM PLAYLIST_TRACKS") == len(placed)
