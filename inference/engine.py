"""The engine interface every music engine implements, and the registry that builds one engine per process.

An engine turns a :class:`GenerationRequest` into a mastered audio file, a MIDI file (where it has one) and a
metadata dict. Engines load their heavy parts (SoundFont, models) once per process: ``get_engine`` caches
instances, so a Ray actor or a CLI process builds one engine and serves many requests with it.

Usage::

    from inference.engine import GenerationRequest, get_engine
    engine = get_engine("composer")
    result = engine.generate(GenerationRequest(genre="house", mood="energetic", seed=7, duration_s=30),
                             output_dir="out/")
    result.metadata["sha256"], result.audio_path, result.midi_path

Text understanding can happen elsewhere: a batch driver computes ``phrase_descriptors(key_phrases)`` once per
prompt and passes them as ``GenerationRequest.descriptors``; a worker built with
``get_engine("composer", preload_model=False)`` then renders without ever loading the text model.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from maestro_core.errors import ConfigError, InputError

if TYPE_CHECKING:
    from inference.descriptors import Descriptors

# name -> "module:Class". Engines import lazily so that listing them costs nothing.
ENGINES: dict[str, str] = {"composer": "inference.composer.engine:ComposerEngine",
                           "musicgen": "inference.neural.musicgen:MusicGenEngine",
                           "stable-audio": "inference.neural.stable_audio:StableAudioEngine"}
AUDIO_FORMATS = ("wav", "flac")
SAMPLE_RATES = (22050, 32000, 44100, 48000)
STAGES = ("compose", "render", "effects", "master", "encode")
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class GenerationRequest:
    """One track to generate. Validation happens in the engine, which names the offending field.

    Attributes:
        genre: genre preset name, e.g. ``'lofi-chill'``.
        mood: mood preset name, e.g. ``'ambient-focus'``.
        key_phrases: short descriptive phrases, mapped to musical descriptors.
        tempo_bpm: tempo in beats per minute (30..300); None lets the genre and mood choose.
        key: e.g. ``'A minor'`` or ``'Bb major'``; None infers it from the seed, else from mood and phrases.
        time_signature: ``'N/4'`` with N in 2..7; None means 4/4.
        duration_s: requested length in seconds (5..900); the track ends on the nearest bar line.
        melody: seed as a ``.mid`` path, MIDI bytes or a chord/note string such as ``'Cmaj7 G6 Am7'``.
        instrumentation: role -> GM program number or name, e.g. ``{'lead': 'Flute'}``.
        seed: random seed (0 .. 2**63-1); the same request and seed give byte-identical files.
        sample_rate: output sample rate in Hz.
        audio_format: ``'wav'`` (16-bit PCM) or ``'flac'`` (16-bit).
        descriptors: the key phrases' musical descriptors computed in advance, i.e.
            ``inference.descriptors.phrase_descriptors(key_phrases)`` as a ``Descriptors`` or a mapping of its six
            axes (brightness, energy, density, mode, colour, texture) to floats in [0, 1]. When given, the engine
            uses them and never loads the text model; None computes them inside (lazily loading the model). They
            describe the key phrases, so they are ignored when there are none (as computed ones would be), and
            the audio is byte-identical either way.
    """

    genre: str
    mood: str
    key_phrases: tuple[str, ...] = ()
    tempo_bpm: float | None = None
    key: str | None = None
    time_signature: str | None = None
    duration_s: float = 180.0
    melody: str | bytes | Path | None = None
    instrumentation: Mapping[str, Any] | None = None
    seed: int = 0
    sample_rate: int = 44100
    audio_format: str = "wav"
    descriptors: Descriptors | Mapping[str, float] | None = None


@dataclass(frozen=True)
class GenerationResult:
    """What an engine hands back.

    Attributes:
        metadata: the plain, JSON-serialisable track metadata (see ``MusicGenerator.generate_track``).
        audio_path: the mastered audio file.
        midi_path: the arrangement as a Standard MIDI File, or None for engines without one.
        timings: wall-clock seconds per stage (``compose``, ``render``, ``effects``, ``master``, ``encode``).
        audio_bytes: the bytes written to ``audio_path``, held in memory so that a caller that goes on with them
            (a pipeline worker: QC, signing, storage) need not read the file back; None when the engine does not
            keep them.
    """

    metadata: dict[str, Any]
    audio_path: Path
    midi_path: Path | None
    timings: dict[str, float] = field(default_factory=dict)
    audio_bytes: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AssetUse:
    """A file an engine relies on, for provenance: asset id (as in the ASSETS table), path and sha256."""

    asset_id: str
    path: str
    sha256: str
    license: str = ""


@runtime_checkable
class Engine(Protocol):
    """A music engine: builds once per process, then generates many tracks."""

    name: str
    version: str

    @classmethod
    def style(cls, genre: str, mood: str) -> tuple[str, str]:
        """The canonical (genre, mood) names this engine renders for the given ones, without building it.

        Raises:
            InputError: naming ``genre`` or ``mood`` (with the accepted names) when the engine has no such style.
        """
        ...

    @classmethod
    def asset_ids(cls) -> tuple[str, ...]:
        """The ASSET_IDs (rows of ASSETS) this engine's output depends on, for the rights gate, without building it."""
        ...

    def assets(self) -> list[AssetUse]:
        """The files this engine's output depends on (SoundFont, models), with their sha256."""
        ...

    def generate(self, request: GenerationRequest, output_dir: str | Path,
                 progress: Callable[[str, float], None] | None = None) -> GenerationResult:
        """Generate one track into ``output_dir``; raise InputError naming the field for bad requests.

        ``progress``, when given, is called after each stage (see ``STAGES``) with its duration in seconds.
        """
        ...



