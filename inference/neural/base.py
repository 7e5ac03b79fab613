"""The shell every neural engine shares: checkpoint checks, batching with OOM back-off, per-item seeds, prompts.

A subclass (``MusicGenEngine``, ``StableAudioEngine``) fills in two hooks:

* ``_load(model_dir, device, dtype)``: build the model once per process (an actor), ``local_files_only``;
* ``_render(requests, generators)``: one batched model call (or one per window) for requests of the same
  length, returning :class:`RenderedAudio` per request, float32 ``(channels, frames)`` at the model's rate.

Everything else lives here once: request validation (free-text genre and mood, limits from ``maestro_core``),
grouping by duration and chunking by batch size, halving the batch on CUDA out-of-memory (recorded in each
result's ``metadata["provenance_extra"]["batch"]["oom_backoffs"]``), and the same post-processing as the
composer: tempo/key correction (:func:`inference.neural.correct.correct_tempo_key`), mastering
(:func:`inference.master.master`) and encoding (:func:`inference.encode.encode_audio`), so QC and the rights gate
see neural tracks like any other.

Torch is imported only inside methods, never at module import time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inference.engine import (
    AssetUse,
    GenerationRequest,
    GenerationResult,
    check_seed_and_output,
    env_flag,
)
from maestro_core.errors import ConfigError, InputError
from maestro_core.limits import DURATION_RANGE_S, TEMPO_RANGE_BPM, check_key_phrases

logger = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
DEFAULT_BATCH_SIZE = 8
CPU_FALLBACK_SETTING = "MAESTRO_ALLOW_CPU_FALLBACK"
BATCH_SIZE_SETTING = "MAESTRO_GPU_BATCH_SIZE"
LICENSES = {"musicgen": "CC-BY-NC-4.0", "stable-audio": "LicenseRef-Stability-AI-Community"}
"""SPDX licence of each engine's released weights (MusicGen: Meta's CC-BY-NC-4.0 weights; Stable Audio Open:
the Stability AI Community License, which has no SPDX id)."""


@dataclass(frozen=True)
class RenderedAudio:
    """One request's raw model output, before correction and mastering.

    Attributes:
        audio: float32 samples, shape ``(channels, frames)`` with 1 or 2 channels, at ``sample_rate`` Hz.
        sample_rate: the model's output rate, Hz.
        seams: sample positions (at ``sample_rate``) where stitched windows were crossfaded; empty for one window.
        target_bpm: tempo to correct to (the request's, or the composer plan's in hybrid mode); None leaves it.
        target_key: key to correct to; None leaves it.
        plan: metadata fields taken from a composer plan (hybrid mode): title, sections, chord_progression, ...
        midi: the composer arrangement as MIDI bytes (hybrid mode), written next to the audio.
        extra: engine-specific provenance (windows, overlap, conditioning), JSON-serialisable.
    """

    audio: np.ndarray
    sample_rate: int
    seams: tuple[int, ...] = ()
    target_bpm: float | None = None
    target_key: str | None = None
    plan: dict[str, Any] | None = None
    midi: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def build_prompt(request: GenerationRequest) -> str:
    """The text prompt for a request: genre, mood, key phrases, instrumentation, BPM and key, in one sentence.

    Example: ``'lofi chill track, relaxed mood, rainy window, flute lead, 84 BPM, in A minor'``.
    """
    parts = [f"{request.genre.strip()} track", f"{request.mood.strip()} mood", *request.key_phrases]
    for role, instrument in sorted((request.instrumentation or {}).items()):
        parts.append(f"{instrument} {role}")
    if request.tempo_bpm is not None:
        parts.append(f"{float(request.tempo_bpm):g} BPM")
    if request.key is not None:
        parts.append(f"in {request.key}")
    return ", ".join(parts)


def weight_files(model_dir: str | Path) -> list[Path]:
    """The checkpoint's weight files (``*.safetensors``, ``*.bin``, ...) under ``model_dir``, in sorted order."""
    root = Path(model_dir)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def model_asset(model_dir: str | Path, engine: str) -> AssetUse:
    """The checkpoint as an asset: sha256 over its weight files (relative names and bytes), and its licence.

    The id is deterministic, ``asset_model_<engine>_<sha256[:12]>``, so the same weights get the same row.
    """
    from maestro_core.assets import sha256_file

    root = Path(model_dir).resolve()
    digest = hashlib.sha256()
    for path in weight_files(root):
        digest.update(f"{path.relative_to(root).as_posix()}\0{sha256_file(path)}\n".encode())
    sha = digest.hexdigest()
    return AssetUse(f"asset_model_{engine.replace('-', '_')}_{sha[:12]}", str(root), sha, LICENSES[engine])


