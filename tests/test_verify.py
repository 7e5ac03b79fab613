"""End to end: gate -> identity -> generate -> ISRC -> provenance -> sign -> load -> `maestro verify`,
then tamper with one sample, strip the manifest, or break the ISRC, and watch verification fail with a reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest

from maestro_core.credentials import ManifestFields, sign_audio
from maestro_core.identity import request_id, seed_for, track_id
from maestro_core.isrc import mint_isrc
from maestro_core.provenance import AssetUse, RunIdentity, build_provenance, write_sidecar
from maestro_core.rights import RightsRequest, gate_request
from maestro_core.splits import compute_splits, split_rows
from maestro_core.verify import format_report, verify_track
from tests.plugins.rights import DAY, PLATFORM, flip_one_sample, load_base_records, write_sine_wav

pytestmark = pytest.mark.slow


def _generate(out_dir: Path, seed: int) -> tuple[Path, str, str, dict]:
    """A short track from the real engine when it is installed, else a synthesized tone (engine 'sine-test')."""
    try:
        from inference.engine import GenerationRequest, get_engine

        engine = get_engine("composer")
    except (ImportError, ModuleNotFoundError):
        return write_sine_wav(out_dir / "track.wav", seconds=2.0), "sine-test", "0", {"title": "Test tone"}
    result = engine.generate(GenerationRequest(genre="lofi-chill", mood="ambient-focus", key_phrases=("rainy city",),
                                               duration_s=6, seed=seed, sample_rate=22050, audio_format="wav"),
                             output_dir=out_dir)
    return Path(result.audio_path), engine.name, engine.version, dict(result.metadata)


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory):
    """One track taken through the whole rights and provenance path; returns (settings, keys, audio, track id)."""
    from maestro_core.config import load_settings
    from maestro_core.rights_snapshot import load_snapshot
    from maestro_core.signing_keys import init_keys
    from maestro_core.warehouse import connect

    home = tmp_path_factory.mktemp("e2e") / "home"
    settings = load_settings(home=home)
    keys = init_keys(home / "keys")
    with connect(settings) as wh:
        wh.migrate()
        load_base_records(wh, with_terms=False)
        snapshot = load_snapshot(wh)
    rid = request_id("prompt-rainy", DAY, 0)
    uses = ("asset_engine_composer", "asset_model_minilm_l6_v2", "asset_soundfont_timgm6mb", "asset_seed_001")
    decision = gate_request(RightsRequest(rid, "prompt-rainy", ("rainy city",), ("US", "DE")), uses, snapshot, DAY)
    assert decision.allowed, decision.reasons
    out_dir = home / "tracks"
    out_dir.mkdir(parents=True)
    audio, engine, version, meta = _generate(out_dir, seed_for(rid))
    tid = track_id(rid, f"{engine}-{version}")
    isrc = mint_isrc(settings, [tid], DAY.year)[tid]
    license_of = {r.asset_id: r.license_id for r in decision.relied_on}
    record = build_provenance(
        track_id=tid, audio_path=audio, engine=engine, engine_version=version,
        assets=[AssetUse(a, snapshot.assets[a].kind, snapshot.assets[a].sha256, license_of[a]) for a in uses],
        params={"genre": "lofi-chill", "duration_s": 6}, seed=seed_for(rid),
        license_ids=[r.license_id for r in decision.relied_on], request_id=rid, isrc=isrc,
        run=RunIdentity("run-e2e"), created_at=dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC))
    sign_audio(audio, ManifestFields(tid, isrc, record.sha256, engine, version, title=str(meta.get("title", ""))),
               keys)
    write_sidecar(record, audio)
    with connect(settings) as wh, wh.transaction():
        wh.upsert("TRACKS", [{"TRACK_ID": tid, "REQUEST_ID": rid, "ISRC": isrc, "TITLE": str(meta.get("title") or tid),
                              "URI": audio.as_uri(), "SHA256": record.audio.sha256,
                              "DURATION_MS": record.audio.duration_ms, "GENRE": "lofi", "MOOD": "calm",
                              "CREATED_AT": dt.datetime(2026, 3, 1, 6)}])
        wh.upsert("TRACK_PROVENANCE", [record.track_provenance_row(manifest_signed=True)])
        wh.upsert("ROYALTY_SPLITS", split_rows(tid, compute_splits(decision.relied_on, PLATFORM)))
    return settings, keys, audio, tid, engine


def _copy(audio: Path, tmp_path: Path, with_sidecar: bool = False) -> Path:
    target = tmp_path / audio.name
    shutil.copy(audio, target)
    if with_sidecar:
        shutil.copy(audio.with_name(audio.name + ".provenance.json"), tmp_path)
    return target


def test_signed_generated_track_verifies_end_to_end(delivered):
    settings, keys, audio, tid, engine = delivered
    report = verify_track(audio, settings, keys)
    assert report.ok, format_report(report)
    assert [c.name for c in report.checks] == ["manifest", "signature", "assertion", "track", "isrc", "audio_hash",
                                               "provenance", "sidecar"]
    assert report.track_id == tid and report.provenance["engine"]["name"] == engine
    assert report.provenance["license_ids"] == ["lic_engine", "lic_minilm", "lic_seed", "lic_sf"]


def test_royalty_splits_of_the_track_sum_to_10000(delivered):
    from maestro_core.warehouse import connect

    settings, _, _, tid, _ = delivered
    with connect(settings) as wh:
        rows = wh.query("SELECT HOLDER_ID, ROLE, SHARE_BPS FROM ROYALTY_SPLITS WHERE TRACK_ID = :t", {"t": tid})
    shares = {r["HOLDER_ID"]: (r["ROLE"], r["SHARE_BPS"]) for r in rows.to_pylist()}
    assert shares == {"holder_ana": ("seed_owner", 2500), "holder_sf": ("model_licensor", 100),
                      PLATFORM: ("platform", 7400)}


def test_changing_one_sample_fails_signature_and_audio_hash(delivered, tmp_path):
    settings, keys, audio, _, _ = delivered
    copy = _copy(audio, tmp_path, with_sidecar=True)
    flip_one_sample(copy, frame=2000)
    report = verify_track(copy, settings, keys)
    assert not report.ok
    failed = {c.name: c.detail for c in report.failures}
    assert set(failed) == {"signature", "audio_hash", "provenance"}  # the record names the original audio
    assert "changed after signing" in failed["signature"] and "the audio changed" in failed["audio_hash"]
    assert "audio sha256 differs" in failed["provenance"]


def test_stripped_manifest_fails_with_a_clear_reason(delivered, tmp_path):
    import soundfile as sf

    settings, keys, audio, _, _ = delivered
    data, rate = sf.read(audio, dtype="int16")
    stripped = tmp_path / "stripped.wav"
    sf.write(stripped, data, rate, subtype="PCM_16")  # same samples, no manifest
    report = verify_track(stripped, settings, keys)
    assert not report.ok and [c.name for c in report.failures] == ["manifest"]
    assert "stripped" in report.failures[0].detail


def test_isrc_that_disagrees_with_the_warehouse_fails(delivered, tmp_path):
    from maestro_core.warehouse import connect

    settings, keys, audio, tid, _ = delivered
    with connect(settings) as wh:
        wh.execute("UPDATE TRACKS SET ISRC = 'ZZMAE2699999' WHERE TRACK_ID = :t", {"t": tid})
    try:
        report = verify_track(audio, settings, keys)
        assert [c.name for c in report.failures] == ["isrc"]
        assert "ZZMAE2699999" in report.failures[0].detail
    finally:
        with connect(settings) as wh:
            wh.execute("UPDATE TRACKS SET ISRC = (SELECT ISRC FROM ISRC_REGISTRY WHERE TRACK_ID = :t) "
                       "WHERE TRACK_ID = :t", {"t": tid})


def test_signature_by_an_untrusted_ca_fails(delivered, tmp_path):
    from maestro_core.signing_keys import init_keys

    settings, keys, audio, _, _ = delivered
    stranger = dataclasses.replace(keys, trust_anchor_path=init_keys(tmp_path / "k").trust_anchor_path)
    report = verify_track(audio, settings, stranger)
    assert [c.name for c in report.failures] == ["signature"]


def test_cli_verify_exits_0_when_verified_and_1_when_tampered(delivered, tmp_path, monkeypatch, capsys):
    from maestro_ai.cli import main

    settings, _, audio, tid, _ = delivered
    monkeypatch.setenv("MAESTRO_HOME", str(settings.home))
    with pytest.raises(SystemExit) as ok:
        main(["verify", str(audio)])
    out = capsys.readouterr().out
    assert ok.value.code == 0 and "verified" in out and tid in out and '"license_ids"' in out
    copy = _copy(audio, tmp_path)
    flip_one_sample(copy)
    with pytest.raises(SystemExit) as bad:
        main(["verify", str(copy)])
    assert bad.value.code == 1 and "NOT verified" in capsys.readouterr().out