def check_seed_and_output(request: GenerationRequest) -> tuple[int, str]:
    """The request's seed and output format checked, the same for every engine: ``(seed, audio_format)`` with the
    format lower-cased.

    Raises:
        InputError: naming ``seed`` (not an integer 0..2**63-1), ``sample_rate`` or ``audio_format``.
    """
    import numpy as np

    seed = request.seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
        raise InputError("seed", f"must be an integer 0..2**63-1, got {seed!r}")
    if request.sample_rate not in SAMPLE_RATES:
        raise InputError("sample_rate", f"{request.sample_rate!r} Hz is not supported; accepted: {SAMPLE_RATES}")
    fmt = request.audio_format.lower() if isinstance(request.audio_format, str) else request.audio_format
    if fmt not in AUDIO_FORMATS:
        raise InputError("audio_format",
                         f"{request.audio_format!r} is not supported; accepted: {', '.join(AUDIO_FORMATS)}")
    return int(seed), fmt


def lap(timings: dict[str, float], stage: str, since: float,
        progress: Callable[[str, float], None] | None) -> float:
    """Records ``stage``'s seconds since ``since`` in ``timings`` (and tells ``progress``); returns now."""
    now = time.perf_counter()
    timings[stage] = round(now - since, 4)
    if progress is not None:
        progress(stage, now - since)
    return now


def file_slug(text: str) -> str:
    """A title as a file-name stem: lower-case ASCII words joined by ``-``, at most 48 characters."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "track"


def env_flag(name: str, default: bool) -> bool:
    """An on/off environment variable of the engines: ``1``/``true``/``yes``/``on`` turn it on, ``0``/``false``/
    ``no``/``off`` off (any case, spaces ignored); unset, empty or anything else leaves ``default``."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return default

_LOCK = threading.Lock()
_INSTANCES: dict[tuple[str, tuple[tuple[str, str], ...]], Engine] = {}


def engine_target(name: str) -> str:
    """The ``module:Class`` an engine name stands for: a registered name, or an import path given as the name.

    Raises:
        ConfigError: field ``MAESTRO_ENGINE`` when the name is neither.
    """
    if name in ENGINES:
        return ENGINES[name]
    module, sep, cls = name.partition(":")
    if sep and module and cls.isidentifier():
        return name
    raise ConfigError("MAESTRO_ENGINE", f"unknown engine {name!r}",
                      f"{', '.join(ENGINES)}, or an engine class by import path package.module:EngineClass")


