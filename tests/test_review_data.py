"""The catalog review's data layer (maestro_pipeline.review): runs with their reasons and review progress, a run's
tracks against the request, rejections grouped by code, royalties, and REVIEWS decisions (one MERGE, validated
first, idempotent), on DuckDB and on Snowflake through fakesnow; and ranged reads of stored objects."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from maestro_core.errors import InputError
from maestro_core.storage import StorageError
from maestro_core.warehouse import Warehouse
from maestro_pipeline import review as rv
from tests.test_storage import s3_endpoint, store  # noqa: F401  (file, memory and S3 on moto)

DAY = dt.date(2026, 11, 15)
RUN, OTHER = "maestro_catalog_generation__2026-11-15", "maestro_catalog_generation__2026-11-14"
T0 = dt.datetime(2026, 11, 15, 1, 0, 0)
NOW = dt.datetime(2026, 11, 16, 9, 30, 0)
TRACK_IDS = [f"trk-{i:02d}" for i in range(7)]


def _reasons(code: str, message: str, **extra: str) -> str:
    return json.dumps([{"code": code, "message": message, **extra}], sort_keys=True)


def _load(wh: Warehouse) -> None:
    """Two runs: RUN with 7 tracks (one warned by QC, one with splits), 3 rejected and 2 failed requests; OTHER
    with 1 rejected request. Two periods of statements, one unallocated pool."""
    loads: dict[str, list[dict[str, object]]] = {}
    loads["PROMPT_CATALOG"] = ([
        {"PROMPT_ID": "prm_a", "GENRE": "house", "MOOD": "euphoric", "KEY_PHRASES": "[]", "TEMPO_BPM": 124,
         "MUSICAL_KEY": "A minor", "DURATION_S": 30, "TERRITORIES": '["US"]', "TARGET_COUNT": 1, "PRIORITY": 1,
         "ACTIVE": True}])
    loads["GENERATION_RUNS"] = ([
        {"RUN_ID": RUN, "DAG_ID": "maestro_catalog_generation", "LOGICAL_DATE": DAY, "ENGINE": "composer",
         "STARTED_AT": T0, "FINISHED_AT": T0 + dt.timedelta(minutes=2), "STATUS": "success",
         "COUNTS": '{"failed": 2, "generated": 7, "rejected": 3}', "REASON": ""},
        {"RUN_ID": OTHER, "DAG_ID": "maestro_catalog_generation", "LOGICAL_DATE": DAY - dt.timedelta(days=1),
         "ENGINE": "composer", "STARTED_AT": T0 - dt.timedelta(days=1), "STATUS": "failed", "COUNTS": "{}",
         "REASON": "failure budget exceeded"}])
    refused = [
        ("q-r1", RUN, "rejected", _reasons("license_expired", "no licence of asset 'a' is valid on 2026-11-15")),
        ("q-r2", RUN, "rejected", _reasons("license_expired", "no licence of asset 'b' is valid on 2026-11-15")),
        ("q-r3", RUN, "rejected", _reasons("blocked_term", "key phrase 'sounds like <x>' uses a blocked term")),
        ("q-f1", RUN, "failed", _reasons("true_peak_too_high", "true_peak_too_high: true peak -0.2 dBTP exceeds -1 "
                                         "dBTP", error="QualityCheckFailed")),
        ("q-f2", RUN, "failed", _reasons("generation_failed", "boom", error="RuntimeError")),
        ("q-o1", OTHER, "rejected", _reasons("license_expired", "no licence of asset 'c' is valid on 2026-11-14")),
    ]
    loads["GENERATION_REQUESTS"] = ([
        {"REQUEST_ID": q, "RUN_ID": run, "PROMPT_ID": "prm_a", "ORDINAL": i, "SEED": i, "STATUS": status,
         "REASONS": reasons, "UPDATED_AT": T0} for i, (q, run, status, reasons) in enumerate(refused)] + [
        {"REQUEST_ID": f"q-{t}", "RUN_ID": RUN, "PROMPT_ID": "prm_a", "ORDINAL": 10 + i, "SEED": i,
         "STATUS": "generated", "REASONS": "[]", "UPDATED_AT": T0} for i, t in enumerate(TRACK_IDS)])
    loads["TRACKS"] = ([
        {"TRACK_ID": t, "REQUEST_ID": f"q-{t}", "ISRC": f"ZZMAE26{i:05d}", "TITLE": f"Title <{i}>",
         "URI": f"file:///store/house/{t}.wav", "SHA256": "s" * 64, "DURATION_MS": 30000 + i, "TEMPO_BPM": 123.5,
         "MUSICAL_KEY": "A minor", "GENRE": "house", "MOOD": "euphoric", "LOUDNESS_LUFS": -14.01, "CREATED_AT": T0}
        for i, t in enumerate(TRACK_IDS)])
    provenance = {"track_id": TRACK_IDS[0], "params": {"duration_s": 5},
                  "extra": {"qc": {"true_peak_dbtp": -1.226, "loudness_lufs": -14.01,
                                   "warnings": ["tempo_mismatch: 62 BPM vs 124"]},
                            "signing": {"signed": True}}}
    loads["TRACK_PROVENANCE"] = ([
        {"TRACK_ID": TRACK_IDS[0], "ENGINE": "composer", "ENGINE_VERSION": "1", "SEED": 0, "RUN_ID": RUN,
         "CREATED_AT": T0, "PROVENANCE": json.dumps(provenance), "MANIFEST_SIGNED": True}])
    loads["RIGHTS_HOLDERS"] = ([{"HOLDER_ID": "h_seed", "NAME": "Jonas & Berg", "KIND": "artist"},
                                 {"HOLDER_ID": "h_platform", "NAME": "Maestro Platform", "KIND": "platform"}])
    loads["ROYALTY_SPLITS"] = ([
        {"TRACK_ID": TRACK_IDS[0], "HOLDER_ID": "h_platform", "ROLE": "platform", "SHARE_BPS": 7000},
        {"TRACK_ID": TRACK_IDS[0], "HOLDER_ID": "h_seed", "ROLE": "seed_owner", "SHARE_BPS": 3000}])
    loads["ROYALTY_STATEMENTS"] = ([
        {"PERIOD": period, "HOLDER_ID": holder, "CURRENCY": currency, "STREAMS": 10, "AMOUNT": Decimal(amount)}
        for period, holder, currency, amount in [
            ("2026-10", "h_seed", "USD", "1.250000"), ("2026-10", "h_platform", "USD", "2.500001"),
            ("2026-10", "h_seed", "EUR", "0.100000"), ("2026-11", "h_platform", "USD", "4.000000")]])
    loads["ROYALTY_RUNS"] = ([
        {"PERIOD": "2026-11", "ENGINE": "sql", "INPUT_EVENTS": 1, "DUPLICATE_EVENTS": 0, "INVALID_EVENTS": 0,
         "OUT_OF_PERIOD_EVENTS": 0, "SHORT_EVENTS": 0, "QUALIFYING_EVENTS": 1, "UNMATCHED_EVENTS": 0,
         "UNMATCHED_STREAMS": 0, "UNPOOLED_STREAMS": 0, "PAID_STREAMS": 1, "LEDGER_LINES": 1,
         "UNALLOCATED": '[{"territory": "JP", "currency": "JPY", "amount": "1200.500000"}]'}])
    wh.upsert_many(loads)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    from maestro_core.config import load_settings
    from maestro_core.warehouse import connect

    with connect(load_settings(home=tmp_path_factory.mktemp("review-data"))) as warehouse:
        warehouse.migrate()
        _load(warehouse)
        yield warehouse


def test_runs_come_newest_first_with_counts_top_reasons_and_tracks(wh):
    runs = rv.list_runs(wh)
    assert [r.run_id for r in runs] == [RUN, OTHER]
    run = runs[0]
    assert run.counts == {"failed": 2, "generated": 7, "rejected": 3} and run.tracks == 7
    assert run.top_rejections == [("license_expired", 2), ("blocked_term", 1)]
    assert sorted(run.top_failures) == [("QualityCheckFailed", 1), ("RuntimeError", 1)]
    assert runs[1].status == "failed" and runs[1].reason == "failure budget exceeded" and runs[1].tracks == 0
    assert rv.list_runs(wh, limit=1) == runs[:1]
    assert rv.get_run(wh, OTHER) == runs[1] and rv.get_run(wh, "no-such-run") is None


def test_a_run_page_shows_each_track_beside_its_request_with_qc_splits_and_signature(wh):
    page, total = rv.run_tracks(wh, RUN, offset=0, limit=3)
    assert total == 7 and [t.track_id for t in page] == TRACK_IDS[:3]
    first = page[0]
    # The run asked for 5 s (its provenance says so), not the prompt's 30 s; a track without provenance shows 30.
    assert first.requested == {"genre": "house", "mood": "euphoric", "tempo_bpm": 124, "musical_key": "A minor",
                               "duration_s": 5}
    assert page[1].requested["duration_s"] == 30
    assert (first.tempo_bpm, first.loudness_lufs, first.true_peak_dbtp) == (123.5, -14.01, -1.226)
    assert first.qc_warnings == ["tempo_mismatch: 62 BPM vs 124"] and first.manifest_signed is True
    assert [(s.holder_name, s.role, s.share_bps) for s in first.splits] == [
        ("Maestro Platform", "platform", 7000), ("Jonas & Berg", "seed_owner", 3000)]
    assert (page[1].true_peak_dbtp, page[1].qc_warnings, page[1].manifest_signed, page[1].splits) == (
        None, [], None, [])
    assert rv.get_track(wh, TRACK_IDS[0]) == first and rv.get_track(wh, "nope") is None
    last, _ = rv.run_tracks(wh, RUN, offset=6, limit=3)
    assert [t.track_id for t in last] == TRACK_IDS[6:]
    assert rv.run_tracks(wh, RUN, offset=7) == ([], 7) and rv.run_tracks(wh, "nope") == ([], 0)
    with pytest.raises(InputError, match="offset"):
        rv.run_tracks(wh, RUN, offset=-1)


def test_rejections_group_by_code_biggest_first_with_the_recorded_message_and_examples(wh):
    groups = rv.rejections(wh, RUN)
    assert [(g.code, g.count) for g in groups][:1] == [("license_expired", 2)]
    assert {g.code for g in groups} == {"license_expired", "blocked_term", "true_peak_too_high", "generation_failed"}
    by_code = {g.code: g for g in groups}
    assert by_code["license_expired"].examples == ["q-r1", "q-r2"]
    assert by_code["license_expired"].message == "no licence of asset 'a' is valid on 2026-11-15"
    assert by_code["true_peak_too_high"].message == "true peak -0.2 dBTP exceeds -1 dBTP"  # no repeated code
    assert [(g.code, g.count) for g in rv.rejections(wh)][0] == ("license_expired", 3)
    assert rv.rejections(wh, "nope") == []


def test_royalties_list_statements_payouts_per_period_and_currency_and_unallocated_pools(wh):
    overview = rv.royalty_overview(wh)
    assert overview.payouts == [("2026-10", "EUR", Decimal("0.1")), ("2026-10", "USD", Decimal("3.750001")),
                                ("2026-11", "USD", Decimal("4"))]
    assert all(isinstance(amount, Decimal) for _, _, amount in overview.payouts)
    assert [(s.period, s.holder_name, s.currency, s.amount) for s in overview.statements][0] == (
        "2026-11", "Maestro Platform", "USD", Decimal("4"))
    assert len(overview.statements) == 4
    (pool,) = overview.unallocated
    assert (pool.period, pool.territory, pool.currency, pool.amount) == ("2026-11", "JP", "JPY", Decimal("1200.5"))
    assert "JP" in pool.reason


def test_the_provenance_document_is_returned_as_stored(wh):
    assert rv.track_provenance(wh, TRACK_IDS[0])["extra"]["qc"]["true_peak_dbtp"] == -1.226
    assert rv.track_provenance(wh, TRACK_IDS[1]) is None and rv.track_provenance(wh, "nope") is None


@pytest.mark.parametrize(("args", "field"), [
    ({"decision": "maybe"}, "decision"), ({"reviewer": "  "}, "reviewer"), ({"reviewer": "x" * 201}, "reviewer"),
    ({"note": "x" * 2001}, "note"), ({"track_ids": [TRACK_IDS[0], "no-such-track"]}, "track_ids"),
    ({"track_ids": []}, "track_ids")])
def test_a_bad_decision_is_refused_naming_the_field_and_writes_nothing(wh, args, field):
    call = {"track_ids": TRACK_IDS[:1], "decision": "approved", "reviewer": "ann", "note": "", **args}
    before = rv.review_states(wh, TRACK_IDS)
    with pytest.raises(InputError) as caught:
        rv.record_decision(wh, call["track_ids"], call["decision"], call["reviewer"], call["note"], now=NOW)
    assert caught.value.field == field
    assert rv.review_states(wh, TRACK_IDS) == before


def test_deciding_writes_who_when_why_and_repeating_it_changes_nothing(wh):
    ids = TRACK_IDS[:2]
    assert rv.record_decision(wh, [*ids, ids[0]], "approved", " ann ", "sounds right", now=NOW) == 2
    states = rv.review_states(wh, TRACK_IDS)
    assert set(states) == set(ids) and rv.approved_ids(wh, TRACK_IDS) == set(ids)
    assert states[ids[0]] == rv.Review(ids[0], RUN, "approved", "ann", "sounds right", NOW)
    later = NOW + dt.timedelta(hours=1)
    assert rv.record_decision(wh, ids, "approved", "ann", "sounds right", now=later) == 0
    assert rv.review_states(wh, ids) == {t: states[t] for t in ids}  # DECIDED_AT kept: the same decision
    assert rv.record_decision(wh, ids[:1], "held", "bob", "too loud at 1:20", now=later) == 1
    held = rv.review_states(wh, ids)[ids[0]]
    assert (held.decision, held.reviewer, held.note, held.decided_at) == ("held", "bob", "too loud at 1:20", later)
    assert rv.approved_ids(wh, TRACK_IDS) == {ids[1]}
    assert rv.get_track(wh, ids[0]).review == held and rv.get_track(wh, TRACK_IDS[5]).review is None
    run = rv.get_run(wh, RUN)
    assert (run.approved, run.held) == (1, 1)


def test_deciding_a_run_applies_to_every_track_of_it(wh):
    assert rv.decide_run(wh, RUN, "approved", "lead", "batch ok", now=NOW) == len(TRACK_IDS)
    assert rv.approved_ids(wh, TRACK_IDS) == set(TRACK_IDS)
    assert (rv.get_run(wh, RUN).approved, rv.get_run(wh, RUN).held) == (7, 0)
    with pytest.raises(InputError, match="run_id"):
        rv.decide_run(wh, OTHER, "approved", "lead", "")


@pytest.fixture
def fakesnow_wh(fakesnow_server, tmp_path) -> Warehouse:
    """A migrated warehouse on Snowflake's connector through fakesnow (DuckDB is the module's ``wh``)."""
    from maestro_core.warehouse import connect
    from tests.plugins.warehouse import snowflake_settings

    with connect(snowflake_settings(fakesnow_server, tmp_path)) as warehouse:
        warehouse.migrate()
        yield warehouse


def test_every_review_query_and_the_reviews_merge_run_on_snowflake_through_fakesnow(fakesnow_wh):
    wh_backend = fakesnow_wh
    _load(wh_backend)
    assert [r.run_id for r in rv.list_runs(wh_backend)] == [RUN, OTHER]
    assert rv.run_tracks(wh_backend, RUN, limit=2)[1] == 7
    assert rv.get_track(wh_backend, TRACK_IDS[0]).true_peak_dbtp == -1.226
    assert {g.code for g in rv.rejections(wh_backend)} >= {"license_expired", "blocked_term"}
    assert [(g.code, g.count) for g in rv.rejections(wh_backend, OTHER)] == [("license_expired", 1)]
    assert rv.get_run(wh_backend, RUN).top_rejections[0] == ("license_expired", 2)
    assert rv.track_provenance(wh_backend, TRACK_IDS[0])["extra"]["qc"]["warnings"]
    assert rv.royalty_overview(wh_backend).payouts[1] == ("2026-10", "USD", Decimal("3.750001"))
    assert rv.record_decision(wh_backend, TRACK_IDS[:3], "held", "ann", "check the intro", now=NOW) == 3
    assert rv.record_decision(wh_backend, TRACK_IDS[:3], "held", "ann", "check the intro", now=NOW) == 0
    assert rv.record_decision(wh_backend, TRACK_IDS[:1], "approved", "ann", "", now=NOW) == 1
    rows = wh_backend.query("SELECT TRACK_ID, RUN_ID, DECISION, NOTE, DECIDED_AT FROM REVIEWS ORDER BY TRACK_ID")
    assert rows.to_pylist() == [
        {"TRACK_ID": t, "RUN_ID": RUN, "DECISION": d, "NOTE": n, "DECIDED_AT": NOW}
        for t, d, n in [(TRACK_IDS[0], "approved", ""), (TRACK_IDS[1], "held", "check the intro"),
                        (TRACK_IDS[2], "held", "check the intro")]]
    assert rv.decide_run(wh_backend, RUN, "approved", "ann", "", now=NOW) == len(TRACK_IDS) - 1
    assert rv.approved_ids(wh_backend, TRACK_IDS) == set(TRACK_IDS)


def test_a_range_read_returns_exactly_the_requested_bytes_cut_at_the_end(store):  # noqa: F811
    data = bytes(range(256)) * 40
    store.put_bytes("house/t.wav", data)
    assert store.size("house/t.wav") == len(data)
    assert store.read_range("house/t.wav", 1000, 300) == data[1000:1300]
    assert store.read_range("house/t.wav", len(data) - 5, 100) == data[-5:]
    assert store.read_range("house/t.wav", len(data), 10) == b"" and store.read_range("house/t.wav", 0, 0) == b""
    with pytest.raises(StorageError, match="no such object"):
        store.size("house/missing.wav")
    with pytest.raises(StorageError, match="no such object"):
        store.read_range("house/missing.wav", 0, 10)
    with pytest.raises(InputError):
        store.read_range("house/t.wav", -1, 10)
    with pytest.raises(InputError):
        store.read_range("../outside", 0, 10)


# --- settings -----------------------------------------------------------------------------------------------------
def test_review_is_off_by_default_and_on_in_the_production_example(tmp_path):
    from pathlib import Path

    from maestro_core.config import load_settings

    settings = load_settings(home=tmp_path)
    assert (settings.review_required, settings.review_token, settings.review_token_for_reads) == (False, None, False)
    example = (Path(__file__).resolve().parents[1] / "deploy" / "maestro.env.example").read_text()
    assert "MAESTRO_REVIEW_REQUIRED=true" in example.splitlines()
    assert "secrets.token_urlsafe(32)" in example


def test_the_review_token_is_at_least_43_characters_and_never_shown(tmp_path, monkeypatch, capsys):
    import secrets

    from maestro_ai.cli import run
    from maestro_core.config import load_settings
    from maestro_core.errors import ConfigError

    with pytest.raises(ConfigError, match="MAESTRO_REVIEW_TOKEN") as caught:
        load_settings(home=tmp_path, review_token="x" * 42)
    assert "\n" not in str(caught.value) and "token_urlsafe" in str(caught.value)
    assert load_settings(home=tmp_path, review_token="").review_token is None  # an empty variable: no token
    token = secrets.token_urlsafe(32)
    settings = load_settings(home=tmp_path, review_token=token)
    assert settings.review_token.get_secret_value() == token
    assert token not in repr(settings) and settings.public_view()["review_token"] == "***"
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path))
    monkeypatch.setenv("MAESTRO_REVIEW_TOKEN", token)
    assert run(["config"]) == 0
    assert token not in capsys.readouterr().out
