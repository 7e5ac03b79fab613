"""The ``stable-audio`` engine on a tiny random-initialised StableAudioPipeline, on CPU.

The checkpoint is built with the real diffusers and transformers classes (``write_tiny_stable_audio``), saved
with ``save_pretrained`` and loaded through the engine's own path (``local_files_only``). Its audio is noise:
these tests check mechanics (loading, errors, seeds, batching, window lengths and stitching), not music.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inference.engine import GenerationRequest
from inference.neural.stable_audio import SETTING, StableAudioEngine, write_tiny_stable_audio
from inference.neural.stitch import window_lengths
from maestro_core.errors import ConfigError, InputError

STEPS = 4  # sampler steps per window: enough to run every scheduler branch, cheap on CPU
SR = 22050  # output rate for the tests' tracks (the tiny model writes 8 kHz; the engine resamples)
BATCH_TOLERANCE = 1e-4  # max abs sample difference, batch vs alone: float32 reductions over other shapes


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Torch on one thread: on a shared 2-core machine its thread pool made the tiny model 15x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Path:
    return write_tiny_stable_audio(tmp_path_factory.mktemp("tiny-stable-audio"))


@pytest.fixture(scope="module")
def engine(tiny_dir: Path) -> StableAudioEngine:
    return StableAudioEngine(model_path=tiny_dir, allow_cpu=True, device="cpu", num_inference_steps=STEPS)


def request(seed: int = 1, duration_s: float = 5.0, **fields: object) -> GenerationRequest:
    base: dict[str, object] = {"genre": "lofi chill", "mood": "relaxed", "seed": seed, "duration_s": duration_s,
                               "sample_rate": SR}
    return GenerationRequest(**{**base, **fields})  # type: ignore[arg-type]


def test_tiny_checkpoint_loads_through_the_production_path(tiny_dir: Path, engine: StableAudioEngine) -> None:
    assert StableAudioEngine.check(model_path=tiny_dir) == []
    index = json.loads((tiny_dir / "model_index.json").read_text())
    assert index["_class_name"] == "StableAudioPipeline"
    assert index["scheduler"][1] == "CosineDPMSolverMultistepScheduler"
    assert engine.window_s == pytest.approx(96 * 256 / 8000)
    (asset,) = engine.assets()
    assert asset.license == "LicenseRef-Stability-AI-Community" and len(asset.sha256) == 64


def test_the_test_model_writer_is_deterministic_by_seed(tiny_dir: Path, tmp_path: Path) -> None:
    from inference.neural.base import model_asset

    same = model_asset(write_tiny_stable_audio(tmp_path / "same"), "stable-audio")
    other = model_asset(write_tiny_stable_audio(tmp_path / "other", seed=1), "stable-audio")
    original = model_asset(tiny_dir, "stable-audio")
    assert same.sha256 == original.sha256 and same.asset_id == original.asset_id
    assert other.sha256 != original.sha256


def test_same_seed_gives_byte_identical_tracks_and_another_seed_does_not(engine: StableAudioEngine,
                                                                        tmp_path: Path) -> None:
    first = engine.generate(request(seed=11), tmp_path / "a")
    again = engine.generate(request(seed=11), tmp_path / "b")
    other = engine.generate(request(seed=12), tmp_path / "c")
    assert first.audio_path.read_bytes() == again.audio_path.read_bytes()
    assert first.metadata["sha256"] == hashlib.sha256(first.audio_path.read_bytes()).hexdigest()
    assert other.metadata["sha256"] != first.metadata["sha256"]

    meta = first.metadata
    assert meta["engine"] == "stable-audio" and meta["duration_seconds"] == pytest.approx(5.0, abs=1e-3)
    assert meta["model"]["guidance_scale"] == 7.0 and meta["model"]["num_inference_steps"] == STEPS
    assert meta["model"]["sampler"]["scheduler"] == "CosineDPMSolverMultistepScheduler"
    assert meta["model"]["dtype"] == "float32" and meta["model"]["device"] == "cpu"
    assert "measured_bpm" in meta["correction"] and "semitones" in meta["correction"]


def test_a_batch_gives_each_item_what_it_gives_alone(engine: StableAudioEngine, tmp_path: Path) -> None:
    a, b = request(seed=5, key_phrases=("rainy window",)), request(seed=6, mood="dark")
    together = engine._render([a, b])
    alone = engine._render([b])[0]
    assert together[1].audio.shape == alone.audio.shape
    assert np.max(np.abs(together[1].audio - alone.audio)) < BATCH_TOLERANCE
    assert np.max(np.abs(together[0].audio - alone.audio)) > 100 * BATCH_TOLERANCE  # different items differ

    results = engine.generate_batch([a, b], tmp_path)
    assert [r.metadata["seed"] for r in results] == [5, 6]  # type: ignore[union-attr]
    assert all(r.metadata["provenance_extra"]["batch"]["batch_size"] == 2 for r in results)  # type: ignore[union-attr]


def test_a_request_longer_than_one_window_is_stitched_to_its_exact_length(engine: StableAudioEngine,
                                                                          tmp_path: Path) -> None:
    duration = 7.0  # the tiny model's window is 3.072 s
    (raw,) = engine._render([request(duration_s=duration)])
    expected = window_lengths(round(duration * 8000), engine.window_frames, engine.overlap_frames)
    assert raw.audio.shape == (2, round(duration * 8000))
    assert raw.extra["windows"] == len(expected) >= 3 and len(raw.seams) == len(expected) - 1
    assert np.all(np.isfinite(raw.audio))

    result = engine.generate(request(duration_s=duration), tmp_path)
    assert result.metadata["duration_seconds"] == pytest.approx(duration, abs=1e-3)
    assert result.metadata["provenance_extra"]["stitch"]["windows"] == len(expected)


def test_a_requested_tempo_renders_headroom_for_the_stretch(engine: StableAudioEngine) -> None:
    (raw,) = engine._render([request(duration_s=5.0, tempo_bpm=100.0)])
    assert raw.audio.shape[1] == pytest.approx(5.0 * 1.1 * 8000, abs=1)
    assert raw.target_bpm == 100.0
    # ... so requests with and without a tempo are never batched together (it would change the untimed one)
    assert engine._group_key(request(tempo_bpm=100.0)) != engine._group_key(request())
    assert engine._group_key(request(seed=1)) == engine._group_key(request(seed=2, mood="dark"))


def test_a_request_over_the_engine_maximum_is_refused_before_rendering(engine: StableAudioEngine,
                                                                      tmp_path: Path) -> None:
    assert StableAudioEngine.max_duration_s < 900
    with pytest.raises(InputError) as err:
        engine.generate(request(duration_s=StableAudioEngine.max_duration_s + 1), tmp_path)
    assert err.value.field == "duration_seconds"
    assert not any(tmp_path.iterdir())


def _transformers_dir(path: Path) -> Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"architectures": ["MusicgenForConditionalGeneration"]}))
    (path / "model.safetensors").write_bytes(b"\0" * 16)
    return path


def _without_transformer_weights(tiny: Path, path: Path) -> Path:
    shutil.copytree(tiny, path)
    for weights in (path / "transformer").glob("*.safetensors"):
        weights.unlink()
    return path


@pytest.mark.parametrize("case", ["missing", "empty", "no-transformer-weights", "transformers-model", "unset"])
def test_bad_checkpoint_directories_name_the_setting(case: str, tiny_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING, raising=False)
    path: Path | None = {
        "missing": lambda: tmp_path / "nowhere",
        "empty": lambda: (tmp_path / "empty").mkdir() or tmp_path / "empty",
        "no-transformer-weights": lambda: _without_transformer_weights(tiny_dir, tmp_path / "partial"),
        "transformers-model": lambda: _transformers_dir(tmp_path / "musicgen"),
        "unset": lambda: None,
    }[case]()
    problems = StableAudioEngine.check(model_path=path)
    assert problems and all(p.field == SETTING for p in problems)
    with pytest.raises(ConfigError) as err:
        StableAudioEngine(model_path=path, allow_cpu=True, device="cpu")
    assert err.value.field == SETTING and str(err.value).startswith(SETTING)
    if case == "transformers-model":
        assert "MusicgenForConditionalGeneration" in str(err.value)


def test_corrupt_weights_fail_to_load_with_an_error_naming_the_setting(tiny_dir: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(tiny_dir, tmp_path / "broken")
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    assert StableAudioEngine.check(model_path=broken) == []  # looks complete without loading
    with pytest.raises(ConfigError) as err:
        StableAudioEngine(model_path=broken, allow_cpu=True, device="cpu")
    assert err.value.field == SETTING


def test_no_gpu_and_no_cpu_fallback_is_refused(tiny_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the engine would run on it")
    with pytest.raises(ConfigError) as err:
        StableAudioEngine(model_path=tiny_dir, allow_cpu=False)
    assert err.value.field == "MAESTRO_ALLOW_CPU_FALLBACK"


def test_sampler_options_are_checked(tiny_dir: Path) -> None:
    with pytest.raises(ConfigError) as err:
        StableAudioEngine(model_path=tiny_dir, allow_cpu=True, num_inference_steps=0)
    assert err.value.field == "num_inference_steps"
