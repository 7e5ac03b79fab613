"""Warehouse records of a run: planned requests, and the one-transaction load of a run's results (records.load_run)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest

from maestro_core import schema
from maestro_core.errors import InputError, SchemaViolation
from maestro_core.rights import ReliedLicense
from maestro_core.sample_catalog import PLATFORM_HOLDER_ID
from maestro_core.warehouse import Warehouse
from maestro_pipeline import records
from maestro_pipeline.tables import REQUEST_TABLE, RESULT_TABLE, dump_relied, dump_row, empty_row, request_row

RUN = "maestro_catalog_generation__2026-11-15"
PLATFORM = "holder_platform_test"
T0 = dt.datetime(2026, 11, 15, 6, 0, 0)
LATER = dt.datetime(2026, 11, 16, 9, 30, 0)
SEED_LICENSE = ReliedLicense(license_id="lic_seed_001", asset_id="asset_seed_001", holder_id="holder_ada_lune",
                             role="seed_owner", share_bps=2500)
MODEL_LICENSE = ReliedLicense(license_id="lic_minilm", asset_id="asset_minilm", holder_id="holder_minilm_authors",
                              role="model_licensor", share_bps=500)
BLOCKED = [{"code": "blocked_term", "message": "key phrase 'xyz' is blocked"}]


# --- rows as planning, the gate and a worker make them ------------------------------------------------------------

def _request(rid: str, status: str = "planned", relied: tuple[ReliedLicense, ...] = (SEED_LICENSE, MODEL_LICENSE),
             reasons: list[dict[str, str]] | None = None, ordinal: int = 0) -> dict[str, Any]:
    return request_row(
        REQUEST_ID=rid, RUN_ID=RUN, PROMPT_ID=f"prm_{rid}", PLAYLIST_ID=None, ORDINAL=ordinal, SEED=1000 + ordinal,
        TRACK_ID=f"trk_{rid}", ISRC=f"ZZMAE26{ordinal:05d}", GENRE="lofi-chill", MOOD="melancholic",
        KEY_PHRASES='["rain on glass"]', TEMPO_BPM=78, MUSICAL_KEY="A minor", DURATION_S=5, TERRITORIES='["US"]',
        LICENSE_IDS=json.dumps([r.license_id for r in relied]), RELIED=dump_relied(relied), STATUS=status,
        REASONS=json.dumps(reasons or []))


def _requests(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=REQUEST_TABLE)


def _track_row(req: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    values = dict(
        TRACK_ID=req["TRACK_ID"], REQUEST_ID=req["REQUEST_ID"], ISRC=req["ISRC"], TITLE="Rain on Glass",
        URI=f"file:///store/lofi-chill/{req['TRACK_ID']}.wav", SHA256="a" * 64, DURATION_MS=5000, TEMPO_BPM=78.0,
        MUSICAL_KEY="A minor", GENRE=req["GENRE"], MOOD=req["MOOD"], LOUDNESS_LUFS=-14.2,
        CREATED_AT=dt.datetime(2026, 11, 15, 8, 30, 0).isoformat())  # as the worker writes it
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def _provenance_row(req: dict[str, Any]) -> dict[str, Any]:
    return schema.table("TRACK_PROVENANCE").row(
        TRACK_ID=req["TRACK_ID"], ENGINE="composer", ENGINE_VERSION="1.0.0", MODEL_IDS='["asset_minilm"]',
        PARAMS='{"genre": "lofi-chill", "mood": "melancholic"}', SEED=req["SEED"],
        INPUTS='[{"asset_id": "asset_minilm", "kind": "model"}]', LICENSE_IDS=req["LICENSE_IDS"], RUN_ID=RUN,
        CODE_VERSION="test", CREATED_AT=dt.datetime(2026, 11, 15, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        AUDIO_SHA256="b" * 64, AUDIO_FORMAT="wav", DURATION_MS=5000, PROVENANCE='{"track_id": "x"}',
        PROVENANCE_SHA256="c" * 64, MANIFEST_SIGNED=True)


def _generated(req: dict[str, Any], track_row: dict[str, Any] | None = None) -> dict[str, Any]:
    track = track_row if track_row is not None else _track_row(req)
    return {**empty_row(RESULT_TABLE), "REQUEST_ID": req["REQUEST_ID"], "TRACK_ID": req["TRACK_ID"],
            "STATUS": "generated", "TITLE": track.get("TITLE"), "GENRE": req["GENRE"], "URI": track.get("URI"),
            "FILE_SHA256": "a" * 64, "TRACK_ROW": dump_row(track), "PROVENANCE_ROW": dump_row(_provenance_row(req)),
            "REASONS": "[]", "RESUMED": False, "OBJECTS_WRITTEN": 4, "WORKER": "test-worker"}


def _failed(req: dict[str, Any], message: str = "engine crashed") -> dict[str, Any]:
    reasons = [{"code": "generation_failed", "error": "RuntimeError", "message": message}]
    return {**empty_row(RESULT_TABLE), "REQUEST_ID": req["REQUEST_ID"], "TRACK_ID": req["TRACK_ID"],
            "STATUS": "failed", "ERROR_CLASS": "RuntimeError", "ERROR_MESSAGE": message,
            "REASONS": json.dumps(reasons, sort_keys=True), "GENRE": req["GENRE"], "WORKER": "test-worker"}


def _results(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=RESULT_TABLE)


# --- reading the warehouse back -----------------------------------------------------------------------------------

def _stored_requests(wh: Warehouse) -> dict[str, dict[str, Any]]:
    return {r["REQUEST_ID"]: r for r in wh.query("SELECT * FROM GENERATION_REQUESTS").to_pylist()}


def _splits(wh: Warehouse, track_id: str) -> dict[str, tuple[str, int]]:
    rows = wh.query("SELECT HOLDER_ID, ROLE, SHARE_BPS FROM ROYALTY_SPLITS WHERE TRACK_ID = :t", {"t": track_id})
    return {r["HOLDER_ID"]: (r["ROLE"], r["SHARE_BPS"]) for r in rows.to_pylist()}


def _count(wh: Warehouse, table: str) -> int:
    return int(wh.scalar(f"SELECT COUNT(*) FROM {table}"))


def _snapshot(wh: Warehouse) -> dict[str, list[dict[str, Any]]]:
    order = {"TRACKS": "TRACK_ID", "TRACK_PROVENANCE": "TRACK_ID", "ROYALTY_SPLITS": "TRACK_ID, HOLDER_ID",
             "GENERATION_REQUESTS": "REQUEST_ID"}
    return {t: wh.query(f"SELECT * FROM {t} ORDER BY {o}").to_pylist() for t, o in order.items()}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sets the time records stamps rows with: ``clock(when)``."""

    def set_time(when: dt.datetime) -> None:
        monkeypatch.setattr(records, "utcnow", lambda: when)

    set_time(T0)
    return set_time


