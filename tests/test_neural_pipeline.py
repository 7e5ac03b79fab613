"""Neural engines in the pipeline: settings reach the engine, bad configuration fails before any work, batches go to
``generate_batch`` in one call and stay dense, too-long requests are refused in planning, the checkpoint is a
licensed asset the rights gate checks, and a catalog run with ``MAESTRO_ENGINE=musicgen`` goes through the DAG.

The tiny MusicGen has random weights: its audio is noise. These tests check mechanics (what is called, refused,
recorded), not music. ``FakeBatchEngine`` stands in for a GPU engine where only the pipeline's side is tested.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pytest

from maestro_core.config import load_settings
from maestro_core.errors import ConfigError
from maestro_pipeline import gpu, planning
from maestro_pipeline.tables import REQUEST_TABLE, WORK_TABLE
from tests.plugins.pipeline import RUN_DATE, TEST_DURATION_S

FAKE = "tests.test_neural_pipeline:FakeBatchEngine"
DAY = dt.date.fromisoformat(RUN_DATE)


class FakeBatchEngine:
    """A stand-in GPU engine: one sine tone per request, written with soundfile; records every generate_batch call.

    It refuses a batch that mixes durations (a padded GPU batch would waste the difference), so a test that sees
    every request generated has also seen dense batches.
    """

    name = "fake-batch"
    version = "0.1.0"
    requires_gpu = True
    max_duration_s = 60.0
    calls: ClassVar[list[list[int]]] = []

    def __init__(self, model_path: str | None = None, batch_size: int = 8, allow_cpu: bool = False,
                 preload_model: bool = True) -> None:
        self.batch_size = batch_size

    @classmethod
    def style(cls, genre: str, mood: str) -> tuple[str, str]:
        return genre, mood

    @classmethod
    def asset_ids(cls) -> tuple[str, ...]:
        return ()

    def assets(self) -> list[Any]:
        return []

    def generate(self, request: Any, output_dir: str | Path, progress: Any = None) -> Any:
        (result,) = self.generate_batch([request], output_dir)
        if isinstance(result, Exception):
            raise result
        return result

    def generate_batch(self, requests: Sequence[Any], output_dir: str | Path) -> list[Any]:
        import soundfile

        from inference.engine import GenerationResult

        type(self).calls.append([int(r.seed) for r in requests])
        if len({r.duration_s for r in requests}) > 1:
            raise ValueError(f"mixed durations in one batch: {sorted({r.duration_s for r in requests})}")
        out: list[Any] = []
        for r in requests:
            if r.genre == "explode":
                out.append(RuntimeError(f"item {r.seed} failed"))
                continue
            t = np.arange(int(r.duration_s * r.sample_rate)) / r.sample_rate
            path = Path(output_dir) / f"fake-{r.seed}.wav"
            soundfile.write(path, np.stack([0.1 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1), r.sample_rate,
                            subtype="PCM_16")
            out.append(GenerationResult(
                {"title": f"Fake {r.seed}", "engine": self.name, "engine_version": self.version,
                 "model": {"id": "asset_model_fake", "dtype": "float32", "device": "cpu", "batch_size": len(requests),
                           "guidance_scale": 3.0},
                 "correction": {"stretch_ratio": 1.0},
                 "provenance_extra": {"batch": {"requested_size": len(requests), "oom_backoffs": 0}}},
                path, None))
        return out


# -- settings and preflight ----------------------------------------------------------------------------------------

def test_neural_settings_reach_the_engine_as_constructor_options(tmp_path):
    from maestro_pipeline.context import engine_options

    settings = load_settings(home=tmp_path, engine="musicgen", musicgen_model=tmp_path / "mg", gpu_batch_size=4,
                             allow_cpu_fallback=True)
    options = engine_options(settings)
    assert options["model_path"] == str(tmp_path / "mg") and options["batch_size"] == 4
    assert options["allow_cpu"] is True and options["melody_source"] == "none"
    assert engine_options(settings, gpu_batch_size=2)["batch_size"] == 2  # the DAG param wins
    assert "model_path" not in engine_options(load_settings(home=tmp_path))  # the composer takes none of them


@pytest.mark.parametrize(("variable", "value"), [("MAESTRO_GPU_BATCH_SIZE", "0"),
                                                  ("MAESTRO_MELODY_SOURCE", "guitar"),
                                                  ("MAESTRO_ALLOW_CPU_FALLBACK", "maybe")])
def test_bad_neural_settings_name_the_variable(monkeypatch, tmp_path, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as err:
        load_settings(home=tmp_path)
    assert err.value.field == variable


def _write_config(directory: Path, architecture: str, weights: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    if weights:
        (directory / "model.safetensors").write_bytes(b"\0" * 16)
    return directory


@pytest.mark.parametrize("case", ["unset", "missing", "no_config", "no_weights", "wrong_architecture"])
def test_a_bad_checkpoint_directory_is_a_config_error_naming_the_setting(tmp_path, case):
    from maestro_pipeline.preflight import PreflightFailed, check_engine

    model = {"unset": None, "missing": tmp_path / "nowhere",
             "no_config": tmp_path / "empty",
             "no_weights": _write_config(tmp_path / "noweights", "MusicgenForConditionalGeneration", weights=False),
             "wrong_architecture": _write_config(tmp_path / "bert", "BertModel")}[case]
    if case == "no_config":
        model.mkdir()
    settings = load_settings(home=tmp_path, engine="musicgen", musicgen_model=model)
    with pytest.raises(PreflightFailed) as err:
        check_engine(settings)
    assert [p.field for p in err.value.problems][0] == "MAESTRO_MUSICGEN_MODEL"
    assert not err.value.retryable  # configuration: retrying cannot help


def test_preflight_fails_a_musicgen_run_before_anything_is_written(make_home, monkeypatch, tmp_path):
    from maestro_core.warehouse import connect
    from maestro_pipeline.catalog import PipelineOptions, run_catalog
    from maestro_pipeline.preflight import PreflightFailed

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU here, and CPU fallback not allowed
    settings = make_home("neural-preflight").model_copy(
        update={"engine": "musicgen", "musicgen_model": tmp_path / "absent"})
    with pytest.raises(PreflightFailed) as err:
        run_catalog(settings, RUN_DATE, PipelineOptions(duration_s=TEST_DURATION_S, sign=False))
    assert {p.field for p in err.value.problems} == {"MAESTRO_MUSICGEN_MODEL", "MAESTRO_ALLOW_CPU_FALLBACK"}
    with connect(settings) as wh:
        assert wh.scalar("SELECT COUNT(*) FROM GENERATION_RUNS") == 0
        assert wh.scalar("SELECT COUNT(*) FROM GENERATION_REQUESTS") == 0


def test_a_gpu_engine_without_a_gpu_needs_cpu_fallback_allowed(monkeypatch, tmp_path):
    from maestro_pipeline.preflight import check_accelerator

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu.local_gpu_count() == 0
    with pytest.raises(ConfigError) as err:
        check_accelerator(load_settings(home=tmp_path, engine=FAKE))
    assert err.value.field == "MAESTRO_ALLOW_CPU_FALLBACK"
    check_accelerator(load_settings(home=tmp_path, engine=FAKE, allow_cpu_fallback=True))
    check_accelerator(load_settings(home=tmp_path))  # the composer needs no GPU
    # A joined cluster is judged by its resources, before any actor starts.
    with pytest.raises(ConfigError, match="MAESTRO_ALLOW_CPU_FALLBACK"):
        gpu.require_accelerator({"CPU": 16.0}, FAKE, {"allow_cpu": False})
    gpu.require_accelerator({"CPU": 16.0, "GPU": 1.0}, FAKE, {"allow_cpu": False})
    gpu.require_accelerator({"CPU": 16.0}, FAKE, {"allow_cpu": True})


# -- batching ------------------------------------------------------------------------------------------------------

def _work_rows(durations: Sequence[int], genre: str = "house") -> list[dict[str, Any]]:
    return [{"REQUEST_ID": f"req_{i:03d}", "TRACK_ID": f"trk_{i:03d}", "RUN_ID": "run_x", "PROMPT_ID": "prm_x",
             "GENRE": genre, "MOOD": "energetic", "KEY_PHRASES": '["warm"]', "TEMPO_BPM": 120,
             "MUSICAL_KEY": "A minor", "DURATION_S": d, "SEED": 1000 + i, "ASSETS": "[]", "LICENSE_IDS": "[]"}
            for i, d in enumerate(durations)]


def test_dense_batches_never_mix_durations_and_fill_up_to_the_batch_size():
    durations = [30, 180, 30, 30, 180, 60, 30, 30]
    table = pa.Table.from_pylist(_work_rows(durations))
    batches = gpu.dense_batches(table, batch_size=3)
    shapes = [(set(b["DURATION_S"].to_pylist()), b.num_rows) for b in batches]
    assert shapes == [({180}, 2), ({60}, 1), ({30}, 3), ({30}, 2)]  # longest first; only a group's last is short
    ids = sorted(r for b in batches for r in b["REQUEST_ID"].to_pylist())
    assert ids == sorted(table["REQUEST_ID"].to_pylist())  # every request exactly once
    assert [b.to_pylist() for b in gpu.dense_batches(table.take([7, 3, 1, 0, 5, 2, 4, 6]), 3)] == \
        [b.to_pylist() for b in batches]  # a function of the rows, not their order


def _spec(tmp_path: Path, engine: str = FAKE, **options: Any) -> Any:
    from maestro_pipeline.worker import WorkerSpec

    return WorkerSpec(storage_url=f"file://{tmp_path / 'store'}", settings={"home": str(tmp_path)},
                      scratch_dir=str(tmp_path / "scratch"), engine=engine, sign=False, qc=False,
                      engine_options={"allow_cpu": True, **options})


def test_a_batched_engine_gets_the_whole_batch_in_one_call_and_a_bad_item_fails_alone(tmp_path):
    from maestro_pipeline.fanout import GeneratorActor

    rows = _work_rows([5, 5, 5, 5])
    rows[1]["SEED"] = -1  # refused by the worker before the engine sees it
    rows[2]["GENRE"] = "explode"  # fails inside the engine's batch
    FakeBatchEngine.calls.clear()
    actor = GeneratorActor(_spec(tmp_path))
    results = {r["REQUEST_ID"]: r for r in actor(pa.Table.from_pylist(rows)).to_pylist()}
    assert FakeBatchEngine.calls == [[1000, 1002, 1003]]  # one call, the valid requests only
    assert [results[f"req_{i:03d}"]["STATUS"] for i in range(4)] == ["generated", "failed", "failed", "generated"]
    assert results["req_001"]["ERROR_CLASS"] == "InputError" and "SEED" in results["req_001"]["ERROR_MESSAGE"]
    assert results["req_002"]["ERROR_MESSAGE"] == "item 1002 failed"
    provenance = json.loads(json.loads(results["req_000"]["PROVENANCE_ROW"])["PROVENANCE"])
    assert provenance["extra"]["model"]["batch_size"] == 3 and provenance["extra"]["batch"]["oom_backoffs"] == 0
    assert provenance["extra"]["correction"] == {"stretch_ratio": 1.0}
    # A rerun finds the stored tracks and generates nothing again.
    FakeBatchEngine.calls.clear()
    again = actor(pa.Table.from_pylist([rows[0], rows[3]])).to_pylist()
    assert FakeBatchEngine.calls == [] and all(r["RESUMED"] for r in again)


def test_a_batch_call_that_raises_fails_each_of_its_requests_with_the_cause(tmp_path):
    from maestro_pipeline.fanout import GeneratorActor

    FakeBatchEngine.calls.clear()
    results = GeneratorActor(_spec(tmp_path))(pa.Table.from_pylist(_work_rows([5, 10]))).to_pylist()
    assert len(FakeBatchEngine.calls) == 1  # called once with both: the fake refuses mixed durations
    assert [r["STATUS"] for r in results] == ["failed", "failed"]
    assert all("mixed durations" in r["ERROR_MESSAGE"] for r in results)


def test_fan_out_sends_a_batched_engine_dense_batches_of_its_gpu_batch_size(tmp_path, ray_cluster):
    from maestro_pipeline.fanout import FanoutConfig, fan_out

    rows = _work_rows([5, 10, 5, 10, 5])
    table = pa.Table.from_pylist(rows, schema=WORK_TABLE)
    run = fan_out(table, _spec(tmp_path, batch_size=2), FanoutConfig(pool_size=1))
    results = run.results.to_pylist()
    assert [r["STATUS"] for r in results] == ["generated"] * 5  # the fake refuses mixed durations: none were
    sizes = sorted(json.loads(json.loads(r["PROVENANCE_ROW"])["PROVENANCE"])["extra"]["batch"]["requested_size"]
                   for r in results)
    assert sizes == [1, 2, 2, 2, 2] and run.stats.batches == 3 and run.stats.batch_size == 2


# -- planning ------------------------------------------------------------------------------------------------------

def _prompt(prompt_id: str, duration_s: int) -> dict[str, Any]:
    return {"PROMPT_ID": prompt_id, "GENRE": "house", "MOOD": "energetic", "KEY_PHRASES": '["warm"]',
            "TEMPO_BPM": 120, "MUSICAL_KEY": "A minor", "DURATION_S": duration_s, "TERRITORIES": '["US"]',
            "TARGET_COUNT": 1, "ACTIVE": True}


def test_a_request_longer_than_the_engine_supports_is_refused_in_planning_with_a_reason(tmp_path):
    from maestro_pipeline.catalog import context, refuse_unsupported

    ctx = context(load_settings(home=tmp_path, engine=FAKE), RUN_DATE)
    planned = planning.plan_requests([_prompt("prm_short", 60), _prompt("prm_long", 61)], ctx.run_id, DAY,
                                     ctx.engine_version, {})
    gated = {r["PROMPT_ID"]: r for r in refuse_unsupported(ctx, planned).to_pylist()}
    assert gated["prm_short"]["STATUS"] == "planned" and json.loads(gated["prm_short"]["REASONS"]) == []
    (reason,) = json.loads(gated["prm_long"]["REASONS"])
    assert gated["prm_long"]["STATUS"] == "rejected"
    assert reason["code"] == "duration_too_long" and reason["field"] == "DURATION_S"
    assert FAKE in reason["message"] and reason["max_duration_s"] == 60.0
    composer = context(load_settings(home=tmp_path), RUN_DATE)  # states no maximum: refuses nothing
    assert refuse_unsupported(composer, planned).to_pylist() == planned.to_pylist()


def test_a_melody_seed_is_refused_in_planning_for_musicgen_outside_hybrid_mode(tmp_path):
    from maestro_pipeline.catalog import context, refuse_unsupported

    prompts = [{**_prompt("prm_seeded", 30), "MELODY_SEED_ASSET_ID": "asset_seed_001"}, _prompt("prm_free", 30)]
    ctx = context(load_settings(home=tmp_path, engine="musicgen"), RUN_DATE)
    planned = planning.plan_requests(prompts, ctx.run_id, DAY, ctx.engine_version, {})
    out = {r["PROMPT_ID"]: r for r in refuse_unsupported(ctx, planned).to_pylist()}
    (reason,) = json.loads(out["prm_seeded"]["REASONS"])
    assert out["prm_seeded"]["STATUS"] == "rejected" and out["prm_free"]["STATUS"] == "planned"
    assert reason["code"] == "melody_not_supported" and "MAESTRO_MELODY_SOURCE=composer" in reason["message"]
    hybrid = context(load_settings(home=tmp_path, engine="musicgen", melody_source="composer"), RUN_DATE)
    assert {r["STATUS"] for r in refuse_unsupported(hybrid, planned).to_pylist()} == {"planned"}


# -- rights --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_musicgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random MusicGen (real classes, a few layers), written once for this module (noise, not music)."""
    from inference.neural.testmodel import write_tiny_musicgen

    return write_tiny_musicgen(tmp_path_factory.mktemp("musicgen-tiny"))