def check_model_dir(path: str | Path | None, setting: str, config_name: str,
                    architectures: Sequence[str]) -> list[ConfigError]:
    """What is wrong with a checkpoint directory, found without loading it (milliseconds).

    Args:
        path: the directory; None or empty means the setting was never given.
        setting: the setting to name in errors, e.g. ``MAESTRO_MUSICGEN_MODEL``.
        config_name: the file that names the architecture (``config.json``; diffusers: ``model_index.json``).
        architectures: class names the engine loads; the config's ``architectures`` list (transformers) or
            ``_class_name`` (diffusers) must name one of them.
    """
    accepted = "a local directory written by save_pretrained (or huggingface-cli download --local-dir)"
    if path is None or not str(path).strip():
        return [ConfigError(setting, "is not set; the engine loads its checkpoint from a local directory", accepted)]
    root = Path(path).expanduser()
    if not root.is_dir():
        return [ConfigError(setting, f"{root} is not a directory", accepted)]
    config_path = root / config_name
    if not config_path.is_file():
        return [ConfigError(setting, f"{root} has no {config_name}", accepted)]
    problems = []
    try:
        config = json.loads(config_path.read_text())
        names = list(config.get("architectures") or []) + [config.get("_class_name") or ""]
    except (OSError, ValueError, AttributeError) as exc:
        return [ConfigError(setting, f"{config_path} is not readable JSON: {exc}", accepted)]
    if not set(names) & set(architectures):
        found = ", ".join(n for n in names if n) or "no architecture"
        problems.append(ConfigError(setting, f"{root} holds {found}, not a model this engine runs",
                                    ", ".join(architectures)))
    if not weight_files(root):
        problems.append(ConfigError(setting, f"{root} has no weight files", "*" + ", *".join(WEIGHT_SUFFIXES)))
    return problems