@pytest.fixture
def wh(warehouse_duckdb: Warehouse) -> Warehouse:
    return warehouse_duckdb


# --- record_planned -----------------------------------------------------------------------------------------------

def test_record_planned_stores_planned_and_rejected_requests_but_not_done_ones(wh: Warehouse, clock: Any) -> None:
    requests = _requests(_request("a", ordinal=0), _request("b", "rejected", reasons=BLOCKED, ordinal=1),
                         _request("c", "done", ordinal=2))
    assert records.record_planned(wh, requests) == 2
    stored = _stored_requests(wh)
    assert set(stored) == {"a", "b"}
    assert {r["STATUS"] for r in stored.values()} == {"planned"}  # the docstring: it inserts ``planned`` rows
    assert (stored["b"]["RUN_ID"], stored["b"]["PROMPT_ID"], stored["b"]["ORDINAL"], stored["b"]["SEED"]) == (
        RUN, "prm_b", 1, 1001)
    assert stored["a"]["UPDATED_AT"] == T0


def test_record_planned_does_not_overwrite_an_already_stored_request(wh: Warehouse, clock: Any) -> None:
    req = _request("a")
    records.record_planned(wh, _requests(req))
    records.load_run(wh, _requests(req), _results(_failed(req)), PLATFORM)
    before = _stored_requests(wh)["a"]
    assert before["STATUS"] == "failed"
    clock(LATER)
    assert records.record_planned(wh, _requests(req)) == 0
    assert _stored_requests(wh)["a"] == before