def _planned_for_gate(run_id: str) -> pa.Table:
    rows = planning.plan_requests([_prompt("prm_model", 30)], run_id, DAY, "1.0.0", {}).to_pylist()
    return pa.Table.from_pylist(rows, schema=REQUEST_TABLE)


def test_non_commercial_weights_are_refused_for_streaming_unless_a_license_grants_it(make_home, tiny_musicgen):
    from inference.neural.base import model_asset
    from maestro_core.rights_snapshot import load_snapshot
    from maestro_pipeline.model_assets import gate_asset_ids, register_model_assets

    settings = make_home("neural-rights").model_copy(update={"engine": "musicgen", "musicgen_model": tiny_musicgen})
    checkpoint = model_asset(tiny_musicgen, "musicgen")
    with settings_warehouse(settings) as wh:
        ids = register_model_assets(wh, settings)
        assert register_model_assets(wh, settings) == ids == (checkpoint.asset_id,)  # idempotent
        row = wh.query("SELECT * FROM ASSETS WHERE ASSET_ID = ?", [checkpoint.asset_id]).to_pylist()[0]
        refused = planning.gate_requests(_planned_for_gate("run_a"), load_snapshot(wh), DAY,
                                         gate_asset_ids(("asset_model_musicgen",), ids))
    assert row["SHA256"] == checkpoint.sha256 and row["KIND"] == "model" and row["SPDX_LICENSE"] == "CC-BY-NC-4.0"
    (reason,) = json.loads(refused["REASONS"][0].as_py())
    assert refused["STATUS"][0].as_py() == "rejected"
    assert reason["code"] == "usage_not_granted" and reason["asset_id"] == checkpoint.asset_id
    assert checkpoint.asset_id in reason["message"] and "CC-BY-NC-4.0" in reason["message"]
    with settings_warehouse(settings) as wh:  # the operator bought a commercial licence for these weights
        wh.upsert("LICENSES", [commercial_license(checkpoint.asset_id)])
        allowed = planning.gate_requests(_planned_for_gate("run_b"), load_snapshot(wh), DAY,
                                         gate_asset_ids(("asset_model_musicgen",), ids))
    assert allowed["STATUS"][0].as_py() == "planned"
    assets = {a["asset_id"]: a for a in json.loads(allowed["ASSETS"][0].as_py())}
    assert assets[checkpoint.asset_id]["sha256"] == checkpoint.sha256
    assert json.loads(allowed["LICENSE_IDS"][0].as_py()) == ["lic_musicgen_commercial"]


