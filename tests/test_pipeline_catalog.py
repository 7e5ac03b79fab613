"""Catalog generation end to end on the embedded warehouse with a local Ray (5 s tracks)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pytest

from maestro_core import identity
from maestro_core.config import load_settings
from maestro_core.errors import ConfigError, WarehouseError
from maestro_core.failure_budget import BudgetExceeded
from maestro_core.request_status import REJECTED, RUN_FAILED
from maestro_core.storage import TrackStore
from maestro_core.warehouse import connect
from maestro_pipeline import PipelineOptions, planning, records, run_catalog, staging
from maestro_pipeline.fingerprint import fingerprint
from maestro_pipeline.preflight import PreflightFailed
from tests.plugins.pipeline import RUN_DATE, TEST_DURATION_S

DAY = dt.date.fromisoformat(RUN_DATE)
OPTIONS = PipelineOptions(duration_s=TEST_DURATION_S)
BROKEN_PROMPTS = [
    {"PROMPT_ID": "prm_broken_tempo", "GENRE": "house", "MOOD": "energetic", "KEY_PHRASES": '["warehouse"]',
     "TEMPO_BPM": 999, "MUSICAL_KEY": "A minor", "DURATION_S": 30, "MELODY_SEED_ASSET_ID": None,
     "TERRITORIES": '["US"]', "TARGET_COUNT": 1, "PRIORITY": 1, "ACTIVE": True},
    {"PROMPT_ID": "prm_broken_genre", "GENRE": "polka-metal", "MOOD": "energetic", "KEY_PHRASES": '[""]',
     "TEMPO_BPM": 120, "MUSICAL_KEY": "H minor", "DURATION_S": 30, "MELODY_SEED_ASSET_ID": None,
     "TERRITORIES": '["usa"]', "TARGET_COUNT": 1, "PRIORITY": 1, "ACTIVE": True},
]


def logical_state(settings) -> dict:
    """The run's outcome without wall-clock columns: what must agree between an interrupted and a clean run."""
    with connect(settings) as wh:
        return {
            "requests": wh.query("SELECT REQUEST_ID, STATUS, REASONS FROM GENERATION_REQUESTS ORDER BY 1").to_pylist(),
            "tracks": wh.query("SELECT TRACK_ID, REQUEST_ID, ISRC, SHA256, DURATION_MS, GENRE, TITLE FROM TRACKS "
                               "ORDER BY 1").to_pylist(),
            "splits": wh.query("SELECT * FROM ROYALTY_SPLITS ORDER BY TRACK_ID, HOLDER_ID").to_pylist(),
            "provenance": wh.query("SELECT TRACK_ID, AUDIO_SHA256, LICENSE_IDS FROM TRACK_PROVENANCE "
                                   "ORDER BY 1").to_pylist(),
            "run": wh.query("SELECT STATUS, COUNTS FROM GENERATION_RUNS").to_pylist(),
        }


@pytest.fixture(scope="module")
def finished(ray_cluster, make_home):
    """One uninterrupted run of the sample catalog for RUN_DATE, then the same date again."""
    settings = make_home("clean")
    first = run_catalog(settings, DAY, OPTIONS)
    before = fingerprint(settings)
    second = run_catalog(settings, DAY, OPTIONS)
    return settings, first, second, before, fingerprint(settings)


def test_run_generates_allowed_requests_and_records_rejections(finished):
    settings, first, *_ = finished
    counts = first.counts
    assert counts["tracks"] == counts["generated"] > 0 and counts["rejected"] > 0 and counts["planned"] == 0
    with connect(settings) as wh:
        rejected = wh.query("SELECT REASONS FROM GENERATION_REQUESTS WHERE STATUS = 'rejected'").to_pylist()
        splits = wh.query("SELECT TRACK_ID, SUM(SHARE_BPS) AS TOTAL FROM ROYALTY_SPLITS GROUP BY TRACK_ID").to_pylist()
        tracks = wh.query("SELECT URI, ISRC FROM TRACKS").to_pylist()
    codes = {reason["code"] for row in rejected for reason in json.loads(row["REASONS"])}
    assert {"license_expired", "blocked_term", "territory_not_covered"} <= codes
    assert len(splits) == counts["tracks"] and all(s["TOTAL"] == 10000 for s in splits)
    store = TrackStore(settings.storage_url)
    for track in tracks:
        assert store.exists(store.key_of(track["URI"])) and len(track["ISRC"]) == 12