def test_record_planned_skips_stored_requests_beyond_one_lookup_chunk(wh: Warehouse, clock: Any) -> None:
    requests = _requests(*(_request(f"r{i:04d}", ordinal=i) for i in range(450)))
    assert records.record_planned(wh, requests) == 450
    clock(LATER)
    assert records.record_planned(wh, requests) == 0
    assert {r["UPDATED_AT"] for r in _stored_requests(wh).values()} == {T0}


# --- load_run: what a generated result loads ----------------------------------------------------------------------

def test_generated_result_loads_its_track_provenance_and_splits(wh: Warehouse, clock: Any) -> None:
    req = _request("a")
    records.record_planned(wh, _requests(req))
    report = records.load_run(wh, _requests(req), _results(_generated(req)), PLATFORM)
    assert (report.tracks, report.provenance, report.splits, report.requests) == (1, 1, 3, 1)
    assert report.changed == 6
    track = wh.query("SELECT * FROM TRACKS").to_pylist()
    assert len(track) == 1
    assert track[0]["TRACK_ID"] == "trk_a" and track[0]["REQUEST_ID"] == "a" and track[0]["TITLE"] == "Rain on Glass"
    assert track[0]["DURATION_MS"] == 5000 and track[0]["ISRC"] == "ZZMAE2600000"
    assert track[0]["CREATED_AT"] == dt.datetime(2026, 11, 15, 8, 30)
    provenance = wh.query("SELECT TRACK_ID, SEED, ENGINE, CREATED_AT, MANIFEST_SIGNED FROM TRACK_PROVENANCE")
    assert provenance.to_pylist() == [{"TRACK_ID": "trk_a", "SEED": 1000, "ENGINE": "composer",
                                       "CREATED_AT": dt.datetime(2026, 11, 15, 8, 30), "MANIFEST_SIGNED": True}]
    stored = _stored_requests(wh)["a"]
    assert stored["STATUS"] == "generated" and json.loads(stored["REASONS"]) == []


def test_splits_give_each_license_its_share_and_the_platform_the_rest(wh: Warehouse, clock: Any) -> None:
    req = _request("a")
    records.load_run(wh, _requests(req), _results(_generated(req)), PLATFORM)
    splits = _splits(wh, "trk_a")
    assert splits == {"holder_ada_lune": ("seed_owner", 2500), "holder_minilm_authors": ("model_licensor", 500),
                      PLATFORM: ("platform", 7000)}
    assert sum(bps for _, bps in splits.values()) == 10000


def test_a_track_relying_on_no_license_belongs_wholly_to_the_platform(wh: Warehouse, clock: Any) -> None:
    req = _request("a", relied=())
    records.load_run(wh, _requests(req), _results(_generated(req)), PLATFORM)
    assert _splits(wh, "trk_a") == {PLATFORM: ("platform", 10000)}


def test_every_generated_track_of_a_load_has_splits_summing_to_10000_bps(wh: Warehouse, clock: Any) -> None:
    three_way = ReliedLicense("lic_x", "asset_x", "holder_x", "style_licensor", 3333)
    reqs = [_request("a", ordinal=0), _request("b", relied=(three_way, SEED_LICENSE), ordinal=1),
            _request("c", relied=(), ordinal=2)]
    records.load_run(wh, _requests(*reqs), _results(*(_generated(r) for r in reqs)), PLATFORM)
    totals = wh.query("SELECT TRACK_ID, SUM(SHARE_BPS) AS T FROM ROYALTY_SPLITS GROUP BY TRACK_ID").to_pylist()
    assert {t["TRACK_ID"]: t["T"] for t in totals} == {"trk_a": 10000, "trk_b": 10000, "trk_c": 10000}


# --- load_run: failed, rejected and stale -------------------------------------------------------------------------

def test_failed_result_records_failed_with_its_reasons_and_loads_no_track(wh: Warehouse, clock: Any) -> None:
    req = _request("a")
    report = records.load_run(wh, _requests(req), _results(_failed(req, "out of memory")), PLATFORM)
    assert (report.tracks, report.provenance, report.splits, report.requests) == (0, 0, 0, 1)
    stored = _stored_requests(wh)["a"]
    assert stored["STATUS"] == "failed"
    assert json.loads(stored["REASONS"])[0]["message"] == "out of memory"
    assert _count(wh, "TRACKS") == _count(wh, "ROYALTY_SPLITS") == _count(wh, "TRACK_PROVENANCE") == 0