def test_stable_audio_weights_register_under_the_community_license_without_commercial_usages():
    from inference.engine import AssetUse
    from maestro_pipeline.model_assets import gate_asset_ids, model_rows

    asset = AssetUse("asset_model_stable_audio_0123456789ab", "/models/sao", "ab" * 32,
                     "LicenseRef-Stability-AI-Community")
    rows = model_rows("stable-audio", asset)
    (row,) = rows["ASSETS"]
    (published,) = rows["LICENSES"]
    assert row["SPDX_LICENSE"] == "LicenseRef-Stability-AI-Community" and row["HOLDER_ID"] == "holder_stability_ai"
    assert published["ASSET_ID"] == asset.asset_id and "commercial_streaming" not in published["USAGES"]
    # The checkpoint's own id replaces the engine-wide id it refines; other engine assets stay.
    assert gate_asset_ids(("asset_engine_x", "asset_model_stable_audio"), (asset.asset_id,)) == \
        ("asset_engine_x", asset.asset_id)


def commercial_license(asset_id: str) -> dict[str, Any]:
    return {"LICENSE_ID": "lic_musicgen_commercial", "ASSET_ID": asset_id, "HOLDER_ID": "holder_meta_musicgen",
            "TERRITORIES": ["WW"], "USAGES": ["commercial_streaming"], "VALID_FROM": dt.date(2026, 1, 1),
            "VALID_TO": None, "SHARE_BPS": 500}