def test_rerun_of_same_date_changes_nothing(finished):
    _, first, second, before, after = finished
    assert before.differences(after) == []
    assert second.changed_rows == 0 and second.generated_now == 0
    assert second.counts == first.counts


def test_stale_results_of_an_earlier_attempt_never_rewrite_a_done_tracks_splits(finished):
    """A rerun whose load is handed an earlier attempt's result files (Airflow keeps the XComs of map indexes a
    shrunk expansion removed) must not recompute the splits of tracks that are already done."""
    from maestro_pipeline import catalog
    from maestro_pipeline.fanout import run_locally

    settings, first, *_ = finished
    store = TrackStore(settings.storage_url)
    gated_now = staging.read_stage(store, staging.stage_path(first.run_id, "gated"))  # the rerun's: all done
    done = gated_now.filter(pa.compute.equal(gated_now["STATUS"], "done"))
    as_first_time = done.set_column(done.schema.get_field_index("STATUS"), "STATUS",
                                    pa.array(["planned"] * done.num_rows))
    # What the first attempt's result files held: one generated row per track (resumed from storage here).
    results = run_locally(catalog.work_table(as_first_time), catalog.worker_spec(settings, OPTIONS))
    assert set(gated_now["STATUS"].to_pylist()) <= {"done", "rejected"}
    assert results.num_rows == done.num_rows > 0 and set(results["STATUS"].to_pylist()) == {"generated"}
    with connect(settings) as wh:
        before = wh.query("SELECT * FROM ROYALTY_SPLITS ORDER BY TRACK_ID, HOLDER_ID").to_pylist()
        report = records.load_run(wh, gated_now, results, records.platform_holder_id(wh))
        after = wh.query("SELECT * FROM ROYALTY_SPLITS ORDER BY TRACK_ID, HOLDER_ID").to_pylist()
        totals = wh.query("SELECT SUM(SHARE_BPS) AS T FROM ROYALTY_SPLITS GROUP BY TRACK_ID").to_pylist()
    assert report.changed == 0 and after == before and {t["T"] for t in totals} == {10000}


def test_stage_timings_are_reported(finished):
    _, first, *_ = finished
    assert {"plan", "gate", "generate", "qc", "sign_store", "load"} <= set(first.stage_seconds)