def test_rejected_requests_are_recorded_with_the_gates_reasons_without_a_result(wh: Warehouse, clock: Any) -> None:
    req = _request("a", "rejected", reasons=BLOCKED)
    report = records.load_run(wh, _requests(req), _results(), PLATFORM)
    assert report.requests == 1 and report.tracks == 0
    stored = _stored_requests(wh)["a"]
    assert stored["STATUS"] == "rejected" and json.loads(stored["REASONS"]) == BLOCKED


def test_a_result_of_a_done_request_is_stale_and_loads_nothing(wh: Warehouse, clock: Any) -> None:
    req = _request("a", "done", relied=())
    report = records.load_run(wh, _requests(req), _results(_generated(req)), PLATFORM)
    assert report.changed == 0
    assert _count(wh, "TRACKS") == _count(wh, "TRACK_PROVENANCE") == _count(wh, "ROYALTY_SPLITS") == 0
    assert _stored_requests(wh) == {}


def test_a_result_of_a_rejected_request_is_stale_and_leaves_the_rejection(wh: Warehouse, clock: Any) -> None:
    req = _request("a", "rejected", reasons=BLOCKED)
    records.load_run(wh, _requests(req), _results(_generated(req)), PLATFORM)
    assert _count(wh, "TRACKS") == _count(wh, "ROYALTY_SPLITS") == 0
    assert _stored_requests(wh)["a"]["STATUS"] == "rejected"


def test_a_result_whose_request_is_not_in_the_table_is_ignored_and_the_rest_loads(wh: Warehouse, clock: Any) -> None:
    known, unknown = _request("a", ordinal=0), _request("zz", ordinal=9)
    report = records.load_run(wh, _requests(known), _results(_generated(unknown), _generated(known)), PLATFORM)
    assert report.tracks == 1 and report.requests == 1
    assert [r["TRACK_ID"] for r in wh.query("SELECT TRACK_ID FROM TRACKS").to_pylist()] == ["trk_a"]
    assert set(_stored_requests(wh)) == {"a"}


def test_a_stale_result_never_rewrites_the_splits_of_a_done_track(wh: Warehouse, clock: Any) -> None:
    req = _request("a")
    records.load_run(wh, _requests(req), _results(_generated(req)), PLATFORM)
    before = _snapshot(wh)
    # The next run plans the same request as done (RELIED empty: the gate did not run for it) and is handed the
    # earlier attempt's result file.
    done = _request("a", "done", relied=())
    clock(LATER)
    report = records.load_run(wh, _requests(done), _results(_generated(req)), PLATFORM)
    assert report.changed == 0
    assert _snapshot(wh) == before


# --- load_run: reruns and atomicity -------------------------------------------------------------------------------

def test_rerun_with_the_same_inputs_changes_nothing(wh: Warehouse, clock: Any) -> None:
    reqs = [_request("a", ordinal=0), _request("b", ordinal=1), _request("c", "rejected", reasons=BLOCKED, ordinal=2)]
    requests, results = _requests(*reqs), _results(_generated(reqs[0]), _failed(reqs[1]))
    records.record_planned(wh, requests)
    first = records.load_run(wh, requests, results, PLATFORM)
    assert first.changed > 0
    before = _snapshot(wh)
    clock(LATER)
    again = records.load_run(wh, requests, results, PLATFORM)
    assert (again.tracks, again.provenance, again.splits, again.requests) == (0, 0, 0, 0)
    assert _snapshot(wh) == before
    assert {r["UPDATED_AT"] for r in _stored_requests(wh).values()} == {T0}


def test_a_changed_outcome_is_stamped_with_a_new_updated_at(wh: Warehouse, clock: Any) -> None:
    a, b = _request("a", ordinal=0), _request("b", ordinal=1)
    records.load_run(wh, _requests(a, b), _results(_failed(a), _failed(b)), PLATFORM)
    clock(LATER)
    report = records.load_run(wh, _requests(a, b), _results(_generated(a), _failed(b)), PLATFORM)
    assert report.requests == 1 and report.tracks == 1
    stored = _stored_requests(wh)
    assert (stored["a"]["STATUS"], stored["a"]["UPDATED_AT"]) == ("generated", LATER)
    assert (stored["b"]["STATUS"], stored["b"]["UPDATED_AT"]) == ("failed", T0)


