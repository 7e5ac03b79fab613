"""The post-processing every neural track goes through, the same as the composer's: correct, master, encode.

Raw model audio (any rate, mono or stereo) is corrected to the requested tempo and key at the model's own rate
(:func:`inference.neural.correct.correct_tempo_key`, recorded under ``correction``), resampled to the request's
rate, made stereo, trimmed to the requested length, mastered (:func:`inference.master.master`: -14 LUFS, -1 dBTP)
and encoded (:func:`inference.encode.encode_audio`), so QC and the rights gate see it like any track. The metadata
has the composer's keys where they apply, plus ``model``, ``correction``, ``prompt`` and ``provenance_extra``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.engine import GenerationRequest, GenerationResult, file_slug, lap
from maestro_core.errors import InputError

if TYPE_CHECKING:
    from inference.neural.base import NeuralEngine, RenderedAudio


def finish_track(engine: NeuralEngine, request: GenerationRequest, raw: RenderedAudio, out_dir: Path,
                 batch: dict[str, Any], render_s: float,
                 progress: Callable[[str, float], None] | None = None) -> GenerationResult:
    """Resample, correct tempo and key, master, encode and write one track; returns it with its metadata.

    Args:
        engine: the engine that rendered it (name, version, checkpoint asset, device, dtype, settings).
        request: the validated request.
        raw: the model's output for it.
        out_dir: an existing writable directory.
        batch: ``requested_size``, ``batch_size`` and ``oom_backoffs`` of the model call it came from.
        render_s: its share of the batch's generation time, seconds.
        progress: called after each stage with its name and seconds.

    Raises:
        InputError: ``output_dir`` cannot be written.
        ValueError: the audio is silent (nothing to master).
    """
    from inference.encode import encode_audio, write_atomic
    from inference.master import master
    from inference.neural.correct import correct_tempo_key

    asset = engine.assets()[0]
    timings = {"compose": 0.0, "render": round(render_s, 4)}
    t = time.perf_counter()
    sr = request.sample_rate
    # Correct at the model's rate and channels (MusicGen: 32 kHz mono), ~3x cheaper than after resampling to stereo.
    audio, correction = correct_tempo_key(np.atleast_2d(raw.audio).astype(np.float32, copy=False), raw.sample_rate,
                                          raw.target_bpm, raw.target_key)
    audio = to_stereo(resample(audio, raw.sample_rate, sr))
    plan = raw.plan or {}
    seconds = float(plan.get("duration_seconds") or request.duration_s)  # hybrid: the composer's bar-line end
    audio = np.ascontiguousarray(audio[:, : int(round(seconds * sr))], dtype=np.float32)
    t = lap(timings, "effects", t, progress)
    mastered = master(audio, sr)
    t = lap(timings, "master", t, progress)
    tempo = plan.get("tempo") or correction.get("corrected_bpm") or correction.get("measured_bpm")
    key = plan.get("key") or correction.get("corrected_key") or correction.get("measured_key")
    title = plan.get("title") or neural_title(request)
    tags = {"title": title, "genre": request.genre, "artist": f"Maestro {engine.name}",
            "comment": f"bpm={_num(tempo)}; key={key}; mood={request.mood}; seed={request.seed}",
            "software": f"maestro {engine.name} {engine.version}", "bpm": _num(tempo)}
    data = encode_audio(mastered.pcm, sr, request.audio_format, tags)
    stem = out_dir / f"{file_slug(title)}-{engine.request_digest(request)[:12]}"
    audio_path = stem.with_suffix(f".{request.audio_format}")
    midi_path = stem.with_suffix(".mid") if raw.midi is not None else None
    files = {audio_path: data, **({midi_path: raw.midi} if midi_path is not None and raw.midi else {})}
    try:
        write_atomic(files)
    except OSError as exc:
        raise InputError("output_dir", f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    lap(timings, "encode", t, progress)
    ratio = float(correction.get("stretch_ratio") or 1.0)  # > 1: faster, so seams move earlier
    seams = [t for t in (round(s / raw.sample_rate / ratio, 3) for s in raw.seams) if t < seconds]
    metadata = {
        "title": title, "tempo": None if tempo is None else round(float(tempo), 3), "key": key,
        "time_signature": plan.get("time_signature") or request.time_signature or "4/4",
        "duration_seconds": round(mastered.pcm.shape[0] / sr, 3), "genre": request.genre, "mood": request.mood,
        "sections": plan.get("sections", []), "chord_progression": plan.get("chord_progression", {}),
        "instrumentation": plan.get("instrumentation", []), "variations": plan.get("variations", []),
        "seed": request.seed, "sample_rate": sr, "audio_format": request.audio_format,
        "loudness_lufs": mastered.loudness_lufs, "true_peak_dbtp": mastered.true_peak_dbtp,
        "sha256": hashlib.sha256(data).hexdigest(), "engine": engine.name, "engine_version": engine.version,
        "audio_path": str(audio_path), "midi_path": None if midi_path is None else str(midi_path),
        "key_phrases": list(request.key_phrases), "descriptors": plan.get("descriptors"),
        "feel": plan.get("feel"), "melody_seed_sha256": plan.get("melody_seed_sha256"),
        "bars": plan.get("bars"), "prompt": _prompt(request),
        "model": {"id": asset.asset_id, "path": asset.path, "sha256": asset.sha256,
                  "license": asset.license, "dtype": str(engine.dtype).removeprefix("torch."),
                  "device": engine.device, "batch_size": batch["batch_size"], **engine._model_settings()},
        "correction": correction,
        "provenance_extra": {"batch": dict(batch), "stitch": {"seams_seconds": seams, **raw.extra}},
    }
    return GenerationResult(json.loads(json.dumps(metadata, default=_jsonable)), audio_path, midi_path, timings,
                            audio_bytes=data)


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """``audio`` (channels, frames) resampled from ``from_hz`` to ``to_hz`` (polyphase, scipy), float32."""
    if from_hz == to_hz:
        return np.asarray(audio, dtype=np.float32)
    import math

    import scipy.signal

    g = math.gcd(int(from_hz), int(to_hz))
    return scipy.signal.resample_poly(audio, to_hz // g, from_hz // g, axis=-1).astype(np.float32)


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """(1|2, frames) → (2, frames): mono is duplicated."""
    audio = np.atleast_2d(audio)
    return np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio[:2]


def neural_title(request: GenerationRequest) -> str:
    """A deterministic title from the first key phrase, else mood and genre (``'Relaxed Lofi Chill'``)."""
    text = request.key_phrases[0] if request.key_phrases else f"{request.mood} {request.genre}"
    return " ".join(w.capitalize() for w in re.split(r"[\s_-]+", text.strip()) if w)[:80] or "Untitled"


def _num(value: object) -> str:
    return "" if value is None else f"{float(value):g}"  # type: ignore[arg-type]


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)



def _prompt(request: GenerationRequest) -> str:
    from inference.neural.base import build_prompt

    return build_prompt(request)