def test_crash_between_storing_audio_and_loading_records_then_rerun_matches_a_clean_run(
        finished, make_home, monkeypatch):
    clean_settings = finished[0]
    settings = make_home("crashed")

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the audio was stored")

    monkeypatch.setattr(records, "load_run", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_catalog(settings, DAY, OPTIONS)
    monkeypatch.undo()
    with connect(settings) as wh:
        assert wh.scalar("SELECT COUNT(*) FROM TRACKS") == 0
        assert wh.scalar("SELECT STATUS FROM GENERATION_RUNS") == RUN_FAILED
    stored = fingerprint(settings).objects
    assert stored, "the crash came after the audio was stored"
    report = run_catalog(settings, DAY, OPTIONS)
    assert report.resumed == report.counts["tracks"] and report.generated_now == 0
    assert fingerprint(settings).objects == stored  # nothing re-rendered or re-signed
    assert logical_state(settings) == logical_state(clean_settings)


def test_prompts_with_broken_fields_are_rejected_naming_the_field_and_the_batch_continues(make_home, ray_cluster):
    settings = make_home("broken")
    with connect(settings) as wh:
        wh.execute("UPDATE PROMPT_CATALOG SET ACTIVE = FALSE WHERE PROMPT_ID <> 'prm_0025'")
        wh.upsert("PROMPT_CATALOG", BROKEN_PROMPTS)
    report = run_catalog(settings, DAY, OPTIONS)
    with connect(settings) as wh:
        rows = {r["PROMPT_ID"]: (r["STATUS"], json.loads(r["REASONS"])) for r in wh.query(
            "SELECT PROMPT_ID, STATUS, REASONS FROM GENERATION_REQUESTS").to_pylist()}
    assert rows["prm_0025"][0] == "generated" and report.counts["rejected"] == 2  # the batch went on
    tempo = rows["prm_broken_tempo"]
    assert tempo[0] == "rejected" and [r["field"] for r in tempo[1]] == ["TEMPO_BPM"]
    assert {r["field"] for r in rows["prm_broken_genre"][1]} == {"GENRE", "KEY_PHRASES", "TERRITORIES", "MUSICAL_KEY"}
    # Planning described the one planned prompt's phrases for the workers; rejected prompts got nothing.
    from inference.descriptors import phrase_descriptors

    gated = {r["PROMPT_ID"]: r for r in staging.read_stage(
        TrackStore(settings.storage_url), staging.stage_path(report.run_id, "gated")).to_pylist()}
    assert json.loads(gated["prm_0025"]["DESCRIPTORS"]) == phrase_descriptors(
        json.loads(gated["prm_0025"]["KEY_PHRASES"])).to_dict()
    assert gated["prm_broken_tempo"]["DESCRIPTORS"] is None and gated["prm_broken_genre"]["DESCRIPTORS"] is None


def test_storage_failure_is_recorded_as_failed_and_retried_on_the_next_run(make_home, ray_cluster):
    settings = make_home("storage")
    with connect(settings) as wh:
        wh.execute("UPDATE PROMPT_CATALOG SET ACTIVE = FALSE WHERE PROMPT_ID <> 'prm_0025'")
        genre = wh.scalar("SELECT GENRE FROM PROMPT_CATALOG WHERE PROMPT_ID = 'prm_0025'")
    root = settings.home / "tracks"
    root.mkdir(parents=True)
    (root / genre).write_text("a file where the genre's directory must go")
    with pytest.raises(BudgetExceeded) as info:  # its only request failed: the run fails, naming the cause
        run_catalog(settings, DAY, PipelineOptions(duration_s=TEST_DURATION_S, sign=False))
    assert info.value.verdict.rule == "all_failed" and "StorageError" in str(info.value)
    rid = identity.request_id("prm_0025", DAY, 0)
    with connect(settings) as wh:
        status, reasons = wh.query("SELECT STATUS, REASONS FROM GENERATION_REQUESTS WHERE REQUEST_ID = :r",
                                   {"r": rid}).to_pylist()[0].values()
        run_row = wh.query("SELECT STATUS, REASON FROM GENERATION_RUNS").to_pylist()
    assert status == "failed" and run_row[0]["STATUS"] == "failed" and "StorageError" in run_row[0]["REASON"]
    assert json.loads(reasons)[0]["error"] == "StorageError" and "write failed" in json.loads(reasons)[0]["message"]
    (root / genre).unlink()
    with connect(settings) as wh:
        wh.execute("UPDATE PROMPT_CATALOG SET ACTIVE = FALSE")  # the next day plans nothing new
    run_catalog(settings, DAY + dt.timedelta(days=1), PipelineOptions(duration_s=TEST_DURATION_S, sign=False))
    with connect(settings) as wh:
        retried = wh.query("SELECT STATUS, RUN_ID FROM GENERATION_REQUESTS WHERE REQUEST_ID = :r",
                           {"r": rid}).to_pylist()[0]
        assert wh.scalar("SELECT COUNT(*) FROM TRACKS WHERE REQUEST_ID = :r", {"r": rid}) == 1
    assert retried["RUN_ID"].endswith(RUN_DATE)  # retried under its own request id and run
    assert retried["STATUS"] == "generated"  # the storage error is gone, and the request made its track
    assert "StorageError" not in json.dumps(retried)


def test_unreachable_warehouse_fails_fast_with_a_clear_message(tmp_path):

    snowflake = load_settings(home=tmp_path, warehouse_url="snowflake://user@acct/DB/CORE",
                              snowflake_password="x", snowflake_host="127.0.0.1", snowflake_port=9,
                              snowflake_protocol="http")
    started = time.perf_counter()
    with pytest.raises(PreflightFailed, match="warehouse unreachable.*127.0.0.1:9") as info:
        run_catalog(snowflake, DAY, OPTIONS)
    assert time.perf_counter() - started < 10
    assert info.value.retryable and isinstance(info.value.problems[0], WarehouseError)  # a retry may succeed
    with pytest.raises(ConfigError, match="absent/dir"):  # a missing directory outside the home: at load time
        load_settings(home=tmp_path / "home", warehouse_url=f"duckdb:///{tmp_path}/absent/dir/w.duckdb")


def test_planning_is_deterministic_and_skips_generated_requests():
    prompt = {"PROMPT_ID": "p1", "GENRE": "house", "MOOD": "energetic", "KEY_PHRASES": ["a"], "TEMPO_BPM": 120,
              "MUSICAL_KEY": "A minor", "DURATION_S": 30, "TERRITORIES": ["US"], "TARGET_COUNT": 3, "ACTIVE": True}
    one = planning.plan_requests([prompt], "run", DAY, "1.0.0", {})
    two = planning.plan_requests([prompt], "run", DAY, "1.0.0", {one["REQUEST_ID"][0].as_py(): "generated"})
    assert one["REQUEST_ID"].to_pylist() == two["REQUEST_ID"].to_pylist() and one.num_rows == 3
    assert one["SEED"].to_pylist() == [identity.seed_for(r) for r in one["REQUEST_ID"].to_pylist()]
    assert two["STATUS"].to_pylist() == ["done", "planned", "planned"]
    assert planning.shard_ids(two, shard_size=1) == [0, 1]
    nothing_planned = planning.with_status(two, REJECTED)
    assert planning.shard_ids(nothing_planned, shard_size=1) == [0]  # one empty shard keeps the DAG's shape
    assert planning.shard(nothing_planned, 0, 1).num_rows == 0
    shards = [planning.shard(two, n, 2)["REQUEST_ID"].to_pylist() for n in (0, 1)]
    assert sorted(shards[0] + shards[1]) == sorted(two["REQUEST_ID"].to_pylist()[1:])


def test_planning_describes_each_distinct_phrase_list_once_and_only_for_planned_requests():
    from maestro_core.errors import InputError

    base = {"GENRE": "house", "MOOD": "energetic", "TEMPO_BPM": 120, "MUSICAL_KEY": "A minor", "DURATION_S": 30,
            "TERRITORIES": ["US"], "ACTIVE": True}
    prompts = [{**base, "PROMPT_ID": "p1", "KEY_PHRASES": ["neon rain", "night drive"], "TARGET_COUNT": 3},
               {**base, "PROMPT_ID": "p2", "KEY_PHRASES": ["neon rain", "night drive"], "TARGET_COUNT": 1},
               {**base, "PROMPT_ID": "p3", "KEY_PHRASES": ["refused phrase"], "TARGET_COUNT": 1},
               {**base, "PROMPT_ID": "p4", "KEY_PHRASES": ["sunny meadow"], "TARGET_COUNT": 2},
               {**base, "PROMPT_ID": "p5", "KEY_PHRASES": ["broken"], "TEMPO_BPM": 999, "TARGET_COUNT": 1}]
    first_p4 = identity.request_id("p4", DAY, 0)
    plan = planning.plan_requests(prompts, "run", DAY, "1.0.0", {first_p4: "generated"})
    calls = []

    def describe(phrases):
        calls.append(list(phrases))
        if phrases == ["refused phrase"]:
            raise InputError("key_phrases[0]", "refused by the text model")
        return {"brightness": 0.1, "energy": 0.2, "density": 0.3, "mode": 0.4, "colour": 0.5,
                "texture": float(len(calls))}

    described = planning.with_descriptors(plan, describe)
    by_prompt = {}
    for row in described.to_pylist():
        by_prompt.setdefault(row["PROMPT_ID"], []).append((row["STATUS"], row["DESCRIPTORS"]))
    assert sorted(calls) == [["neon rain", "night drive"], ["refused phrase"], ["sunny meadow"]]
    shared = by_prompt["p1"][0][1]
    assert json.loads(shared) == {"brightness": 0.1, "energy": 0.2, "density": 0.3, "mode": 0.4, "colour": 0.5,
                                  "texture": 1.0}
    assert by_prompt["p1"] + by_prompt["p2"] == [("planned", shared)] * 4  # one description, every ordinal
    assert by_prompt["p3"] == [("planned", None)]  # the worker reports the phrase's error for this request only
    assert by_prompt["p4"][0] == ("done", None) and by_prompt["p4"][1][1] is not None
    assert by_prompt["p5"] == [("rejected", None)]
    assert described.drop_columns(["DESCRIPTORS"]).equals(plan.drop_columns(["DESCRIPTORS"]))  # ids, seeds unchanged