@pytest.mark.parametrize(("column", "broken"), [("TRACK_ROW", "TITLE"), ("PROVENANCE_ROW", "ENGINE")])
def test_a_load_with_one_invalid_row_writes_nothing_at_all(wh: Warehouse, clock: Any, column: str,
                                                           broken: str) -> None:
    """TRACKS MERGEs before TRACK_PROVENANCE: a bad provenance row must not leave the good tracks behind."""
    good, bad = _request("a", ordinal=0), _request("b", ordinal=1)
    requests = _requests(good, bad)
    records.record_planned(wh, requests)
    before = _snapshot(wh)
    invalid = _generated(bad)
    row = json.loads(invalid[column])
    del row[broken]  # NOT NULL in the DDL
    invalid[column] = json.dumps(row)
    with pytest.raises(SchemaViolation, match=broken):
        records.load_run(wh, requests, _results(_generated(good), invalid), PLATFORM)
    assert _snapshot(wh) == before
    assert {r["STATUS"] for r in _stored_requests(wh).values()} == {"planned"}


# --- platform holder ----------------------------------------------------------------------------------------------

def test_platform_holder_id_is_the_seeded_platform_holder(warehouse: Warehouse) -> None:
    assert records.platform_holder_id(warehouse) == PLATFORM_HOLDER_ID


def test_platform_holder_id_is_the_first_platform_holder_by_id(wh: Warehouse) -> None:
    wh.upsert("RIGHTS_HOLDERS", [{"HOLDER_ID": "holder_z_platform", "NAME": "Z", "KIND": "platform"},
                                 {"HOLDER_ID": "holder_a_artist", "NAME": "A", "KIND": "artist"},
                                 {"HOLDER_ID": "holder_m_platform", "NAME": "M", "KIND": "platform"}])
    assert records.platform_holder_id(wh) == "holder_m_platform"


def test_platform_holder_id_names_rights_holders_when_there_is_no_platform_holder(wh: Warehouse) -> None:
    with pytest.raises(InputError, match="RIGHTS_HOLDERS") as err:
        records.platform_holder_id(wh)
    assert err.value.field == "RIGHTS_HOLDERS"
    wh.upsert("RIGHTS_HOLDERS", [{"HOLDER_ID": "holder_artist", "NAME": "Artist", "KIND": "artist"}])
    with pytest.raises(InputError, match="platform"):
        records.platform_holder_id(wh)


@pytest.mark.parametrize("batch_rows", [1, 2])
def test_results_loaded_batch_by_batch_or_in_pieces_write_what_one_batch_writes(
        warehouse_duckdb: Warehouse, tmp_path: Any, clock: Any, monkeypatch: pytest.MonkeyPatch,
        batch_rows: int) -> None:
    from maestro_core.config import load_settings
    from maestro_core.warehouse import connect

    reqs = [_request(name, ordinal=i) for i, name in enumerate("abcde")]
    requests = _requests(*reqs, _request("f", "rejected", reasons=BLOCKED, ordinal=5))
    results = _results(_generated(reqs[0]), _failed(reqs[1]), _generated(reqs[2]), _generated(reqs[3]),
                       _failed(reqs[4]))
    whole = records.load_run(warehouse_duckdb, requests, results, PLATFORM)
    monkeypatch.setattr(records, "LOAD_BATCH_ROWS", batch_rows)
    with connect(load_settings(home=tmp_path / "batched")) as batched:
        batched.migrate()
        batched.upsert("RIGHTS_HOLDERS", warehouse_duckdb.query("SELECT * FROM RIGHTS_HOLDERS"))
        pieces = [results.slice(0, 2), results.slice(2, 0), results.slice(2)]  # row groups of two shards, say
        report = records.load_run(batched, requests, iter(pieces), PLATFORM)
        assert report == whole and report.tracks == 3 and report.requests == 6
        assert _snapshot(batched) == _snapshot(warehouse_duckdb)
