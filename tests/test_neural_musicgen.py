"""The MusicGen engine on a tiny random checkpoint (tests/plugins/neural.py), loaded through the production path.

The model is random, so its audio is noise: these tests check mechanics (batching, seeds, windows and seams,
the OOM back-off, files and metadata, error messages), not music. The session engine uses 2 s windows with a
0.5 s overlap so that a few seconds of audio already cross several seams.

Tolerance for "a batch equals its items alone": the text prompts of a batch are padded, and padded, batched
matmuls round differently from unbatched ones, so raw audio may differ by float rounding (measured 7e-8). 1e-4
(peak, on audio of amplitude ~0.1) is far below the ~5e-3 that separates two seeds or two prompts here (the
random EnCodec decoder is dominated by its biases). Tokens are sampled per item from the item's own generator,
so they do not depend on the batch at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from inference.engine import GenerationRequest
from inference.neural.musicgen import MusicGenEngine
from inference.neural.stitch import seam_jumps
from maestro_ai.cli import run
from maestro_core.errors import ConfigError, InputError

TOLERANCE = 1e-4
# The metadata keys every track has (``MusicGenerator.generate_track``), for any engine.
TRACK_KEYS = ("title", "tempo", "key", "time_signature", "duration_seconds", "genre", "mood", "sections",
              "chord_progression", "instrumentation", "variations", "seed", "sample_rate", "audio_format",
              "loudness_lufs", "true_peak_dbtp", "sha256", "engine", "engine_version", "audio_path", "midi_path")


def request(seed: int, **kw: Any) -> GenerationRequest:
    fields: dict[str, Any] = {"genre": "lofi chill", "mood": "relaxed", "duration_s": 5.0, "seed": seed}
    return GenerationRequest(**{**fields, **kw})


@pytest.fixture(scope="module")
def batch(musicgen_engine: MusicGenEngine) -> tuple[list[GenerationRequest], list[Any]]:
    """Three 2 s requests (two windows each) of different prompt lengths, rendered in one batch."""
    requests = [request(1, duration_s=2.0, key_phrases=("rain on a window at night",), tempo_bpm=84, key="A minor"),
                request(2, duration_s=2.0, genre="house", mood="energetic"),
                request(1, duration_s=2.0, genre="ambient", mood="calm", key_phrases=("slow tide",))]
    return requests, musicgen_engine._render(requests)


def test_a_batch_gives_each_item_the_audio_it_gets_alone(musicgen_engine: MusicGenEngine, batch: Any) -> None:
    requests, rendered = batch
    for req, together in zip(requests, rendered, strict=True):
        (alone,) = musicgen_engine._render([req])
        assert alone.audio.shape == together.audio.shape
        assert np.abs(alone.audio - together.audio).max() < TOLERANCE
    assert np.abs(rendered[0].audio - rendered[2].audio).max() > 10 * TOLERANCE  # same seed, other prompt
    assert np.abs(rendered[0].audio - rendered[1].audio).max() > 10 * TOLERANCE


def test_windows_stitch_to_the_planned_length_without_a_jump_at_the_seams(musicgen_engine: MusicGenEngine,
                                                                          batch: Any) -> None:
    _, rendered = batch
    plan = musicgen_engine.window_plan(2.0 * 1.08)  # 2 s plus the margin kept for tempo correction
    assert plan[0] == 100 and len(plan) == 2  # a 2 s window at 50 frames/s, then a continuation
    for raw in rendered:
        assert raw.audio.shape == (1, sum(plan) * musicgen_engine.hop)
        assert raw.extra["windows"] == len(plan) and len(raw.seams) == len(plan) - 1
        for jump in seam_jumps(raw.audio, raw.sample_rate, raw.seams, window_s=0.2):
            assert abs(jump["loudness_jump_db"]) < 1.0
            assert 0.8 < jump["centroid_jump_ratio"] < 1.25


def test_out_of_memory_halves_the_batch_and_changes_no_audio(musicgen_engine: MusicGenEngine, batch: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    requests, rendered = batch
    model, real_generate, sizes = musicgen_engine._model, musicgen_engine._model.generate, []

    def generate_on_a_small_gpu(**kwargs: Any) -> Any:  # simulated: there is no GPU here
        sizes.append(kwargs["input_ids"].shape[0])
        if kwargs["input_ids"].shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", generate_on_a_small_gpu)
    monkeypatch.setattr(musicgen_engine, "batch_size", 4)
    out, backoffs, size = musicgen_engine._render_with_backoff(requests[:2])
    assert (backoffs, size, musicgen_engine.batch_size) == (1, 1, 1)
    assert sizes[0] == 2 and set(sizes[1:]) == {1}
    for raw, before in zip(out, rendered[:2], strict=True):
        assert np.abs(raw.audio - before.audio).max() < TOLERANCE


def test_a_track_is_reproducible_by_seed_to_the_byte(musicgen_engine: MusicGenEngine, tmp_path: Path) -> None:
    first = musicgen_engine.generate(request(7, tempo_bpm=90, key="A minor"), tmp_path / "a")
    again = musicgen_engine.generate(request(7, tempo_bpm=90, key="A minor"), tmp_path / "b")
    assert first.audio_path.read_bytes() == again.audio_path.read_bytes()
    meta = first.metadata
    assert meta["duration_seconds"] == 5.0 and meta["engine"] == "musicgen"
    stitch = meta["provenance_extra"]["stitch"]
    assert stitch["windows"] == 4 and all(0 < s < 5.0 for s in stitch["seams_seconds"])
    assert meta["correction"]["target_bpm"] == 90.0 and meta["correction"]["target_key"] == "A minor"


@pytest.mark.parametrize("case", ["missing", "no_config", "no_weights", "wrong_architecture"])
def test_a_bad_checkpoint_is_refused_naming_maestro_musicgen_model(tiny_musicgen_dir: Path, tmp_path: Path,
                                                                  case: str) -> None:
    bad = tmp_path / "ckpt"
    if case != "missing":
        bad.mkdir()
        for f in tiny_musicgen_dir.iterdir():
            (bad / f.name).write_bytes(f.read_bytes())
    if case == "no_config":
        (bad / "config.json").unlink()
    elif case == "no_weights":
        (bad / "model.safetensors").unlink()
    elif case == "wrong_architecture":
        config = json.loads((bad / "config.json").read_text())
        (bad / "config.json").write_text(json.dumps({**config, "architectures": ["T5ForConditionalGeneration"]}))
    (problem,) = MusicGenEngine.check(model_path=bad)
    assert problem.field == "MAESTRO_MUSICGEN_MODEL"
    with pytest.raises(ConfigError, match="^MAESTRO_MUSICGEN_MODEL: "):
        MusicGenEngine(model_path=bad, allow_cpu=True)


def test_hybrid_mode_needs_a_melody_checkpoint(tiny_musicgen_dir: Path) -> None:
    (problem,) = MusicGenEngine.check(model_path=tiny_musicgen_dir, melody_source="composer")
    assert problem.field == "MAESTRO_MELODY_SOURCE" and "MusicgenMelody" in str(problem)
    (problem,) = MusicGenEngine.check(model_path=tiny_musicgen_dir, melody_source="guitar")
    assert problem.field == "MAESTRO_MELODY_SOURCE"


def test_maestro_generate_engine_musicgen_writes_a_track_with_full_metadata(
        tiny_musicgen_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MAESTRO_MUSICGEN_MODEL", str(tiny_musicgen_dir))
    monkeypatch.setenv("MAESTRO_ALLOW_CPU_FALLBACK", "true")
    code = run(["generate", "--engine", "musicgen", "--genre", "lofi chill", "--mood", "relaxed", "--phrase",
                "rain at night", "--tempo", "90", "--key", "A minor", "--duration", "5", "--seed", "11",
                "--out", str(tmp_path), "--json"])
    assert code == 0
    meta = json.loads(capsys.readouterr().out)
    assert set(TRACK_KEYS) <= set(meta)
    assert (meta["engine"], meta["genre"], meta["seed"], meta["duration_seconds"]) == ("musicgen", "lofi chill", 11,
                                                                                       5.0)
    assert meta["model"]["sha256"] and meta["model"]["license"] == "CC-BY-NC-4.0"
    assert {"dtype", "device", "batch_size", "guidance_scale", "sampler"} <= set(meta["model"])
    assert "90 BPM" in meta["prompt"] and "in A minor" in meta["prompt"]
    audio, sr = soundfile.read(meta["audio_path"])
    assert sr == 44100 and audio.shape == (5 * 44100, 2)
    assert abs(meta["loudness_lufs"] + 14.0) < 0.5 and meta["true_peak_dbtp"] <= -1.0
    import hashlib

    assert hashlib.sha256(Path(meta["audio_path"]).read_bytes()).hexdigest() == meta["sha256"]


def test_maestro_generate_names_the_setting_when_the_checkpoint_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MAESTRO_MUSICGEN_MODEL", str(tmp_path / "nowhere"))
    code = run(["generate", "--engine", "musicgen", "--genre", "lofi chill", "--mood", "relaxed", "--duration", "5",
                "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "MAESTRO_MUSICGEN_MODEL" in err[0] and "Traceback" not in err[0]


@pytest.fixture(scope="module")
def melody_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MusicGen-Melody written by ``maestro engines make-test-model`` (as an operator would)."""
    out = tmp_path_factory.mktemp("melody") / "musicgen-melody-tiny"
    assert run(["engines", "make-test-model", "musicgen-melody", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def hybrid_engine(melody_checkpoint: Path) -> MusicGenEngine:
    assert MusicGenEngine.check(model_path=melody_checkpoint, melody_source="composer") == []
    return MusicGenEngine(model_path=melody_checkpoint, allow_cpu=True, melody_source="composer", window_s=2.0,
                          overlap_s=0.5)


def test_hybrid_mode_keeps_the_composer_plan_and_writes_its_midi(hybrid_engine: MusicGenEngine,
                                                                 tmp_path: Path) -> None:
    req = request(3, genre="lofi-chill", mood="ambient-focus", tempo_bpm=80, key="D minor", melody="Dm7 G7 Cmaj7")
    track = hybrid_engine.generate(req, tmp_path)
    plan = hybrid_engine._composer.compose(req).plan
    meta = track.metadata
    assert (meta["tempo"], meta["key"]) == (80.0, "D minor")  # the plan's exact tempo and key
    assert [s["name"] for s in meta["sections"]] == [s.name for s in plan.sections]
    assert meta["chord_progression"] and meta["variations"] and meta["melody_seed_sha256"]
    assert meta["duration_seconds"] == pytest.approx(plan.sections[-1].end_bar * plan.beats_per_bar * 60 / 80,
                                                     abs=0.01)  # ends on the plan's last bar line
    assert meta["model"]["architecture"] == "MusicgenMelodyForConditionalGeneration"
    assert track.midi_path is not None and track.midi_path.read_bytes()[:4] == b"MThd"
    assert meta["provenance_extra"]["stitch"]["conditioning"].startswith("composer guide chroma")


def test_hybrid_mode_refuses_a_genre_the_composer_has_no_preset_for(hybrid_engine: MusicGenEngine,
                                                                   tmp_path: Path) -> None:
    (result,) = hybrid_engine.generate_batch([request(3, genre="sea shanty polka", mood="ambient-focus")], tmp_path)
    assert isinstance(result, InputError) and result.field == "genre"
    assert not list(tmp_path.iterdir())


def test_a_stereo_checkpoint_continues_both_channels(tmp_path: Path) -> None:
    from inference.neural.testmodel import write_tiny_musicgen

    engine = MusicGenEngine(model_path=write_tiny_musicgen(tmp_path / "stereo", stereo=True), allow_cpu=True,
                            window_s=2.0, overlap_s=0.5)
    (raw,) = engine._render([request(4, duration_s=2.0)])
    assert raw.audio.shape == (2, sum(engine.window_plan(2.0 * 1.08)) * engine.hop) and len(raw.seams) == 1
    assert np.abs(raw.audio[0] - raw.audio[1]).max() > 10 * TOLERANCE  # two channels, not one copied
