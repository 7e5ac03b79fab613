"""The ``composer`` engine: rule-based composition, SoundFont rendering, genre effects and mastering.

Heavy parts load once per instance and are shared process-wide (the SoundFont cache in :mod:`inference.render`,
the embedding model cache in :mod:`inference.descriptors`); build it through ``inference.engine.get_engine``.
``generate`` is a pure function of (request, seed, engine version, assets): same inputs, same bytes. A request's
key phrases become descriptors through the text model, or arrive precomputed in ``GenerationRequest.descriptors``
(a batch driver computes them once per prompt): both give the same, 4-decimal values, so the same audio bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from inference.composer.arrangement import Arrangement, arrange
from inference.composer.midi_input import SeedMaterial, parse_seed
from inference.composer.plan import (
    DURATION_RANGE,
    TEMPO_RANGE,
    Plan,
    check_instrumentation,
    check_number,
    make_plan,
    parse_metre,
)
from inference.descriptors import AXES
from inference.engine import (
    AssetUse,
    GenerationRequest,
    GenerationResult,
    check_seed_and_output,
    file_slug,
    lap,
)
from maestro_core.errors import ConfigError, InputError
from maestro_core.limits import check_key_phrases

logger = logging.getLogger(__name__)

ENGINE_NAME = "composer"
ENGINE_VERSION = "1.1.0"  # 1.1: genre production (synth stems, FluidR3 kits); keys TRACK_ID


@dataclass(frozen=True)
class Composition:
    """A composed piece before audio: the plan, the arrangement, its MIDI bytes and the descriptors used."""

    plan: Plan
    arrangement: Arrangement
    midi: bytes
    descriptors: dict[str, float] | None
    seed_material: SeedMaterial | None


class ComposerEngine:
    """Generates mastered tracks without model weights or a GPU.

    Args:
        soundfont_path: a General MIDI .sf2; None means MAESTRO_SOUNDFONT_PATH, else FluidR3_GM (MIT), else
            TimGM6mb (GPL-2.0-only, with a warning).
        embedding_model_path: a sentence-transformers model directory; None means the bundled all-MiniLM-L6-v2.
        preload_model: load the embedding model now (a few seconds, once per process) rather than on the first
            request with key phrases, so that request latencies stay even. False suits workers whose requests
            carry precomputed ``descriptors``: they never load it.

    Raises:
        ConfigError: ``soundfont_path`` or ``embedding_model_path`` cannot be loaded.
    """

    name = ENGINE_NAME
    version = ENGINE_VERSION

    @classmethod
    def asset_ids(cls, soundfont_path: str | Path | None = None, **_: Any) -> tuple[str, ...]:
        """The ASSETS ids the gate checks: the engine's source, the default embedding model, Maestro's synthesis and
        the SoundFont in use (``soundfont_path``, else ``MAESTRO_SOUNDFONT_PATH``, else FluidR3_GM, else TimGM6mb:
        see :func:`maestro_core.assets.resolve_soundfont`). A configured file the registry does not know has an
        id of its own, so it needs a LICENSES row of its own.
        """
        from maestro_core import assets as asset_registry

        return tuple(sorted((asset_registry.ENGINE_ASSET_ID, asset_registry.MODEL_ASSET_ID,
                             asset_registry.SYNTH_ASSET_ID, asset_registry.soundfont_asset_id(soundfont_path))))

    @classmethod
    def style(cls, genre: str, mood: str) -> tuple[str, str]:
        """The preset names for ``genre`` and ``mood`` (aliases and spelling resolved).

        Raises:
            InputError: naming ``genre`` or ``mood``, with the closest preset names.
        """
        from inference.composer.presets import get_genre, get_mood

        return get_genre(genre).name, get_mood(mood).name

    def __init__(self, soundfont_path: str | Path | None = None,
                 embedding_model_path: str | Path | None = None, preload_model: bool = True) -> None:
        from inference.composer.gm import program_name
        from inference.composer.presets import GENRES
        from inference.heap import keep_freed_memory
        from inference.render import load_soundfont
        from inference.soundfont import needed_presets

        keep_freed_memory()  # whole-track buffers are reused between tracks, not faulted in afresh (~15 %)
        self._font, self._font_info = load_soundfont(soundfont_path, needed_presets(GENRES.values(), program_name))
        self._model_path = embedding_model_path
        if preload_model:
            self.preload()

    @staticmethod
    def check(soundfont_path: str | Path | None = None, embedding_model_path: str | Path | None = None,
              **_: Any) -> list[ConfigError]:
        """What would stop this engine from building with these options, found in milliseconds (nothing loaded):
        the SoundFont must be a readable SoundFont file, the text model directory must hold its weights.
        """
        from inference.composer.gm import program_name
        from inference.composer.presets import GENRES
        from inference.descriptors import model_weights_problem
        from inference.soundfont import needed_presets, soundfont_problem

        font_problem = soundfont_problem(soundfont_path, needed_presets(GENRES.values(), program_name))
        return [p for p in (font_problem, model_weights_problem(embedding_model_path)) if p]

    def preload(self) -> None:
        """Loads the embedding model now (a few seconds once per process; later calls cost nothing)."""
        self._descriptors(("warm up",), None)

    def assets(self) -> list[AssetUse]:
        """Every file a track depends on, each with its sha256 and SPDX licence: the SoundFont (FluidR3_GM MIT, or
        the TimGM6mb GPL-2.0-only fallback, or a configured file's NOASSERTION), Maestro's own synthesis, the
        embedding model's weights and the engine's own source."""
        from inference.descriptors import model_provenance
        from maestro_core import assets as asset_registry

        model = model_provenance(self._model_path)
        model_id = asset_registry.MODEL_ASSET_ID if self._model_path is None else "asset_model_custom"
        engine_dir = Path(__file__).resolve().parent
        font = self._font_info
        return [
            AssetUse(font.asset_id, font.path, font.sha256, font.license),
            AssetUse(asset_registry.SYNTH_ASSET_ID, str(asset_registry.synth_dir()), asset_registry.synth_sha256(),
                     asset_registry.PROJECT_LICENSE),
            AssetUse(model_id, str(Path(model.path) / model.weights_file), model.sha256, "Apache-2.0"),
            AssetUse(asset_registry.ENGINE_ASSET_ID, str(engine_dir), asset_registry.sha256_file(engine_dir),
                     asset_registry.PROJECT_LICENSE),
        ]

    def compose(self, request: GenerationRequest) -> Composition:
        """Validate ``request`` and compose it (plan, arrangement, MIDI); no audio.

        Raises:
            InputError: naming the offending field.
        """
        request = validate(request)
        seed_material = parse_seed(request.melody) if request.melody is not None else None
        # validate() turned any given descriptors into a plain dict of the six axes
        descriptors = self._descriptors(request.key_phrases, cast("dict[str, float] | None", request.descriptors))
        rng = np.random.default_rng(np.random.SeedSequence([request.seed, 0xC0FFEE]))
        plan = make_plan(request, seed_material, descriptors, rng)
        arrangement = arrange(plan, seed_material, rng)
        from inference.composer.midi_output import midi_bytes

        return Composition(plan, arrangement, midi_bytes(arrangement, plan.title), descriptors, seed_material)

    def generate(self, request: GenerationRequest, output_dir: str | Path,
                 progress: Callable[[str, float], None] | None = None) -> GenerationResult:
        """Compose, render, add effects, master and write ``<stem>.wav|flac`` and ``<stem>.mid`` atomically.

        Args:
            request: what to generate.
            output_dir: directory for the audio and MIDI files (created if missing).
            progress: called after each stage with its name and duration in seconds (for progress displays).

        Raises:
            InputError: a request field is invalid, or ``output_dir`` is not a writable directory.
        """
        from inference.composer.production import render_mix
        from inference.effects import apply_effects
        from inference.encode import encode_audio, write_atomic
        from inference.master import master

        timings: dict[str, float] = {}
        t = time.perf_counter()
        request = validate(request)
        out_dir = writable_dir(output_dir)
        comp = self.compose(request)
        plan = comp.plan
        t = lap(timings, "compose", t, progress)
        audio = render_mix(comp.arrangement, self._font, request.sample_rate, request.seed)
        t = lap(timings, "render", t, progress)
        feel = plan.feel
        audio = apply_effects(audio, plan.genre.effects, request.sample_rate, feel.brightness, feel.texture,
                              feel.space, seed=request.seed)
        t = lap(timings, "effects", t, progress)
        mastered = master(audio, request.sample_rate)
        t = lap(timings, "master", t, progress)
        tags = {"title": plan.title, "genre": plan.genre.name, "artist": "Maestro composer",
                "comment": f"bpm={plan.tempo_bpm:g}; key={plan.key.name}; mood={plan.mood.name}; seed={request.seed}",
                "software": f"maestro {ENGINE_NAME} {ENGINE_VERSION}", "bpm": f"{plan.tempo_bpm:g}"}
        data = encode_audio(mastered.pcm, request.sample_rate, request.audio_format, tags)
        stem = out_dir / f"{file_slug(plan.title)}-{request_digest(request)[:12]}"
        audio_path, midi_path = stem.with_suffix(f".{request.audio_format}"), stem.with_suffix(".mid")
        try:
            write_atomic({audio_path: data, midi_path: comp.midi})
        except OSError as exc:
            raise InputError("output_dir", f"cannot write to {out_dir}: {exc.strerror or exc}") from None
        lap(timings, "encode", t, progress)
        metadata = build_metadata(comp, request, mastered, hashlib.sha256(data).hexdigest(), audio_path, midi_path)
        return GenerationResult(metadata, audio_path, midi_path, timings, audio_bytes=data)

    def _descriptors(self, phrases: tuple[str, ...], given: dict[str, float] | None) -> dict[str, float] | None:
        """The phrases' descriptors: ``given`` (validated by ``validate``) when precomputed, else from the model."""
        if not phrases:
            return None
        if given is not None:
            return dict(given)
        from inference.descriptors import phrase_descriptors

        return phrase_descriptors(list(phrases), model_path=self._model_path).to_dict()


def validate(request: GenerationRequest) -> GenerationRequest:
    """Check every field of ``request`` but the melody seed; returns it with numbers normalised.

    Cheap and free of I/O: it loads no SoundFont or text model, so callers may run it before building an engine
    (``MusicGenerator.check``). The melody seed is checked by :func:`inference.composer.midi_input.parse_seed`.

    Raises:
        InputError: naming the offending field.
    """
    from dataclasses import replace

    from inference.composer.presets import get_genre, get_mood
    from inference.composer.theory import parse_key

    genre = get_genre(request.genre)
    get_mood(request.mood)
    tempo = None if request.tempo_bpm is None else check_number("tempo_bpm", request.tempo_bpm, *TEMPO_RANGE, "BPM")
    duration = check_number("duration_seconds", request.duration_s, *DURATION_RANGE, "seconds")
    phrases = check_key_phrases(request.key_phrases)
    if request.key is not None:
        parse_key(request.key)
    parse_metre(request.time_signature)
    check_instrumentation(request.instrumentation, genre)
    seed, fmt = check_seed_and_output(request)
    descriptors = check_descriptors(request.descriptors)
    return replace(request, tempo_bpm=tempo, duration_s=duration, key_phrases=phrases, seed=seed, audio_format=fmt,
                   descriptors=descriptors)


def check_request(request: GenerationRequest) -> GenerationRequest:
    """The whole request checked, the melody seed parsed too, without building an engine (no SoundFont, no model).

    Returns the request as :func:`validate` normalises it.

    Raises:
        InputError: naming the offending field.
    """
    request = validate(request)
    if request.melody is not None:
        parse_seed(request.melody)
    return request


def check_descriptors(value: object) -> dict[str, float] | None:
    """Precomputed descriptors as a plain dict in ``AXES`` order, each rounded to 4 decimals (as the text model's).

    Accepts None, an ``inference.descriptors.Descriptors`` or a mapping of exactly the six axes to numbers in
    [0, 1]; raises InputError naming ``descriptors`` or ``descriptors.<axis>`` otherwise.
    """
    if value is None:
        return None
    to_dict = getattr(value, "to_dict", None)
    mapping = to_dict() if callable(to_dict) else value
    if not isinstance(mapping, Mapping):
        raise InputError("descriptors", f"must be a Descriptors or a mapping of {', '.join(AXES)} to numbers, "
                                        f"got {type(value).__name__}")
    names = {str(k) for k in mapping}
    if names != set(AXES):
        missing, extra = [a for a in AXES if a not in names], sorted(names - set(AXES))
        problem = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                        f"unknown {', '.join(extra)}" if extra else "") if p)
        raise InputError("descriptors", f"{problem}; accepted: exactly {', '.join(AXES)}")
    out = {}
    for axis in AXES:
        number = mapping[axis]
        if isinstance(number, bool) or not isinstance(number, int | float | np.integer | np.floating) \
                or not 0.0 <= float(number) <= 1.0:
            raise InputError(f"descriptors.{axis}", f"must be a number in 0..1, got {number!r}")
        out[axis] = round(float(number), 4)
    return out


