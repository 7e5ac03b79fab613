"""The public API, ``maestro_ai.MusicGenerator``, as issue 3 specifies it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

import maestro_ai
from maestro_core.errors import InputError
from tests.plugins.engine import EXAMPLE_INPUT, EXAMPLE_SECONDS

REQUIRED_KEYS = {"title", "tempo", "key", "time_signature", "duration_seconds", "genre", "mood", "sections",
                 "chord_progression", "instrumentation", "variations", "seed", "sample_rate", "loudness_lufs",
                 "true_peak_dbtp", "sha256", "engine", "engine_version", "midi_path"}


def test_issue_example_call_returns_metadata_and_a_mastered_stereo_wav(example_track: tuple) -> None:
    metadata, audio_path = example_track
    assert set(metadata) >= REQUIRED_KEYS
    assert metadata["tempo"] == 72 and metadata["genre"] == "lofi-chill" and metadata["mood"] == "ambient-focus"
    assert metadata["key"] == "C major"  # inferred from the seed's chords Cmaj7 and G6
    info = soundfile.info(audio_path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (44100, 2, "PCM_16", "WAV")
    assert Path(metadata["midi_path"]).read_bytes().startswith(b"MThd")
    assert abs(metadata["loudness_lufs"] + 14.0) <= 0.5 and metadata["true_peak_dbtp"] <= -1.0
    assert metadata["engine"] == "composer" and metadata["engine_version"]


def test_metadata_is_a_plain_json_serialisable_dict(example_track: tuple) -> None:
    metadata, _ = example_track
    assert json.loads(json.dumps(metadata)) == metadata


def test_title_is_made_from_the_key_phrases(example_track: tuple) -> None:
    metadata, _ = example_track
    phrase_words = {w.lower() for p in EXAMPLE_INPUT["key_phrases"] for w in p.split()}
    assert metadata["title"] and {w.lower() for w in metadata["title"].replace("(", "").replace(")", "").split()} \
        <= phrase_words


def test_track_ends_on_a_bar_line_within_one_bar_of_the_request(example_track: tuple) -> None:
    metadata, audio_path = example_track
    bar_s = 4 * 60.0 / metadata["tempo"]
    bars = metadata["duration_seconds"] / bar_s
    assert abs(bars - round(bars)) < 1e-3
    assert abs(metadata["duration_seconds"] - EXAMPLE_SECONDS) <= bar_s
    assert soundfile.info(audio_path).frames == round(metadata["duration_seconds"] * 44100)


def test_sections_tile_the_track_and_each_has_one_chord_per_bar(example_track: tuple) -> None:
    metadata, _ = example_track
    sections = metadata["sections"]
    assert sections[0]["start_seconds"] == 0.0
    assert sections[-1]["end_seconds"] == pytest.approx(metadata["duration_seconds"], abs=1e-3)
    for before, after in zip(sections, sections[1:], strict=False):
        assert before["end_seconds"] == after["start_seconds"]
    assert list(metadata["chord_progression"]) == [s["name"] for s in sections]
    assert all(len(metadata["chord_progression"][s["name"]]) == s["bars"] for s in sections)


def test_every_instrument_comes_with_alternatives(example_track: tuple) -> None:
    metadata, _ = example_track
    roles = {i["role"] for i in metadata["instrumentation"]}
    assert {"bass", "lead", "drums"} <= roles
    assert all(i["alternatives"] and i["instrument"] not in i["alternatives"] for i in metadata["instrumentation"])


def test_calling_again_without_a_seed_reproduces_the_same_files(example_track: tuple, generated_dir: Path) -> None:
    metadata, audio_path = example_track
    gen = maestro_ai.MusicGenerator(genre="lofi-chill", mood="ambient-focus", output_dir=generated_dir / "again")
    again, again_path = gen.generate_track(dict(EXAMPLE_INPUT), duration_seconds=EXAMPLE_SECONDS)
    assert again["seed"] == metadata["seed"] and again["sha256"] == metadata["sha256"]
    assert Path(again_path).read_bytes() == Path(audio_path).read_bytes()
    assert Path(again["midi_path"]).read_bytes() == Path(metadata["midi_path"]).read_bytes()


def test_each_suggested_variation_reproduces_when_passed_back(example_track: tuple, generated_dir: Path) -> None:
    metadata, _ = example_track
    assert len(metadata["variations"]) >= 3
    assert all(isinstance(v["seed"], int) and v["label"] for v in metadata["variations"])
    faster = next(v for v in metadata["variations"] if "tempo_bpm" in v)
    gen = maestro_ai.MusicGenerator(genre="lofi-chill", mood="ambient-focus", output_dir=generated_dir / "var")
    first, _ = gen.generate_track(dict(EXAMPLE_INPUT), duration_seconds=EXAMPLE_SECONDS, variation=faster)
    second, _ = gen.generate_track(dict(EXAMPLE_INPUT), duration_seconds=EXAMPLE_SECONDS, variation=dict(faster))
    assert first["sha256"] == second["sha256"] != metadata["sha256"]
    assert first["tempo"] == faster["tempo_bpm"] and first["seed"] == faster["seed"]


def _bad(tmp_path: Path, **changes: Any) -> InputError:
    data = {**EXAMPLE_INPUT, **changes.pop("input", {})}
    gen = maestro_ai.MusicGenerator(genre="house", mood="energetic", output_dir=changes.pop("out", tmp_path))
    with pytest.raises(InputError) as caught:
        gen.generate_track(data, **changes)
    return caught.value


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"input": {"tempo_bpm": 29}}, "tempo_bpm", "30..300"),
    ({"input": {"tempo_bpm": 301}}, "tempo_bpm", "30..300"),
    ({"input": {"tempo_bpm": "fast"}}, "tempo_bpm", "number"),
    ({"duration_seconds": 4.5}, "duration_seconds", "5..900"),
    ({"duration_seconds": 901}, "duration_seconds", "5..900"),
    ({"input": {"key_phrases": ["fine", "  "]}}, "key_phrases[1]", "empty"),
    ({"input": {"key_phrases": ["fine", 7]}}, "key_phrases[1]", "string"),
    ({"input": {"key_phrases": "not a list"}}, "key_phrases", "list"),
    ({"input": {"melody_midi": "Cmaj7 Hmaj7"}}, "melody_midi", "'Hmaj7'"),
    ({"input": {"melody_midi": b"MThd\x00\x00\x00\x06\x00\x01\x00\x01"}}, "melody_midi", "malformed"),
    ({"input": {"melody_midi": "no/such/seed.mid"}}, "melody_midi", "does not exist"),
    ({"input": {"key": "H major"}}, "key", "H major"),
    ({"input": {"time_signature": "6/8"}}, "time_signature", "4/4"),
    ({"input": {"instrumentation": {"lead": "Kazooo"}}}, "instrumentation.lead", "General MIDI"),
    ({"input": {"instrumentation": {"violin": "Violin"}}}, "instrumentation", "accepted"),
    ({"input": {"colour": "red"}}, "input_data", "accepted: melody_midi, key_phrases, tempo_bpm"),
    ({"seed": -1}, "seed", "2**63"),
])
def test_bad_input_names_the_field_and_leaves_no_files(tmp_path: Path, changes: dict, field: str, says: str) -> None:
    error = _bad(tmp_path, **changes)
    assert error.field == field and says in str(error)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_directory_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    error = _bad(tmp_path, out=blocker / "tracks", duration_seconds=5)
    assert error.field == "output_dir"


@pytest.mark.parametrize(("genre", "mood", "field", "suggestion"), [
    ("lofy-chill", "dreamy", "genre", "'lofi-chill'"), ("hiphop-x", "dark", "genre", "'hip-hop'"),
    ("jazz", "melancolic", "mood", "'melancholic'"), ("jazz", "", "mood", "accepted"),
])
def test_unknown_genre_or_mood_suggests_the_closest_names(genre: str, mood: str, field: str, suggestion: str) -> None:
    with pytest.raises(InputError) as caught:
        maestro_ai.MusicGenerator(genre=genre, mood=mood)
    assert caught.value.field == field and suggestion in str(caught.value)


def test_flac_output_carries_title_genre_and_tempo_tags(tmp_path: Path) -> None:
    from mutagen.flac import FLAC

    gen = maestro_ai.MusicGenerator(genre="folk", mood="uplifting", output_dir=tmp_path, audio_format="flac")
    metadata, audio_path = gen.generate_track({"tempo_bpm": 100, "key_phrases": []}, duration_seconds=6, seed=3)
    tags = FLAC(audio_path)
    assert tags["title"] == [metadata["title"]] and tags["genre"] == ["folk"] and tags["bpm"] == ["100"]
    assert soundfile.info(audio_path).subtype == "PCM_16"
    assert metadata["audio_format"] == "flac" and audio_path.endswith(".flac")


def test_wav_output_is_tagged_with_title_and_genre(example_track: tuple) -> None:
    metadata, audio_path = example_track
    with soundfile.SoundFile(audio_path) as f:
        assert f.title == metadata["title"] and f.genre == "lofi-chill" and "bpm=72" in f.comment


def test_no_clipped_samples_in_the_mastered_file(example_track: tuple) -> None:
    _, audio_path = example_track
    pcm, _ = soundfile.read(audio_path, dtype="int16")
    assert int(np.abs(pcm.astype(np.int32)).max()) < 32767


def test_importing_and_constructing_the_api_loads_no_heavy_libraries() -> None:
    code = ("import sys, maestro_ai; maestro_ai.MusicGenerator('house', 'dark');"
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'ray', 'pyspark', 'tinysoundfont')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_generate_prints_json_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from maestro_ai.cli import run

    assert run(["generate", "--genre", "techno", "--mood", "dark", "--tempo", "130", "--melody", "Am F",
                "--duration", "6", "--seed", "7", "--out", str(tmp_path), "--json"]) == 0
    metadata = json.loads(capsys.readouterr().out)
    assert metadata["tempo"] == 130 and metadata["seed"] == 7 and Path(metadata["audio_path"]).is_file()


def test_cli_bad_tempo_is_one_line_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from maestro_ai.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["generate", "--genre", "techno", "--mood", "dark", "--tempo", "500", "--out", str(tmp_path)])
    assert caught.value.code == 2
    assert "tempo_bpm" in capsys.readouterr().err


SHORT_REQUEST = {"genre": "synthwave", "mood": "dreamy", "key_phrases": ("neon rain on the highway", "velvet night"),
                 "tempo_bpm": 100, "duration_s": 5, "seed": 11}

# Runs in a fresh interpreter: an engine built without preloading renders a request whose descriptors were
# computed elsewhere, then reports the audio's sha256, its assets and whether the text stack was ever imported.
_WORKER_SIDE = """
import json, sys
from inference.engine import GenerationRequest, get_engine
args = json.loads(sys.argv[1])
engine = get_engine("composer", preload_model=False)
request = GenerationRequest(**{**args["request"], "key_phrases": tuple(args["request"]["key_phrases"])},
                            descriptors=args["descriptors"])
