"""`maestro deliver` end to end on the embedded stack: a catalog date is generated, then delivered as DDEX ERN 4.3.2
packages; every message validates and matches TRACKS and the delivered file; refusals are recorded; a rerun is a
no-op; bad configuration exits 2 naming the setting before anything is written."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from lxml import etree

from maestro_core.ddex.deals import WINDOW_ENDED
from maestro_core.ddex.ern import ERN_NAMESPACE, iso_duration
from maestro_core.ddex.validation import ern_errors
from maestro_core.provenance import audio_sha256
from maestro_core.storage import TrackStore
from maestro_core.warehouse import connect
from maestro_pipeline import PipelineOptions, run_catalog
from maestro_pipeline.delivery import AUDIO_HASH_MISMATCH, NO_ISRC, run_delivery
from maestro_pipeline.fingerprint import fingerprint
from tests.plugins.pipeline import RUN_DATE, TEST_DURATION_S
from tests.plugins.rights import flip_one_sample

DAY = dt.date.fromisoformat(RUN_DATE)
SENDER, RECIPIENT = "PADPIDA2026MAESTRO01", "PADPIDA2026PLATFORM1"
DDEX = {"ddex_sender_dpid": SENDER, "ddex_sender_name": "Maestro Test Label",
        "ddex_recipient_dpid": RECIPIENT, "ddex_recipient_name": "Test Platform",
        "artist_name": "Maestro Ensemble", "label_name": "Maestro Test Label"}
NS = {"ern": ERN_NAMESPACE}


def _deliveries(settings) -> list[dict]:
    with connect(settings) as wh:
        return wh.query("SELECT * FROM DELIVERIES ORDER BY TRACK_ID").to_pylist()


def _packages(settings) -> dict[str, str]:
    return TrackStore(settings.storage_url).fingerprint("deliveries")


# Five prompts that pass the rights gate on RUN_DATE (the sample catalog has 12): fewer tracks, a faster test.
PROMPTS = ("prm_0001", "prm_0005", "prm_0009", "prm_0013", "prm_0021")
ENDED_LICENSE, ENDED_PROMPT = "lic_seed_005_theo", "prm_0013"


@pytest.fixture(scope="module")
def delivered(ray_cluster, make_home):
    """A generated catalog date, then broken three ways (one track's stored audio tampered, one track's ISRC
    removed, one license ended before the date), delivered twice."""
    settings = make_home("delivery").model_copy(update=DDEX)
    with connect(settings) as wh:
        wh.execute(f"UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID IN ({', '.join(repr(p) for p in PROMPTS)})")
    run_catalog(settings, DAY, PipelineOptions(duration_s=TEST_DURATION_S))
    store = TrackStore(settings.storage_url)
    with connect(settings) as wh:
        tracks = wh.query("SELECT T.TRACK_ID, T.URI, Q.PROMPT_ID FROM TRACKS T JOIN GENERATION_REQUESTS Q "
                          "ON Q.REQUEST_ID = T.REQUEST_ID ORDER BY T.TRACK_ID").to_pylist()
        assert sorted(t["PROMPT_ID"] for t in tracks) == sorted(PROMPTS)
        ended = next(t["TRACK_ID"] for t in tracks if t["PROMPT_ID"] == ENDED_PROMPT)
        others = [t for t in tracks if t["TRACK_ID"] != ended]
        tampered, no_isrc = others[0]["TRACK_ID"], others[1]["TRACK_ID"]
        wh.execute("UPDATE TRACKS SET ISRC = NULL WHERE TRACK_ID = :t", {"t": no_isrc})
        wh.execute("UPDATE LICENSES SET VALID_TO = :d WHERE LICENSE_ID = :l",
                   {"d": DAY - dt.timedelta(days=1), "l": ENDED_LICENSE})
    flip_one_sample(Path(store.uri(store.key_of(others[0]["URI"])).removeprefix("file://")))
    first = run_delivery(settings, DAY)
    state = (_deliveries(settings), _packages(settings), fingerprint(settings).objects)
    second = run_delivery(settings, DAY)
    again = (_deliveries(settings), _packages(settings), fingerprint(settings).objects)
    return settings, first, second, state, again, {"tampered": tampered, "no_isrc": no_isrc, "ended": ended}


def test_every_message_validates_and_its_isrc_duration_and_hash_match_tracks_and_the_file(delivered):
    settings, first, _, (rows, _, _), _, _ = delivered
    store = TrackStore(settings.storage_url)
    with connect(settings) as wh:
        tracks = {t["TRACK_ID"]: t for t in wh.query("SELECT * FROM TRACKS").to_pylist()}
    done = [r for r in rows if r["STATUS"] == "delivered"]
    assert len(done) == first.delivered == len(tracks) - 3 > 0
    for row in done:
        track = tracks[row["TRACK_ID"]]
        xml = store.read_bytes(store.key_of(row["PACKAGE_URI"]))
        assert ern_errors(xml) == []
        assert hashlib.sha256(xml).hexdigest() == row["PACKAGE_SHA256"]
        doc = etree.fromstring(xml)
        assert doc.get("ReleaseProfileVersionId") == "SimpleAudioSingle"
        assert doc.findtext("MessageHeader/MessageId") == row["MESSAGE_ID"]
        assert doc.findtext("MessageHeader/MessageSender/PartyId") == SENDER
        assert doc.findtext("MessageHeader/MessageRecipient/PartyId") == RECIPIENT
        rec = doc.find("ResourceList/SoundRecording")
        assert rec.findtext("SoundRecordingEdition/ResourceId/ISRC") == track["ISRC"]
        assert rec.findtext("Duration") == iso_duration(track["DURATION_MS"])
        assert rec.findtext("ContainsAI") == "All" and doc.findtext("ReleaseList/Release/ContainsAI") == "All"
        assert rec.findtext("Contributor/SpecialContributor") == "GenerativeAI"
        assert rec.findtext("DisplayArtistName") == DDEX["artist_name"]
        assert doc.findtext("ReleaseList/Release/DisplayGenre/GenreText") == track["GENRE"]
        file = rec.find("SoundRecordingEdition/TechnicalDetails/DeliveryFile/File")
        audio_key = store.key_of(row["AUDIO_URI"])
        audio = store.read_bytes(audio_key)
        assert audio_key.endswith(f"/resources/{track['ISRC']}.flac") and audio[:4] == b"fLaC"
        assert file.findtext("HashSum/Algorithm") == "SHA-256"
        assert file.findtext("HashSum/HashSumValue") == hashlib.sha256(audio).hexdigest() == row["AUDIO_SHA256"]
        assert file.findtext("FileSize") == str(len(audio))
        assert store.key_of(row["PACKAGE_URI"]).rsplit("/", 1)[0] + "/" + file.findtext("URI") == audio_key
        local = Path(row["AUDIO_URI"].removeprefix("file://"))
        assert audio_sha256(local) == track["SHA256"]  # the FLAC holds exactly the samples TRACKS hashed


def test_the_deal_offers_what_every_relied_on_license_allows(delivered):
    settings, _, _, (rows, _, _), _, _ = delivered
    store = TrackStore(settings.storage_url)
    row = next(r for r in rows if r["STATUS"] == "delivered")
    with connect(settings) as wh:
        ids = json.loads(wh.scalar("SELECT TO_JSON(LICENSE_IDS) FROM TRACK_PROVENANCE WHERE TRACK_ID = :t",
                                   {"t": row["TRACK_ID"]}))
        licenses = [r for r in wh.query("SELECT LICENSE_ID, TO_JSON(TERRITORIES) AS T, VALID_FROM, VALID_TO "
                                        "FROM LICENSES").to_pylist() if r["LICENSE_ID"] in ids]
    doc = etree.fromstring(store.read_bytes(store.key_of(row["PACKAGE_URI"])))
    deals = doc.findall("DealList/ReleaseDeal/Deal/DealTerms")
    assert [d.findtext("CommercialModelType") for d in deals][:2] == ["SubscriptionModel",
                                                                     "AdvertisementSupportedModel"]
    assert all("OnDemandStream" in [u.text for u in d.findall("UseType")] for d in deals[:2])
    assert deals[0].findtext("ValidityPeriod/StartDate") == max(lic["VALID_FROM"] for lic in licenses).isoformat()
    codes = {t.text for t in deals[0].findall("TerritoryCode")}
    named = [set(json.loads(lic["T"])) for lic in licenses if "WW" not in json.loads(lic["T"])]
    assert codes == (set.intersection(*named) if named else {"Worldwide"})


def test_tampered_audio_a_missing_isrc_and_an_ended_license_are_refused_with_reasons_never_delivered(delivered):
    settings, first, _, (rows, packages, _), _, broken = delivered
    by_track = {r["TRACK_ID"]: r for r in rows}
    assert by_track[broken["tampered"]]["STATUS"] == "refused"
    assert by_track[broken["tampered"]]["REASON"].startswith(f"{AUDIO_HASH_MISMATCH}: ")
    assert by_track[broken["no_isrc"]]["STATUS"] == "refused"
    assert by_track[broken["no_isrc"]]["REASON"].startswith(f"{NO_ISRC}: ")
    assert by_track[broken["ended"]]["STATUS"] == "refused"
    assert by_track[broken["ended"]]["REASON"].startswith(f"{WINDOW_ENDED}: ")
    assert first.refused == 3 and {r["track_id"] for r in first.refusals} == set(broken.values())
    for track_id in broken.values():
        assert by_track[track_id]["PACKAGE_URI"] is None
        assert not [k for k in packages if f"/MAE-{track_id}/" in k]


def test_a_rerun_changes_no_row_and_no_object_and_reports_skipped(delivered):
    _, first, second, before, after, _ = delivered
    assert before == after
    assert (second.delivered, second.skipped, second.refused) == (0, first.delivered, first.refused)
    assert second.changed_rows == 0 and second.manifest_uri == first.manifest_uri


def test_the_batch_manifest_lists_every_track_of_the_date(delivered):
    settings, first, _, (rows, _, _), _, _ = delivered
    store = TrackStore(settings.storage_url)
    manifest = json.loads(store.read_bytes(store.key_of(first.manifest_uri)))
    assert manifest["date"] == RUN_DATE and manifest["recipient"] == RECIPIENT
    assert [(p["track_id"], p["status"], p["message_id"]) for p in manifest["packages"]] == [
        (r["TRACK_ID"], r["STATUS"], r["MESSAGE_ID"]) for r in rows]


def _cli_env(monkeypatch, settings, **ddex: str) -> None:
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    for name in DDEX:
        monkeypatch.delenv(f"MAESTRO_{name.upper()}", raising=False)
    monkeypatch.setenv("MAESTRO_HOME", str(settings.home))
    for name, value in ddex.items():
        monkeypatch.setenv(f"MAESTRO_{name.upper()}", value)


def test_the_cli_reruns_the_date_as_json_with_nothing_to_do(delivered, monkeypatch, capsys):
    from maestro_ai.cli import run

    settings, first, *_ = delivered
    _cli_env(monkeypatch, settings, **DDEX)
    assert run(["deliver", "--date", RUN_DATE, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["delivered"], report["skipped"], report["refused"]) == (0, first.delivered, 3)


@pytest.mark.parametrize("missing", ["ddex_sender_dpid", "ddex_recipient_dpid", "artist_name", "label_name"])
def test_a_missing_ddex_setting_exits_2_naming_it_before_anything_is_written(make_home, monkeypatch, capsys,
                                                                            missing):
    from maestro_ai.cli import run

    settings = make_home(f"nodpid-{missing}")
    _cli_env(monkeypatch, settings, **{k: v for k, v in DDEX.items() if k != missing})
    assert run(["deliver", "--date", RUN_DATE]) == 2
    err = capsys.readouterr().err
    assert f"MAESTRO_{missing.upper()}" in err and "Traceback" not in err
    assert _packages(settings) == {} and _deliveries(settings) == []


def test_every_missing_ddex_setting_is_named_on_its_own_line(make_home, monkeypatch, capsys):
    from maestro_ai.cli import run

    settings = make_home("noddex")
    _cli_env(monkeypatch, settings)
    assert run(["deliver", "--date", RUN_DATE]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert [line.split()[1].rstrip(":") for line in lines] == [f"MAESTRO_{n.upper()}" for n in DDEX]


def test_a_malformed_dpid_exits_2_naming_the_setting(make_home, monkeypatch, capsys):
    from maestro_ai.cli import run

    settings = make_home("baddpid")
    _cli_env(monkeypatch, settings, **{**DDEX, "ddex_recipient_dpid": "SPOTIFY"})
    assert run(["deliver", "--date", RUN_DATE]) == 2
    assert "MAESTRO_DDEX_RECIPIENT_DPID" in capsys.readouterr().err


def test_the_demo_delivers_with_development_parties_when_none_are_configured(delivered):
    from maestro_pipeline import demo

    settings, first, *_ = delivered
    unset = settings.model_copy(update=dict.fromkeys(DDEX))
    report, development_ids = demo.deliver(unset, DAY)
    assert development_ids
    assert report["recipient"] == demo.DEMO_DDEX["ddex_recipient_dpid"] != RECIPIENT
    assert (report["delivered"], report["refused"]) == (first.delivered, first.refused)
    assert demo.deliver(settings, DAY)[1] is False  # configured parties are never replaced
    assert any(k.startswith(f"deliveries/{report['recipient']}/") for k in _packages(settings))


def test_the_delivery_dag_delivers_the_logical_date_again_byte_for_byte(airflow_env, delivered, monkeypatch):
    settings, _, _, (rows, packages, _), _, _ = delivered
    _cli_env(monkeypatch, settings, **DDEX)
    store = TrackStore(settings.storage_url)
    lost = store.key_of(next(r["PACKAGE_URI"] for r in rows if r["STATUS"] == "delivered"))
    store.delete(lost)  # the DAG's run must write it again, byte for byte
    dag = airflow_env.dagbag().get_dag("maestro_delivery")
    assert dag.schedule == "0 6 * * *" and dag.default_args["retries"] >= 1
    dagrun = dag.test(logical_date=dt.datetime.fromisoformat(RUN_DATE).replace(hour=6, tzinfo=dt.UTC))
    assert dagrun.state == "success"
    assert store.exists(lost) and [r for r in _deliveries(settings) if r["RECIPIENT"] == RECIPIENT] == rows
    assert {k: v for k, v in _packages(settings).items() if f"/{RECIPIENT}/" in f"/{k}"} == packages


def test_the_delivery_queries_and_the_deliveries_merge_run_on_both_backends(wh_backend):
    from maestro_pipeline.delivery import _licenses, _recorded

    created = dt.datetime(2026, 11, 15, 1, 2, 3)
    wh_backend.upsert("GENERATION_RUNS", [{"RUN_ID": "r1", "DAG_ID": "d", "LOGICAL_DATE": DAY, "ENGINE": "composer"}])
    wh_backend.upsert("GENERATION_REQUESTS", [
        {"REQUEST_ID": q, "RUN_ID": "r1", "PROMPT_ID": "p", "ORDINAL": i, "SEED": i, "STATUS": status}
        for i, (q, status) in enumerate([("q1", "generated"), ("q2", "rejected")])])
    wh_backend.upsert("TRACKS", [{"TRACK_ID": "t1", "REQUEST_ID": "q1", "ISRC": "ZZMAE2600001", "TITLE": "T",
                                  "URI": "u", "SHA256": "s", "DURATION_MS": 5000, "GENRE": "house", "MOOD": "m",
                                  "CREATED_AT": created}])
    wh_backend.upsert("TRACK_PROVENANCE", [{"TRACK_ID": "t1", "ENGINE": "e", "ENGINE_VERSION": "v", "SEED": 1,
                                            "LICENSE_IDS": '["lic_a"]', "CREATED_AT": created}])
    wh_backend.upsert("LICENSES", [{"LICENSE_ID": "lic_a", "ASSET_ID": "a", "HOLDER_ID": "h", "TERRITORIES": '["US"]',
                                    "USAGES": '["commercial_streaming"]', "VALID_FROM": dt.date(2026, 1, 1),
                                    "VALID_TO": None, "SHARE_BPS": 0}])
    tracks = wh_backend.query_file("delivery/date_tracks.sql", {"day": RUN_DATE, "generated": "generated"}).to_pylist()
    assert [(t["TRACK_ID"], json.loads(t["LICENSE_IDS"])) for t in tracks] == [("t1", ["lic_a"])]
    assert tracks[0]["CREATED_AT"] == created
    terms = _licenses(wh_backend, ["lic_a"])["lic_a"]
    assert (terms.territories, terms.usages) == ({"US"}, {"commercial_streaming"})
    assert (terms.valid_from, terms.valid_to) == (dt.date(2026, 1, 1), None)
    row = {"TRACK_ID": "t1", "RECIPIENT": RECIPIENT, "RELEASE_ID": "MAE-t1", "ISRC": "ZZMAE2600001",
           "DELIVERY_DATE": DAY, "MESSAGE_ID": "m", "PACKAGE_URI": "x", "PACKAGE_SHA256": "y", "AUDIO_URI": "z",
           "AUDIO_SHA256": "w", "STATUS": "delivered", "REASON": None, "CREATED_AT": created}
    assert wh_backend.upsert("DELIVERIES", [row]).inserted == 1
    assert wh_backend.upsert("DELIVERIES", [row]).changed == 0
    assert _recorded(wh_backend, RECIPIENT, ["t1", "t2"]) == {"t1": row}


# --- the review gate (issue 15): with review_required, only tracks approved in REVIEWS are delivered -------------
GATED_RECIPIENT = "PADPIDA2026REVIEWED1"


@pytest.fixture(scope="module")
def gated(delivered, tmp_path_factory):
    """The generated date of ``delivered`` in a copy of its warehouse (same store), delivered to another recipient so
    the packages and rows of ``delivered`` stay as they are. Returns (settings, good track ids)."""
    import shutil
    from urllib.parse import urlparse

    settings, first, *_ = delivered
    copy = tmp_path_factory.mktemp("gated") / "warehouse.duckdb"
    shutil.copy(urlparse(settings.warehouse_url).path, copy)
    gated_settings = settings.model_copy(update={"warehouse_url": f"duckdb:///{copy}",
                                                 "ddex_recipient_dpid": GATED_RECIPIENT})
    good = sorted({r["TRACK_ID"] for r in _deliveries(settings) if r["STATUS"] == "delivered"})
    assert len(good) >= 2 and first.delivered == len(good)
    return gated_settings, good


def _gated_rows(settings) -> dict[str, dict]:
    return {r["TRACK_ID"]: r for r in _deliveries(settings) if r["RECIPIENT"] == GATED_RECIPIENT}


def test_with_review_off_a_held_track_is_delivered_as_before(gated):
    from maestro_pipeline.review import record_decision

    settings, good = gated
    with connect(settings) as wh:
        record_decision(wh, good[:1], "held", "ann", "not yet")
    report = run_delivery(settings, DAY)
    assert not settings.review_required
    assert _gated_rows(settings)[good[0]]["STATUS"] == "delivered" and report.delivered == len(good)
    assert not [r for r in report.refusals if r["reason"].startswith("review_")]


def test_with_review_required_only_approved_tracks_are_delivered_and_approving_delivers_a_held_one(gated):
    from maestro_pipeline.delivery import REVIEW_HELD, REVIEW_PENDING
    from maestro_pipeline.review import record_decision

    settings, good = gated
    required = settings.model_copy(update={"review_required": True})
    held, approved, pending = good[0], good[1], good[2:]
    with connect(required) as wh:
        record_decision(wh, [held], "held", "ann", "the intro clips at 0:03")
        record_decision(wh, [approved], "approved", "ann", "")
        tracks = [r["TRACK_ID"] for r in wh.query("SELECT TRACK_ID FROM TRACKS").to_pylist()]
    report = run_delivery(required, DAY)
    rows = _gated_rows(required)
    assert rows[approved]["STATUS"] == "delivered"
    assert rows[held]["STATUS"] == "refused" and rows[held]["PACKAGE_URI"] is None
    assert rows[held]["REASON"].startswith(f"{REVIEW_HELD}: held by ann") and "the intro clips at 0:03" in \
        rows[held]["REASON"]
    undecided = set(tracks) - {held, approved}
    assert {t for t, r in rows.items() if r["REASON"] and r["REASON"].startswith(f"{REVIEW_PENDING}: ")} == undecided
    assert set(pending) <= undecided
    assert report.delivered + report.skipped == 1 and report.refused == len(tracks) - 1
    assert {r["track_id"]: r["reason"].split(":")[0] for r in report.refusals}[held] == REVIEW_HELD

    with connect(required) as wh:
        record_decision(wh, [held], "approved", "lead", "fixed in the master")
    again = run_delivery(required, DAY)
    rows = _gated_rows(required)
    assert rows[held]["STATUS"] == "delivered" and rows[held]["REASON"] is None
    assert TrackStore(required.storage_url).exists(TrackStore(required.storage_url).key_of(rows[held]["PACKAGE_URI"]))
    assert again.delivered + again.skipped == 2 and again.refused == len(tracks) - 2