def writable_dir(path: str | Path) -> Path:
    """``path`` created if needed and checked writable; InputError on field ``output_dir`` otherwise."""
    out = Path(path).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("output_dir", f"cannot create {out}: {exc.strerror or exc}") from None
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise InputError("output_dir", f"{out} is not a writable directory")
    return out.resolve()


def request_digest(request: GenerationRequest) -> str:
    """sha256 of the request's canonical JSON plus the engine version: names files deterministically."""
    melody = request.melody
    if isinstance(melody, bytes | bytearray):
        melody = "sha256:" + hashlib.sha256(melody).hexdigest()
    elif isinstance(melody, Path) or (isinstance(melody, str) and melody.lower().endswith((".mid", ".midi"))):
        try:
            melody = "sha256:" + hashlib.sha256(Path(melody).read_bytes()).hexdigest()
        except OSError:
            melody = str(melody)
    payload = {"engine": [ENGINE_NAME, ENGINE_VERSION], "genre": request.genre, "mood": request.mood,
               "key_phrases": list(request.key_phrases), "tempo_bpm": request.tempo_bpm, "key": request.key,
               "time_signature": request.time_signature, "duration_s": request.duration_s, "melody": melody,
               "instrumentation": dict(request.instrumentation or {}), "seed": request.seed,
               "sample_rate": request.sample_rate, "audio_format": request.audio_format}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def build_metadata(comp: Composition, request: GenerationRequest, mastered: Any, sha256: str, audio_path: Path,
                   midi_path: Path) -> dict[str, Any]:
    """The plain, JSON-serialisable metadata dict promised by ``MusicGenerator.generate_track``."""
    from inference.composer.gm import DRUM_KITS, program_name
    from inference.composer.variations import suggest_variations

    plan, arrangement = comp.plan, comp.arrangement
    bar_ticks = plan.beats_per_bar * arrangement.ticks_per_beat
    kits = {v: k for k, v in DRUM_KITS.items()}
    instrumentation = []
    for v in plan.voices:
        name = (lambda p: f"{kits.get(p, 'standard')} drum kit") if v.is_drum else program_name
        instrumentation.append({"role": v.role, "instrument": name(v.program), "program": v.program,
                                "alternatives": [name(p) for p in v.alternatives]})
    sections = [{"name": s.name, "kind": s.kind, "start_bar": s.start_bar, "bars": s.bars, "energy": s.energy,
                 "start_seconds": round(arrangement.seconds(s.start_bar * bar_ticks), 3),
                 "end_seconds": round(arrangement.seconds(s.end_bar * bar_ticks), 3)} for s in plan.sections]
    frames = mastered.pcm.shape[0]
    return {
        "title": plan.title, "tempo": plan.tempo_bpm, "key": plan.key.name, "time_signature": plan.time_signature,
        "duration_seconds": round(frames / request.sample_rate, 3), "genre": plan.genre.name, "mood": plan.mood.name,
        "sections": sections,
        "chord_progression": {s.name: [c.symbol for c in chords] for s, chords in zip(plan.sections, plan.chords,
                                                                                      strict=True)},
        "instrumentation": instrumentation,
        "variations": suggest_variations(plan, request),
        "seed": request.seed, "sample_rate": request.sample_rate, "audio_format": request.audio_format,
        "loudness_lufs": mastered.loudness_lufs, "true_peak_dbtp": mastered.true_peak_dbtp, "sha256": sha256,
        "engine": ENGINE_NAME, "engine_version": ENGINE_VERSION,
        "audio_path": str(audio_path), "midi_path": str(midi_path),
        "key_phrases": list(request.key_phrases), "descriptors": comp.descriptors,
        "feel": {k: round(float(v), 4) for k, v in vars(plan.feel).items()},
        "melody_seed_sha256": comp.seed_material.sha256 if comp.seed_material else None,
        "bars": plan.total_bars,
    }

