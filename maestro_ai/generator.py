"""The Python API artists use: ``maestro_ai.MusicGenerator``.

    import maestro_ai
    gen = maestro_ai.MusicGenerator(genre='lofi-chill', mood='ambient-focus')
    input_data = {'melody_midi': 'midi_string_example_Cmaj7_G6',
                  'key_phrases': ['rainy city lights', 'quiet introspection', 'velvet night'],
                  'tempo_bpm': 72}
    track_metadata, audio_path = gen.generate_track(input_data, duration_seconds=180)
    print(track_metadata['title'], track_metadata['tempo'])

Construction is cheap: the engine (SoundFont, embedding model) is built on the first ``generate_track`` and
shared by every generator in the process. ``gen.check(input_data, duration_seconds=180)`` validates a request the
same way without building it (a CLI or a form can refuse bad input at once).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from maestro_core.errors import InputError

ACCEPTED_KEYS = ("melody_midi", "key_phrases", "tempo_bpm", "key", "time_signature", "instrumentation")
VARIATION_KEYS = ("label", "seed", "tempo_bpm", "key", "instrumentation", "time_signature", "key_phrases")


class MusicGenerator:
    """Generates mastered tracks in one genre and mood.

    Args:
        genre: genre preset, e.g. ``'lofi-chill'``, ``'house'``, ``'classical-piano'`` (closest names suggested).
        mood: mood preset, e.g. ``'ambient-focus'``, ``'melancholic'``, ``'energetic'``.
        engine: engine name: ``'composer'`` (no weights, no GPU), ``'musicgen'`` or ``'stable-audio'``.
        output_dir: where audio and MIDI files go; default ``$MAESTRO_HOME/generated``.
        sample_rate: output sample rate in Hz (22050, 32000, 44100 or 48000).
        audio_format: ``'wav'`` (16-bit PCM) or ``'flac'``.
        soundfont_path: a General MIDI SoundFont; default MAESTRO_SOUNDFONT_PATH, else FluidR3_GM (MIT).
        embedding_model_path: a sentence-transformers model directory; default the bundled all-MiniLM-L6-v2.
        model_path: a neural engine's local checkpoint directory; default its setting (``MAESTRO_MUSICGEN_MODEL``,
            ``MAESTRO_STABLE_AUDIO_MODEL``). See docs/engines.md.

    Raises:
        InputError: ``genre``, ``mood``, ``sample_rate`` or ``audio_format`` is not accepted.
        ConfigError: ``engine`` is unknown.
    """

    def __init__(self, genre: str, mood: str, engine: str = "composer", output_dir: str | Path | None = None,
                 sample_rate: int = 44100, audio_format: str = "wav", soundfont_path: str | Path | None = None,
                 embedding_model_path: str | Path | None = None, model_path: str | Path | None = None) -> None:
        from inference.engine import AUDIO_FORMATS, ENGINES, SAMPLE_RATES, engine_style
        from maestro_core.errors import ConfigError

        if engine not in ENGINES:
            raise ConfigError("engine", f"unknown engine {engine!r}", ", ".join(ENGINES))
        self.genre, self.mood = engine_style(engine, genre, mood)
        if sample_rate not in SAMPLE_RATES:
            raise InputError("sample_rate", f"{sample_rate!r} Hz is not supported; accepted: {SAMPLE_RATES}")
        if audio_format not in AUDIO_FORMATS:
            raise InputError("audio_format", f"{audio_format!r} is not supported; accepted: {', '.join(AUDIO_FORMATS)}")
        self.engine_name = engine
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.sample_rate = sample_rate
        self.audio_format = audio_format
        self._engine_options = {k: v for k, v in (("soundfont_path", soundfont_path),
                                                  ("embedding_model_path", embedding_model_path),
                                                  ("model_path", model_path)) if v is not None}

    @property
    def engine(self) -> Any:
        """The process-wide engine (built on first use)."""
        from inference.engine import get_engine

        return get_engine(self.engine_name, preload_model=True, **self._engine_options)

    def generate_track(self, input_data: Mapping[str, Any], duration_seconds: float = 180, seed: int | None = None,
                       variation: Mapping[str, Any] | None = None,
                       progress: Callable[[str, float], None] | None = None) -> tuple[dict[str, Any], str]:
        """Generate one track; returns ``(metadata, audio_path)``.

        Args:
            input_data: any of ``melody_midi`` (.mid path, MIDI bytes, or chords/notes such as
                ``'Cmaj7 G6 Am7'`` / ``'C4 E4 G4'``), ``key_phrases`` (list of str), ``tempo_bpm`` (30..300),
                ``key`` (``'F# minor'``), ``time_signature`` (``'3/4'``), ``instrumentation`` (role -> GM name).
            duration_seconds: 5..900; the track ends on the bar line nearest to it.
            seed: 0..2**63-1; None derives one from the inputs, so the same call always gives the same track.
            variation: one of ``metadata['variations']``: its fields replace the inputs and its seed is used.
            progress: called after each stage (compose, render, effects, master, encode) with its seconds.

        Returns:
            The metadata dict (title, tempo, key, time_signature, duration_seconds, genre, mood, sections,
            chord_progression, instrumentation, variations, seed, sample_rate, loudness_lufs, true_peak_dbtp,
            sha256, engine, engine_version, midi_path, ...) and the audio file's path.

        Raises:
            InputError: names the offending field (``input_data``, ``tempo_bpm``, ``melody_midi``, ``output_dir``...).
        """
        request = self._checked_request(input_data, duration_seconds, seed, variation)
        result = self.engine.generate(request, self._output_dir(), progress=progress)
        metadata = dict(result.metadata)
        if variation is not None:
            metadata["variation"] = {k: variation[k] for k in VARIATION_KEYS if k in variation}
        return metadata, str(result.audio_path)

    def check(self, input_data: Mapping[str, Any], duration_seconds: float = 180, seed: int | None = None,
              variation: Mapping[str, Any] | None = None) -> None:
        """Validates a request exactly as :meth:`generate_track` would, without building the engine.

        No SoundFont or text model is loaded and nothing is written, so this costs milliseconds: every field
        (``input_data`` keys, ``tempo_bpm``, ``duration_seconds``, ``key``, ``key_phrases``, ``time_signature``,
        ``instrumentation``, ``melody_midi``, ``seed``, ``variation``) is checked against the limits in
        :mod:`maestro_core.limits`. The output directory is checked only when generating.

        Args:
            input_data: as for :meth:`generate_track`.
            duration_seconds: as for :meth:`generate_track`.
            seed: as for :meth:`generate_track`.
            variation: as for :meth:`generate_track`.

        Raises:
            InputError: naming the offending field.
            ConfigError: the engine's files are unusable (e.g. ``MAESTRO_SOUNDFONT_PATH``), found from their headers.
        """
        from inference.engine import engine_problems

        self._checked_request(input_data, duration_seconds, seed, variation)
        for problem in engine_problems(self.engine_name, **self._engine_options)[:1]:
            raise problem

    def _checked_request(self, input_data: Mapping[str, Any], duration_seconds: float, seed: int | None,
                         variation: Mapping[str, Any] | None) -> Any:
        """The request ``generate_track`` hands the engine, after checking it (the engine normalises it itself)."""
        from inference.composer.engine import check_request
        from inference.engine import engine_class

        request = self._request(input_data, duration_seconds, seed, variation)
        getattr(engine_class(self.engine_name), "check_request", check_request)(request)  # neural engines: their own
        return request

    def _request(self, input_data: Mapping[str, Any], duration_seconds: float, seed: int | None,
                 variation: Mapping[str, Any] | None) -> Any:
        from inference.engine import GenerationRequest

        if not isinstance(input_data, Mapping):
            raise InputError("input_data", f"must be a dict with keys among {', '.join(ACCEPTED_KEYS)}")
        unknown = sorted(str(k) for k in input_data if k not in ACCEPTED_KEYS)
        if unknown:
            raise InputError("input_data", f"unknown key(s) {', '.join(map(repr, unknown))}; "
                                           f"accepted: {', '.join(ACCEPTED_KEYS)}")
        data = dict(input_data)
        if variation is not None:
            if not isinstance(variation, Mapping) or "seed" not in variation:
                raise InputError("variation", "must be one of metadata['variations'] (a dict with a 'seed')")
            extra = sorted(str(k) for k in variation if k not in VARIATION_KEYS)
            if extra:
                raise InputError("variation",
                                 f"unknown key(s) {', '.join(extra)}; accepted: {', '.join(VARIATION_KEYS)}")
            data.update({k: v for k, v in variation.items() if k not in ("label", "seed")})
            seed = variation["seed"]
        phrases = data.get("key_phrases")
        if phrases is not None and (isinstance(phrases, str | bytes) or not isinstance(phrases, list | tuple)):
            raise InputError("key_phrases", f"must be a list of strings, got {type(phrases).__name__}")
        request = GenerationRequest(
            genre=self.genre, mood=self.mood, key_phrases=tuple(phrases or ()), tempo_bpm=data.get("tempo_bpm"),
            key=data.get("key"), time_signature=data.get("time_signature"), duration_s=duration_seconds,
            melody=data.get("melody_midi"), instrumentation=data.get("instrumentation"),
            seed=default_seed(data, self.genre, self.mood, duration_seconds) if seed is None else seed,
            sample_rate=self.sample_rate, audio_format=self.audio_format)
        return request

    def _output_dir(self) -> Path:
        if self.output_dir is not None:
            return self.output_dir
        from maestro_core.config import load_settings

        return load_settings().home / "generated"


def default_seed(data: Mapping[str, Any], genre: str, mood: str, duration_seconds: float) -> int:
    """A seed derived from the inputs (0..2**63-1): calls without ``seed=`` are reproducible too."""
    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return "sha256:" + hashlib.sha256(value).hexdigest()
        return str(value) if isinstance(value, Path) else value

    payload = {"genre": genre, "mood": mood, "duration": duration_seconds,
               "inputs": {k: plain(v) for k, v in sorted(data.items())}}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