def settings_warehouse(settings: Any) -> Any:
    from maestro_core.warehouse import connect

    return connect(settings)


def test_hybrid_mode_without_a_melody_checkpoint_is_refused_in_preflight(tmp_path, tiny_musicgen):
    from maestro_pipeline.preflight import PreflightFailed, check_engine

    settings = load_settings(home=tmp_path, engine="musicgen", musicgen_model=tiny_musicgen)
    check_engine(settings)  # a complete MusicGen checkpoint: nothing to report
    with pytest.raises(PreflightFailed) as err:
        check_engine(settings.model_copy(update={"melody_source": "composer"}))
    assert [p.field for p in err.value.problems] == ["MAESTRO_MELODY_SOURCE"]


# -- end to end ----------------------------------------------------------------------------------------------------

def test_catalog_dag_with_musicgen_generates_licensed_tracks_with_model_provenance(
        airflow_env, ray_cluster, make_home, monkeypatch, tiny_musicgen):
    import datetime as _dt

    from inference.neural.base import model_asset

    settings = make_home("neural-dag")
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    env = {"MAESTRO_HOME": str(settings.home), "MAESTRO_ENGINE": "musicgen",
           "MAESTRO_MUSICGEN_MODEL": str(tiny_musicgen), "MAESTRO_ALLOW_CPU_FALLBACK": "true",
           "MAESTRO_GPU_BATCH_SIZE": "4"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    checkpoint = model_asset(tiny_musicgen, "musicgen")
    with settings_warehouse(settings) as wh:
        wh.execute("UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID = 'prm_0025'")  # one allowed prompt: quick
        wh.upsert("RIGHTS_HOLDERS", [{"HOLDER_ID": "holder_meta_musicgen", "NAME": "Meta Platforms (MusicGen "
                                      "weights)", "KIND": "model_licensor"}])
        wh.upsert("LICENSES", [commercial_license(checkpoint.asset_id)])
    dag = airflow_env.dagbag().get_dag("maestro_catalog_generation")
    logical = _dt.datetime.fromisoformat(RUN_DATE).replace(tzinfo=_dt.UTC)
    state = dag.test(logical_date=logical, run_conf={"duration_s": TEST_DURATION_S, "gpu_batch_size": 2}).state
    assert state == "success"
    with settings_warehouse(settings) as wh:
        requests = wh.query("SELECT STATUS, REASONS FROM GENERATION_REQUESTS").to_pylist()
        tracks = wh.query("SELECT TRACK_ID, DURATION_MS, SHA256 FROM TRACKS").to_pylist()
        provenance = [json.loads(r["PROVENANCE"]) for r in wh.query("SELECT PROVENANCE FROM TRACK_PROVENANCE")
                      .to_pylist()]
    assert [r["STATUS"] for r in requests] == ["generated"] and len(tracks) == 1
    assert abs(tracks[0]["DURATION_MS"] - TEST_DURATION_S * 1000) <= 50
    (record,) = provenance
    assert record["engine"]["name"] == "musicgen"
    model = record["extra"]["model"]
    assert model["sha256"] == checkpoint.sha256
    assert (model["device"], model["dtype"]) == ("cpu", "float32") or model["dtype"] in ("bfloat16", "float16")
    assert model["batch_size"] == 1 and "guidance_scale" in model  # one request: a batch of one, of at most 2
    assert {"measured_bpm", "stretch_ratio"} <= set(record["extra"]["correction"])
    assert record["extra"]["batch"]["oom_backoffs"] == 0
    recorded = {a["asset_id"]: a for a in record["assets"]}
    assert recorded[checkpoint.asset_id]["sha256"] == checkpoint.sha256
    assert "lic_musicgen_commercial" in record["license_ids"]