def engine_class(name: str) -> type:
    """The engine's class, imported (cheap for the registered engines: heavy parts load in ``__init__``).

    Raises:
        ConfigError: field ``MAESTRO_ENGINE`` when the module or class cannot be imported.
    """
    module_name, _, class_name = engine_target(name).partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError("MAESTRO_ENGINE", f"cannot import engine {name!r}: {type(exc).__name__}: {exc}",
                          "an importable package.module:EngineClass") from None


def engine_problems(name: str, **options: Any) -> list[ConfigError]:
    """What stops engine ``name`` from being built with ``options``, found without building it (fast).

    An engine class may define ``check(**options) -> list[ConfigError]`` (a static or class method) that looks
    for its assets (SoundFont, model weights) the way its constructor would load them; engines without one are
    only checked to import.
    """
    try:
        cls = engine_class(name)
    except ConfigError as exc:
        return [exc]
    check = getattr(cls, "check", None)
    return list(check(**options)) if callable(check) else []


def engine_style(name: str, genre: str, mood: str) -> tuple[str, str]:
    """Engine ``name``'s canonical (genre, mood) for a request, asked of its class (cheap: nothing loads).

    Engines without a ``style`` classmethod take the names as given (free-text conditioning).

    Raises:
        ConfigError: the engine is unknown; InputError: naming ``genre`` or ``mood`` the engine does not render.
    """
    style = getattr(engine_class(name), "style", None)
    return style(genre, mood) if callable(style) else (genre, mood)


def engine_asset_ids(name: str, **options: Any) -> tuple[str, ...]:
    """The ASSET_IDs engine ``name`` relies on with constructor ``options`` (its ``asset_ids`` classmethod, given
    the options it accepts, e.g. the composer's ``soundfont_path``; none for an engine without one).

    Raises:
        ConfigError: the engine is unknown or cannot be imported.
    """
    import inspect

    asset_ids = getattr(engine_class(name), "asset_ids", None)
    if not callable(asset_ids):
        return ()
    params = inspect.signature(asset_ids).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return tuple(asset_ids(**{k: v for k, v in options.items() if takes_any or k in params}))


def style_problem(name: str, genre: str, mood: str) -> str | None:
    """Engine ``name``'s verdict on a genre/mood pair: None when it renders both, else its message."""
    try:
        engine_style(name, genre, mood)
    except InputError as exc:
        return str(exc)
    return None


def get_engine(name: str = "composer", *, preload_model: bool = True, **options: Any) -> Engine:
    """The process-wide engine ``name`` built with ``options`` (built on first use, then reused).

    Args:
        name: a key of ``ENGINES``, or an engine class by import path (``package.module:EngineClass``).
        preload_model: load the engine's text model now (seconds: torch and sentence-transformers are imported)
            so request latencies stay even. False suits workers whose requests carry precomputed ``descriptors``:
            they never need the model, and one that does loads it lazily. It is not part of the cache key: the
            same engine instance serves both, and asking with True later preloads it then.
        **options: constructor arguments, e.g. ``soundfont_path=...``, ``embedding_model_path=...``; None values
            are left out (the engine's default applies).

    Raises:
        ConfigError: field ``MAESTRO_ENGINE`` when the name is unknown or cannot be imported.
    """
    cache_key = (name, tuple(sorted((k, str(v)) for k, v in options.items() if v is not None)))
    options = {k: v for k, v in options.items() if v is not None}
    with _LOCK:
        engine = _INSTANCES.get(cache_key)
        if engine is None:
            cls = engine_class(name)
            engine = cls(**options, preload_model=preload_model)
            _INSTANCES[cache_key] = engine
            return engine
    preload = getattr(engine, "preload", None)
    if preload_model and callable(preload):
        preload()  # idempotent: the model cache is process-wide
    return engine