def gpu_problem(engine: str, gpus: int, allow_cpu: bool) -> ConfigError | None:
    """A GPU engine on a machine or cluster with ``gpus`` GPUs: an error unless CPU fallback is allowed."""
    if gpus > 0 or allow_cpu:
        return None
    return ConfigError(CPU_FALLBACK_SETTING, f"engine {engine} needs a GPU and none is available",
                       "a cluster with GPUs, or true to run fp32 on CPU (slow)")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is CUDA running out of memory (``torch.cuda.OutOfMemoryError``)."""
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError)


class NeuralEngine(ABC):
    """Base of the GPU engines: loads a local checkpoint once, then serves batches of requests.

    Args:
        model_path: the checkpoint directory; None reads the engine's setting (e.g. ``MAESTRO_MUSICGEN_MODEL``)
            from the environment.
        batch_size: requests per model call (``MAESTRO_GPU_BATCH_SIZE``); halved on CUDA out-of-memory.
        allow_cpu: run fp32 on CPU when no GPU is visible; None reads ``MAESTRO_ALLOW_CPU_FALLBACK`` from the
            environment. Without it, a ConfigError naming that setting.
        preload_model: accepted for the Engine registry; the model always loads here, once per process.
        device: force ``'cpu'`` or ``'cuda'``; None picks CUDA when visible.

    Raises:
        ConfigError: naming the setting when the checkpoint is missing, incomplete or the wrong architecture,
            or when no GPU is visible and CPU fallback is not allowed.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    setting: ClassVar[str] = ""
    config_name: ClassVar[str] = "config.json"
    architectures: ClassVar[tuple[str, ...]] = ()
    max_duration_s: ClassVar[float] = float(DURATION_RANGE_S[1])
    window_s: ClassVar[float] = 30.0
    overlap_s: ClassVar[float] = 10.0
    requires_gpu: ClassVar[bool] = True

    def __init__(self, model_path: str | Path | None = None, batch_size: int | None = None,
                 allow_cpu: bool | None = None, preload_model: bool = True, device: str | None = None) -> None:
        del preload_model  # the model is the engine: it always loads now
        path = model_path if model_path is not None else os.environ.get(self.setting)
        if allow_cpu is None:  # built outside the pipeline (which passes settings): read the setting itself
            allow_cpu = env_flag(CPU_FALLBACK_SETTING, default=False)
        problems = self.check(model_path=path)
        if problems:
            raise problems[0]
        self.model_dir = Path(str(path)).expanduser().resolve()
        self.batch_size = _batch_size(batch_size)
        self.device, self.dtype = self._device(device, bool(allow_cpu))
        self._asset = model_asset(self.model_dir, self.name)
        self.oom_backoffs = 0
        self._load(self.model_dir, self.device, self.dtype)

    # -- the Engine protocol ------------------------------------------------------------------------------------

    @classmethod
    def style(cls, genre: str, mood: str) -> tuple[str, str]:
        """Free-text conditioning: ``(genre, mood)`` as given, stripped.

        Raises:
            InputError: naming ``genre`` or ``mood`` when it is not a non-empty string.
        """
        return _text("genre", genre), _text("mood", mood)

    @classmethod
    def asset_ids(cls) -> tuple[str, ...]:
        """The ASSETS row that licenses this engine's model (whatever checkpoint is configured)."""
        return (f"asset_model_{cls.name.replace('-', '_')}",)

    @classmethod
    def check(cls, model_path: str | Path | None = None, **_: Any) -> list[ConfigError]:
        """What would stop this engine from building with ``model_path`` (default: its setting), nothing loaded."""
        path = model_path if model_path is not None else os.environ.get(cls.setting)
        return check_model_dir(path, cls.setting, cls.config_name, cls.architectures)

    def assets(self) -> list[AssetUse]:
        """The checkpoint's weights (sha256 over the weight files) with the model's SPDX licence."""
        return [self._asset]

    def generate(self, request: GenerationRequest, output_dir: str | Path,
                 progress: Callable[[str, float], None] | None = None) -> GenerationResult:
        """Generate one track (a batch of one).

        Raises:
            InputError: naming the offending request field, or ``output_dir``.
        """
        (result,) = self.generate_batch([request], output_dir, progress)
        if isinstance(result, Exception):
            raise result
        return result

    def generate_batch(self, requests: Sequence[GenerationRequest], output_dir: str | Path,
                       progress: Callable[[str, float], None] | None = None) -> list[GenerationResult | Exception]:
        """Generate many tracks, batching requests of the same duration into one model call each.

        Each item is seeded by its own ``seed`` (its own ``torch.Generator``), so an item's audio does not depend
        on what it was batched with (to within float tolerance, see the engine's docs). An invalid request, or a
        batch that fails, gives an exception in its place; the others still complete.

        Raises:
            InputError: ``output_dir`` is not a writable directory.
        """
        from inference.composer.engine import writable_dir

        out_dir = writable_dir(output_dir)
        results: list[GenerationResult | Exception | None] = [None] * len(requests)
        groups: dict[Any, list[tuple[int, GenerationRequest]]] = {}
        for i, request in enumerate(requests):
            try:
                checked = self.validate(request)
            except InputError as exc:
                results[i] = exc
                continue
            groups.setdefault(self._group_key(checked), []).append((i, checked))
        for items in groups.values():
            start = 0
            while start < len(items):
                chunk = items[start:start + self.batch_size]
                start += len(chunk)
                for (i, _), result in zip(chunk, self._serve_chunk([r for _, r in chunk], out_dir, progress),
                                          strict=True):
                    results[i] = result
        return [r if r is not None else RuntimeError("request was not served") for r in results]

    # -- validation ---------------------------------------------------------------------------------------------

    def validate(self, request: GenerationRequest) -> GenerationRequest:
        """:meth:`check_request` with this engine's options (whether it reads melody seeds)."""
        return self.check_request(request, uses_melody=self._uses_melody())

    @classmethod
    def check_request(cls, request: GenerationRequest, uses_melody: bool = False) -> GenerationRequest:
        """Check every field a neural engine reads, without building it; returns the request normalised.

        Args:
            request: the request.
            uses_melody: the engine reads ``melody`` seeds (MusicGen hybrid mode); otherwise one is refused.

        Raises:
            InputError: naming the field, e.g. ``duration_seconds`` beyond ``max_duration_s``.
        """
        from inference.composer.plan import check_number, parse_metre
        from inference.composer.theory import parse_key

        genre, mood = cls.style(request.genre, request.mood)
        low, high = float(TEMPO_RANGE_BPM[0]), float(TEMPO_RANGE_BPM[1])
        tempo = None if request.tempo_bpm is None else check_number("tempo_bpm", request.tempo_bpm, low, high, "BPM")
        duration = check_number("duration_seconds", request.duration_s, float(DURATION_RANGE_S[0]),
                                min(float(DURATION_RANGE_S[1]), cls.max_duration_s), "seconds")
        key = None if request.key is None else parse_key(request.key).name
        parse_metre(request.time_signature)
        seed, fmt = check_seed_and_output(request)
        if request.melody is not None and not uses_melody:
            raise InputError("melody", f"engine {cls.name} takes no melody seed here "
                                       "(MusicGen reads one only with MAESTRO_MELODY_SOURCE=composer)")
        return replace(request, genre=genre, mood=mood, tempo_bpm=tempo, duration_s=duration, key=key,
                       key_phrases=check_key_phrases(request.key_phrases), seed=seed, audio_format=fmt)

    # -- hooks for subclasses -----------------------------------------------------------------------------------

    @abstractmethod
    def _load(self, model_dir: Path, device: str, dtype: Any) -> None:
        """Build the model from ``model_dir`` once (``local_files_only=True``), on ``device`` in ``dtype``."""

    @abstractmethod
    def _render(self, requests: Sequence[GenerationRequest]) -> list[RenderedAudio]:
        """Generate raw audio for requests of one group (same duration), in as few model calls as possible."""

    def _model_settings(self) -> dict[str, Any]:
        """Sampler settings for provenance (guidance scale, steps, top-k, ...)."""
        return {}

    def _uses_melody(self) -> bool:
        """Whether requests' ``melody`` seeds are read (MusicGen hybrid mode)."""
        return False

    def _group_key(self, request: GenerationRequest) -> Any:
        """Requests with the same key are batched together; by default, the same duration."""
        return round(float(request.duration_s), 3)

    # -- batching -----------------------------------------------------------------------------------------------

    def generators(self, requests: Sequence[GenerationRequest], salt: int = 0) -> list[Any]:
        """One ``torch.Generator`` per request on the engine's device, seeded from its seed (and ``salt``)."""
        import torch

        gens = []
        for request in requests:
            seed = int(np.random.SeedSequence([request.seed, salt]).generate_state(1, np.uint64)[0] >> 1)
            gens.append(torch.Generator(device=self.device).manual_seed(seed))
        return gens

    def _serve_chunk(self, requests: list[GenerationRequest], out_dir: Path,
                     progress: Callable[[str, float], None] | None) -> list[GenerationResult | Exception]:
        from inference.neural.finish import finish_track

        t = time.perf_counter()
        asked = len(requests)
        try:
            rendered, backoffs, used = self._render_with_backoff(requests)
        except Exception as exc:  # noqa: BLE001 - one failed batch fails its items, not the whole run
            logger.warning("%s batch of %d failed: %s: %s", self.name, asked, type(exc).__name__, exc)
            return [exc] * asked
        render_s = (time.perf_counter() - t) / asked
        if progress is not None:
            progress("render", render_s)
        batch = {"requested_size": asked, "batch_size": used, "oom_backoffs": backoffs}
        out: list[GenerationResult | Exception] = []
        for request, raw in zip(requests, rendered, strict=True):
            try:
                out.append(finish_track(self, request, raw, out_dir, batch, render_s, progress))
            except (InputError, ValueError) as exc:
                out.append(exc)
        return out

    def _render_with_backoff(self, requests: list[GenerationRequest]) -> tuple[list[RenderedAudio], int, int]:
        """Render in sub-batches of ``size``; on CUDA OOM halve ``size`` (down to 1) and start the group again.

        The halved size sticks (``self.batch_size``): the next groups start from what fitted.
        """
        size, backoffs = len(requests), 0
        while True:
            try:
                rendered: list[RenderedAudio] = []
                for start in range(0, len(requests), size):
                    rendered.extend(self._render(requests[start:start + size]))
                return rendered, backoffs, size
            except Exception as exc:
                if size == 1 or not is_out_of_memory(exc):
                    raise
                backoffs += 1
                self.oom_backoffs += 1
                size = max(1, size // 2)
                self.batch_size = min(self.batch_size, size)
                logger.warning("%s: CUDA out of memory with batch %d; retrying with %d", self.name, size * 2, size)
                _empty_cuda_cache()

    def request_digest(self, request: GenerationRequest) -> str:
        """sha256 of the request, the engine and the weights: names output files deterministically."""
        payload = {"engine": [self.name, self.version, self._asset.sha256], "prompt": build_prompt(request),
                   "duration_s": request.duration_s, "seed": request.seed, "sample_rate": request.sample_rate,
                   "audio_format": request.audio_format, "time_signature": request.time_signature,
                   "melody": None if request.melody is None else str(request.melody)[:200],
                   "settings": self._model_settings()}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def _device(self, device: str | None, allow_cpu: bool) -> tuple[str, Any]:
        import torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu" and self.requires_gpu:
            problem = gpu_problem(self.name, 0, allow_cpu)
            if problem is not None:
                raise problem
        if device.startswith("cuda"):
            return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return device, torch.float32


def _text(field_name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field_name, f"must be a non-empty text description, got {value!r}")
    return " ".join(value.split())


def _batch_size(value: int | None) -> int:
    if value is None:
        return DEFAULT_BATCH_SIZE
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= int(value) <= 1024:
        raise ConfigError(BATCH_SIZE_SETTING, f"must be an integer 1..1024, got {value!r}")
    return int(value)


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
