"""Provenance records: PCM hash, canonical JSON and its hash, atomic sidecar, TRACK_PROVENANCE row."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest

from maestro_core.errors import InputError
from maestro_core.provenance import (
    AssetUse,
    Environment,
    RunIdentity,
    audio_sha256,
    build_provenance,
    describe_audio,
    provenance_sha256,
    sidecar_path,
    write_sidecar,
)
from tests.plugins.rights import flip_one_sample, write_sine_wav

ASSETS = (AssetUse("asset_seed_001", "melody_seed", "d" * 64, "lic_seed"),
          AssetUse("asset_model_minilm_l6_v2", "model", "b" * 64, "lic_minilm"),
          AssetUse("asset_soundfont_timgm6mb", "soundfont", "c" * 64, "lic_sf"))
ENV = Environment("0.1.0", "abc123def456", "host-1", "Linux", "3.11.7", "cpu")
WHEN = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def record(path, **overrides):
    kwargs = {"track_id": "t1", "audio_path": path, "engine": "composer", "engine_version": "0.1.0",
              "assets": ASSETS, "params": {"tempo_bpm": 92, "key": "A minor", "gain_db": Decimal("-1.5"),
                                           "phrases": ("rainy", "city")},
              "seed": 123456789, "license_ids": ["lic_seed", "lic_sf", "lic_minilm", "lic_seed"],
              "request_id": "r1", "isrc": "ZZMAE2600001", "run": RunIdentity("run-1", "maestro_daily", "manual__x", 2),
              "environment": ENV, "created_at": WHEN}
    return build_provenance(**{**kwargs, **overrides})


def test_record_names_audio_engine_assets_params_licenses_run_and_code(tmp_path):
    wav = write_sine_wav(tmp_path / "t.wav", seconds=0.5)
    doc = record(wav).to_dict()
    assert doc["audio"]["sha256"] == audio_sha256(wav) and doc["audio"]["format"] == "WAV"
    assert doc["audio"]["duration_ms"] == 500 and doc["audio"]["sample_rate"] == 22050
    assert doc["engine"] == {"name": "composer", "version": "0.1.0"}
    assert [(a["asset_id"], a["license_id"]) for a in doc["assets"]] == [
        ("asset_seed_001", "lic_seed"), ("asset_model_minilm_l6_v2", "lic_minilm"),
        ("asset_soundfont_timgm6mb", "lic_sf")]
    assert doc["params"] == {"tempo_bpm": 92, "key": "A minor", "gain_db": "-1.5", "phrases": ["rainy", "city"]}
    assert doc["seed"] == 123456789 and doc["license_ids"] == ["lic_minilm", "lic_seed", "lic_sf"]
    assert doc["run"]["airflow_dag_id"] == "maestro_daily" and doc["run"]["airflow_try_number"] == 2
    assert doc["code_version"] == "0.1.0+gabc123def456" and doc["environment"]["accelerator"] == "cpu"
    assert doc["created_at"] == "2026-03-01T12:00:00Z"


def test_provenance_hash_is_sha256_of_canonical_json_and_stable(tmp_path):
    wav = write_sine_wav(tmp_path / "t.wav", seconds=0.2)
    rec = record(wav)
    assert rec.sha256 == hashlib.sha256(rec.canonical_json()).hexdigest() == record(wav).sha256
    assert provenance_sha256(json.dumps(rec.to_dict(), indent=3)) == rec.sha256  # formatting does not matter
    assert record(wav, seed=1).sha256 != rec.sha256


def test_pcm_hash_changes_when_one_sample_changes_but_not_with_the_container(tmp_path):
    import soundfile as sf

    wav = write_sine_wav(tmp_path / "t.wav", seconds=0.2)
    before = audio_sha256(wav)
    data, rate = sf.read(wav, dtype="int16")
    sf.write(tmp_path / "same.flac", data, rate, subtype="PCM_16")
    assert audio_sha256(tmp_path / "same.flac") == before  # same samples, other container
    flip_one_sample(wav)
    assert audio_sha256(wav) != before


@pytest.mark.parametrize(("subtype", "dtype"), [("PCM_16", "int16"), ("PCM_24", "int32"), ("FLOAT", "float32")])
def test_pcm_hash_is_the_documented_digest_of_the_interleaved_frames(tmp_path, subtype, dtype):
    import numpy as np
    import soundfile as sf

    frames = 300_001  # more than one read block, and not a multiple of it
    samples = np.random.default_rng(7).uniform(-0.9, 0.9, size=(frames, 2)).astype(np.float32)
    path = tmp_path / "t.wav"
    sf.write(path, samples, 8000, subtype=subtype)
    stored, _ = sf.read(path, dtype=dtype, always_2d=True)
    expected = hashlib.sha256(f"maestro-pcm-v1|8000|2|{dtype}\n".encode()
                              + stored.astype(np.dtype(dtype).newbyteorder("<")).tobytes()).hexdigest()
    facts = describe_audio(path)
    assert (facts.sha256, facts.frames, facts.channels) == (expected, frames, 2)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_describing_the_bytes_equals_describing_the_file(tmp_path, suffix):
    import soundfile as sf

    wav = write_sine_wav(tmp_path / "t.wav", seconds=0.3)
    data, rate = sf.read(wav, dtype="int16")
    path = tmp_path / f"same{suffix}"
    sf.write(path, data, rate, subtype="PCM_16")
    assert describe_audio(path.read_bytes()) == describe_audio(path)


def test_unreadable_audio_bytes_name_the_field():
    with pytest.raises(InputError) as err:
        describe_audio(b"RIFF....WAVEjunk")
    assert err.value.field == "audio_path" and "in-memory" in str(err.value)


def test_unreadable_audio_names_the_field(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(InputError) as err:
        describe_audio(bad)
    assert err.value.field == "audio_path"


@pytest.mark.parametrize(("overrides", "field"), [({"seed": -1}, "seed"), ({"seed": 2**63}, "seed"),
                                                  ({"engine": ""}, "engine"),
                                                  ({"params": {"x": object()}}, "params.x"),
                                                  ({"params": {"x": float("nan")}}, "params.x"),
                                                  ({"assets": (AssetUse("a", "model", ""),)}, "assets")])
def test_bad_provenance_inputs_name_the_field(tmp_path, overrides, field):
    wav = write_sine_wav(tmp_path / "t.wav", seconds=0.1)
    with pytest.raises(InputError) as err:
        record(wav, **overrides)
    assert err.value.field == field


def test_sidecar_holds_the_canonical_bytes_and_replaces_atomically(tmp_path):
    wav = write_sine_wav(tmp_path / "t.wav", seconds=0.1)
    rec = record(wav)
    path = write_sidecar(rec, wav)
    assert path == sidecar_path(wav) == tmp_path / "t.wav.provenance.json"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == rec.sha256
    write_sidecar(record(wav, seed=5), wav)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.wav", "t.wav.provenance.json"]  # no temp files left


def test_run_identity_reads_airflow_context_or_environment():
    env = {"AIRFLOW_CTX_DAG_ID": "d", "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2026", "AIRFLOW_CTX_TRY_NUMBER": "3"}
    found = RunIdentity.current("r", env=env)  # Ray ids are filled in too when this process runs Ray
    assert (found.run_id, found.airflow_dag_id, found.airflow_run_id, found.airflow_try_number) == \
        ("r", "d", "scheduled__2026", 3)
    ctx = {"dag_id": "maestro", "run_id": "manual__1", "try_number": 1}
    assert RunIdentity.current(context=ctx, env={}).airflow_run_id == "manual__1"
    bare = RunIdentity.current(env={})
    assert (bare.run_id, bare.airflow_dag_id, bare.airflow_run_id, bare.airflow_try_number) == (None,) * 4


def test_environment_detects_code_version_and_host():
    env = Environment.detect()
    assert env.code_version.startswith(env.package_version) and env.host and env.accelerator


def test_track_provenance_row_loads_and_a_rerun_changes_nothing(tmp_path, open_warehouse):
    wav = write_sine_wav(tmp_path / "t.wav", seconds=0.1)
    row = record(wav).track_provenance_row(manifest_signed=True)
    with open_warehouse() as wh:
        assert wh.upsert("TRACK_PROVENANCE", [row]).inserted == 1
        assert wh.upsert("TRACK_PROVENANCE", [row]).unchanged == 1
        stored = wh.query("SELECT TO_JSON(PROVENANCE) AS P, PROVENANCE_SHA256, AUDIO_SHA256, SEED FROM "
                          "TRACK_PROVENANCE").to_pylist()[0]
    assert provenance_sha256(stored["P"]) == stored["PROVENANCE_SHA256"] == row["PROVENANCE_SHA256"]
    assert stored["AUDIO_SHA256"] == audio_sha256(wav) and stored["SEED"] == 123456789
