"""The neural engine shell: prompts, checkpoint checks, model assets, request limits and the OOM back-off.

The back-off runs through a small concrete engine whose ``_render`` writes seeded synthetic audio and raises
``torch.cuda.OutOfMemoryError`` for batches over two requests, standing in for a GPU that runs out of memory
(there is no GPU here); everything after it (tempo/key correction, mastering, encoding, metadata) is real.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.engine import GenerationRequest
from inference.neural.base import (
    NeuralEngine,
    RenderedAudio,
    build_prompt,
    check_model_dir,
    gpu_problem,
    model_asset,
)
from maestro_core.errors import ConfigError, InputError

SETTING = "MAESTRO_FAKE_MODEL"


class SyntheticEngine(NeuralEngine):
    """A neural engine without a network: each request renders a seeded chord with noise, at 32 kHz."""

    name = "musicgen"  # borrows MusicGen's licence for model_asset
    version = "0.0.1"
    setting = SETTING
    architectures = ("SyntheticModel",)
    fits = 2  # largest batch that "fits on the GPU"

    def _load(self, model_dir: Path, device: str, dtype: Any) -> None:
        self.calls: list[int] = []

    def _render(self, requests: Sequence[GenerationRequest]) -> list[RenderedAudio]:
        import torch

        self.calls.append(len(requests))
        if len(requests) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        out = []
        for request, gen in zip(requests, self.generators(requests), strict=True):
            t = np.arange(int(request.duration_s * 32000)) / 32000
            noise = torch.rand(len(t), generator=gen).numpy() - 0.5
            audio = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t) + 0.05 * noise
            out.append(RenderedAudio(audio[None, :].astype(np.float32), 32000))
        return out


def fake_checkpoint(root: Path, architecture: str = "SyntheticModel", weights: bytes = b"w" * 64) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    (root / "model.safetensors").write_bytes(weights)
    return root


def request(seed: int, **kw: Any) -> GenerationRequest:
    fields: dict[str, Any] = {"genre": "lofi chill", "mood": "relaxed", "duration_s": 5.0, "seed": seed}
    return GenerationRequest(**{**fields, **kw})


def test_the_prompt_carries_genre_mood_phrases_bpm_and_key() -> None:
    prompt = build_prompt(request(1, key_phrases=("rain on glass", "late night"), tempo_bpm=84, key="A minor",
                                  instrumentation={"lead": "Flute"}))
    for part in ("lofi chill", "relaxed mood", "rain on glass", "late night", "Flute lead", "84 BPM", "in A minor"):
        assert part in prompt
    assert "BPM" not in build_prompt(request(1))  # no tempo asked, none promised


@pytest.mark.parametrize("case", ["unset", "missing", "no_config", "no_weights", "wrong_architecture"])
def test_an_unusable_checkpoint_directory_is_one_error_naming_the_setting(tmp_path: Path, case: str) -> None:
    path: Path | None = fake_checkpoint(tmp_path / "ckpt")
    if case == "unset":
        path = None
    elif case == "missing":
        path = tmp_path / "nowhere"
    elif case == "no_config":
        (tmp_path / "ckpt" / "config.json").unlink()
    elif case == "no_weights":
        (tmp_path / "ckpt" / "model.safetensors").unlink()
    else:
        fake_checkpoint(tmp_path / "ckpt", architecture="T5ForConditionalGeneration")
    problems = check_model_dir(path, SETTING, "config.json", ("SyntheticModel",))
    assert len(problems) == 1 and problems[0].field == SETTING
    assert str(problems[0]).startswith(f"{SETTING}: ")
    with pytest.raises(ConfigError, match=SETTING):
        SyntheticEngine(model_path=path, allow_cpu=True)


def test_model_asset_hashes_the_weights_and_carries_the_spdx_licence(tmp_path: Path) -> None:
    a = model_asset(fake_checkpoint(tmp_path / "a"), "musicgen")
    same = model_asset(fake_checkpoint(tmp_path / "b"), "musicgen")
    other = model_asset(fake_checkpoint(tmp_path / "c", weights=b"v" * 64), "stable-audio")
    assert a.sha256 == same.sha256 and a.asset_id == same.asset_id == f"asset_model_musicgen_{a.sha256[:12]}"
    assert other.sha256 != a.sha256 and other.asset_id.startswith("asset_model_stable_audio_")
    assert (a.license, other.license) == ("CC-BY-NC-4.0", "LicenseRef-Stability-AI-Community")


def test_a_gpu_engine_without_a_gpu_needs_cpu_fallback(tmp_path: Path) -> None:
    problem = gpu_problem("musicgen", 0, allow_cpu=False)
    assert problem is not None and problem.field == "MAESTRO_ALLOW_CPU_FALLBACK" and "musicgen" in str(problem)
    assert gpu_problem("musicgen", 0, allow_cpu=True) is None and gpu_problem("musicgen", 1, False) is None
    with pytest.raises(ConfigError, match="MAESTRO_ALLOW_CPU_FALLBACK"):
        SyntheticEngine(model_path=fake_checkpoint(tmp_path / "ckpt"), allow_cpu=False, device="cpu")


@pytest.mark.parametrize(("changes", "field"), [({"genre": " "}, "genre"), ({"duration_s": 901}, "duration_seconds"),
                                                 ({"tempo_bpm": 400}, "tempo_bpm"), ({"key": "H minor"}, "key"),
                                                 ({"melody": "C4 E4 G4"}, "melody"), ({"seed": -1}, "seed"),
                                                 ({"audio_format": "mp3"}, "audio_format")])
def test_bad_requests_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        SyntheticEngine.check_request(request(**{"seed": 1, **changes}))
    assert caught.value.field == field


def test_out_of_memory_halves_the_batch_retries_and_records_it(tmp_path: Path) -> None:
    engine = SyntheticEngine(model_path=fake_checkpoint(tmp_path / "ckpt"), allow_cpu=True, batch_size=4)
    requests = [request(s) for s in (1, 2, 3, 4)] + [request(5, genre="")]
    results = engine.generate_batch(requests, tmp_path / "out")
    assert isinstance(results[-1], InputError) and results[-1].field == "genre"  # a bad item fails alone
    tracks = results[:4]
    assert engine.calls == [4, 2, 2]  # 4 failed, then two halves
    for track in tracks:
        assert not isinstance(track, Exception)
        assert track.metadata["provenance_extra"]["batch"] == {"requested_size": 4, "batch_size": 2,
                                                               "oom_backoffs": 1}
        assert track.metadata["model"]["batch_size"] == 2 and track.audio_path.is_file()
    assert engine.batch_size == 2  # what fitted sticks for the next batches
    # the back-off changes nothing in the audio: each item alone gives the same bytes
    alone = engine.generate(requests[2], tmp_path / "alone")
    assert alone.metadata["sha256"] == tracks[2].metadata["sha256"]
    assert len({t.metadata["sha256"] for t in tracks}) == 4


def test_an_error_other_than_out_of_memory_fails_its_batch_without_retrying(tmp_path: Path) -> None:
    engine = SyntheticEngine(model_path=fake_checkpoint(tmp_path / "ckpt"), allow_cpu=True, batch_size=3)
    engine.fits = 0

    def broken(requests: Sequence[GenerationRequest]) -> list[RenderedAudio]:
        engine.calls.append(len(requests))
        raise RuntimeError("device lost")

    engine._render = broken  # type: ignore[method-assign]
    results = engine.generate_batch([request(1), request(2)], tmp_path / "out")
    assert engine.calls == [2] and all(isinstance(r, RuntimeError) for r in results)