result = engine.generate(request, args["out"])
assets = [a.asset_id for a in engine.assets()]
print(json.dumps({"sha256": result.metadata["sha256"], "descriptors": result.metadata["descriptors"],
                  "assets": assets, "text_stack": sorted(m for m in ("torch", "sentence_transformers")
                                                         if m in sys.modules)}))
"""


def test_precomputed_descriptors_give_byte_identical_audio_and_the_text_model_never_loads(
        composer_engine: Any, tmp_path: Path) -> None:
    from dataclasses import replace

    from inference.descriptors import phrase_descriptors
    from inference.engine import GenerationRequest
    from maestro_core.assets import MODEL_ASSET_ID

    request = GenerationRequest(**SHORT_REQUEST)
    inside = composer_engine.generate(request, tmp_path / "inside")
    precomputed = phrase_descriptors(list(request.key_phrases))
    given = composer_engine.generate(replace(request, descriptors=precomputed), tmp_path / "given")
    assert given.audio_path.read_bytes() == inside.audio_path.read_bytes()
    assert given.midi_path.read_bytes() == inside.midi_path.read_bytes()
    assert given.metadata["descriptors"] == inside.metadata["descriptors"] == precomputed.to_dict()

    args = {"request": SHORT_REQUEST, "descriptors": json.loads(json.dumps(precomputed.to_dict())),
            "out": str(tmp_path / "worker")}
    out = subprocess.run([sys.executable, "-c", _WORKER_SIDE, json.dumps(args)], capture_output=True, text=True,
                         check=True)
    worker = json.loads(out.stdout.strip().splitlines()[-1])
    assert worker["sha256"] == inside.metadata["sha256"]
    assert worker["text_stack"] == []  # neither torch nor sentence-transformers was imported
    assert MODEL_ASSET_ID in worker["assets"]  # provenance still names the model that made the descriptors


def test_descriptors_describe_key_phrases_so_without_phrases_they_change_nothing(composer_engine: Any,
                                                                                 tmp_path: Path) -> None:
    from dataclasses import replace

    from inference.descriptors import Descriptors
    from inference.engine import GenerationRequest

    plain = GenerationRequest(**{**SHORT_REQUEST, "key_phrases": ()})
    without = composer_engine.generate(plain, tmp_path / "without")
    neutral = composer_engine.generate(replace(plain, descriptors=Descriptors()), tmp_path / "neutral")
    assert neutral.audio_path.read_bytes() == without.audio_path.read_bytes()
    assert neutral.metadata["descriptors"] is None


@pytest.mark.parametrize(("descriptors", "field", "says"), [
    ({"brightness": 0.5, "energy": 1.5, "density": 0.5, "mode": 0.5, "colour": 0.5, "texture": 0.5},
     "descriptors.energy", "0..1"),
    ({"brightness": 0.5, "energy": float("nan"), "density": 0.5, "mode": 0.5, "colour": 0.5, "texture": 0.5},
     "descriptors.energy", "0..1"),
    ({"brightness": 0.5, "energy": 0.5, "density": 0.5, "mode": "minor", "colour": 0.5, "texture": 0.5},
     "descriptors.mode", "number"),
    ({"brightness": 0.5, "energy": 0.5}, "descriptors", "missing density"),
    ({"brightness": 0.5, "energy": 0.5, "density": 0.5, "mode": 0.5, "colour": 0.5, "texture": 0.5, "warmth": 1},
     "descriptors", "unknown warmth"),
    ([0.5] * 6, "descriptors", "mapping"),
])
def test_malformed_descriptors_name_the_field_and_leave_no_files(composer_engine: Any, tmp_path: Path,
                                                                 descriptors: Any, field: str, says: str) -> None:
    from inference.engine import GenerationRequest

    with pytest.raises(InputError) as caught:
        composer_engine.generate(GenerationRequest(**SHORT_REQUEST, descriptors=descriptors), tmp_path)
    assert caught.value.field == field and says in str(caught.value)
    assert list(tmp_path.iterdir()) == []
