"""The ``stable-audio`` engine: Stable Audio Open (diffusers ``StableAudioPipeline``) from a local checkpoint.

``MAESTRO_STABLE_AUDIO_MODEL`` names a directory that ``StableAudioPipeline.from_pretrained`` reads, e.g.
``hf download stabilityai/stable-audio-open-1.0 --local-dir DIR`` (see docs/engines.md); it is loaded once per
process with ``local_files_only=True``. The model writes at most one window (47.55 s at 44.1 kHz for the
released weights: ``transformer.sample_size * vae.hop_length / vae.sampling_rate``). Longer tracks, up to
``max_duration_s``, are windows of the same prompt, each seeded on its own, joined by equal-power crossfades
(:mod:`inference.neural.stitch`): the model has no continuation mode, so the overlap joins two independent
takes and the crossfade is the plain ``cos``/``sin`` one.

A batch is one pipeline call per window for all its requests (same duration): prompts padded by the T5
tokenizer to its fixed length, one ``torch.Generator`` per item for the initial latents and the sampler's
Brownian noise, so an item's audio does not depend on its batch (measured on the tiny model: max abs
difference 5e-7 between a batch of two and the item alone).

:func:`write_tiny_stable_audio` writes a random-initialised pipeline with the real classes for tests and GPU
node smoke tests (``maestro engines make-test-model stable-audio DIR``). Its audio is noise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inference.engine import GenerationRequest
from inference.neural.base import NeuralEngine, RenderedAudio, build_prompt, weight_files
from inference.neural.stitch import seam_positions, stitch_windows, window_lengths
from maestro_core.errors import ConfigError

logger = logging.getLogger(__name__)

SETTING = "MAESTRO_STABLE_AUDIO_MODEL"
ENGINE_VERSION = "stable-audio-1.0.0"  # keys TRACK_ID: a different engine makes a different track
PIPELINE_CLASS = "StableAudioPipeline"
WEIGHTED_COMPONENTS = ("transformer", "vae", "text_encoder", "projection_model")
DEFAULT_STEPS = 100  # diffusers' default for StableAudioPipeline; Stability's examples use 100-200
DEFAULT_GUIDANCE = 7.0
TEMPO_HEADROOM = 0.1  # render 10% more when a tempo is requested: stretching to it may shorten the track


class StableAudioEngine(NeuralEngine):
    """Stable Audio Open on a GPU (bf16/fp16), or fp32 on CPU when allowed.

    Args:
        model_path: checkpoint directory; None reads ``MAESTRO_STABLE_AUDIO_MODEL``.
        batch_size: requests per pipeline call (``MAESTRO_GPU_BATCH_SIZE``).
        allow_cpu: run on CPU when no GPU is visible (``MAESTRO_ALLOW_CPU_FALLBACK``).
        preload_model: accepted for the registry; the pipeline always loads here.
        device: force ``'cpu'`` or ``'cuda'``.
        num_inference_steps: sampler steps per window (default 100).
        guidance_scale: classifier-free guidance weight (default 7.0; 1.0 turns guidance off).
        negative_prompt: text to steer away from, or None.

    Raises:
        ConfigError: naming ``MAESTRO_STABLE_AUDIO_MODEL`` when the directory is missing, incomplete, not a
            Stable Audio pipeline or unloadable; ``MAESTRO_ALLOW_CPU_FALLBACK`` when there is no GPU.
    """

    name: ClassVar[str] = "stable-audio"
    version: ClassVar[str] = ENGINE_VERSION
    setting: ClassVar[str] = SETTING
    config_name: ClassVar[str] = "model_index.json"
    architectures: ClassVar[tuple[str, ...]] = (PIPELINE_CLASS,)
    # Windows are independent takes of one prompt: beyond five minutes a track is a medley, not a piece.
    max_duration_s: ClassVar[float] = 300.0
    window_s: ClassVar[float] = 47.55
    overlap_s: ClassVar[float] = 5.0

    def __init__(self, model_path: str | Path | None = None, batch_size: int | None = None,
                 allow_cpu: bool | None = None, preload_model: bool = True, device: str | None = None,
                 num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 negative_prompt: str | None = None) -> None:
        self.num_inference_steps = _steps(num_inference_steps)
        self.guidance_scale = _guidance(guidance_scale)
        self.negative_prompt = negative_prompt or None
        super().__init__(model_path, batch_size, allow_cpu, preload_model, device)

    @classmethod
    def check(cls, model_path: str | Path | None = None, **options: Any) -> list[ConfigError]:
        """Missing directory, ``model_index.json``, component configs or weights, or another architecture."""
        problems = super().check(model_path=model_path, **options)
        path = model_path if model_path is not None else os.environ.get(SETTING)
        if not path or not Path(str(path)).expanduser().is_dir():
            return problems
        root = Path(str(path)).expanduser()
        if not (root / cls.config_name).is_file() and (root / "config.json").is_file():
            return [ConfigError(SETTING, f"{root} holds {_architecture(root / 'config.json')} (a transformers "
                                         "model), not a diffusers StableAudioPipeline",
                                f"a directory with model_index.json naming {PIPELINE_CLASS}")]
        if problems:
            return problems
        return component_problems(root)

    # -- hooks --------------------------------------------------------------------------------------------------

    def _load(self, model_dir: Path, device: str, dtype: Any) -> None:
        from diffusers import StableAudioPipeline

        try:
            with _quiet_weight_norm():
                # Without accelerate, diffusers would warn and fall back to low_cpu_mem_usage=False anyway.
                pipe = StableAudioPipeline.from_pretrained(model_dir, local_files_only=True, dtype=dtype,
                                                           low_cpu_mem_usage=_has_accelerate())
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
            raise ConfigError(SETTING, f"cannot load a StableAudioPipeline from {model_dir}: "
                                       f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                              "a complete diffusers checkpoint (hf download ... --local-dir)") from None
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe
        self.sample_rate = int(pipe.vae.config.sampling_rate)
        self.window_frames = int(pipe.transformer.config.sample_size) * int(pipe.vae.hop_length)
        self.window_s = self.window_frames / self.sample_rate  # type: ignore[misc]  # the model's own limit
        self.overlap_frames = round(min(type(self).overlap_s, self.window_s / 4.0) * self.sample_rate)

    def _render(self, requests: Sequence[GenerationRequest]) -> list[RenderedAudio]:
        """All requests share a duration: one pipeline call per window for the whole batch, then stitching."""
        first = requests[0]  # _group_key: all share the duration and whether a tempo was asked for
        headroom = 1.0 + (TEMPO_HEADROOM if first.tempo_bpm is not None else 0.0)
        total = math.ceil(float(first.duration_s) * headroom * self.sample_rate)
        lengths = window_lengths(total, self.window_frames, self.overlap_frames)
        prompts = [build_prompt(r) for r in requests]
        takes = [self._window(prompts, requests, index, frames) for index, frames in enumerate(lengths)]
        seams = tuple(seam_positions(lengths, self.overlap_frames))
        extra = {"windows": len(lengths), "window_seconds": round(self.window_s, 4),
                 "overlap_seconds": round(self.overlap_frames / self.sample_rate, 4),
                 "crossfade": "equal-power", "rendered_seconds": round(total / self.sample_rate, 4)}
        return [RenderedAudio(audio=stitch_windows([take[i] for take in takes], self.overlap_frames),
                              sample_rate=self.sample_rate, seams=seams, target_bpm=r.tempo_bpm,
                              target_key=r.key, extra=dict(extra)) for i, r in enumerate(requests)]

    def _group_key(self, request: GenerationRequest) -> Any:
        """Same duration and same headroom (with or without a tempo): a batch never changes an item's length."""
        return round(float(request.duration_s), 3), request.tempo_bpm is not None

    def _model_settings(self) -> dict[str, Any]:
        scheduler = getattr(getattr(self, "_pipe", None), "scheduler", None)
        config = dict(getattr(scheduler, "config", {}) or {})
        sampler = {k: config[k] for k in ("sigma_min", "sigma_max", "sigma_schedule", "solver_order",
                                          "solver_type", "prediction_type", "algorithm_type") if k in config}
        return {"guidance_scale": self.guidance_scale, "num_inference_steps": self.num_inference_steps,
                "negative_prompt": self.negative_prompt,
                "sampler": {"scheduler": type(scheduler).__name__ if scheduler is not None else None, **sampler}}

    def _window(self, prompts: list[str], requests: Sequence[GenerationRequest], index: int,
                frames: int) -> np.ndarray:
        """Window ``index`` of every request, ``frames`` long: (batch, channels, frames) float32."""
        import torch

        with torch.inference_mode(), warnings.catch_warnings():
            # torchsde warns when the sampler's float sigmas touch its interval ends; harmless rounding.
            warnings.filterwarnings("ignore", message="Should have", category=UserWarning)
            latents = self._pipe(prompt=prompts, negative_prompt=self._negative(len(prompts)),
                                 audio_end_in_s=frames / self.sample_rate,
                                 num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
                                 generator=self.generators(requests, salt=index), output_type="latent").audios
            audio = self._pipe.vae.decode(latents).sample[:, :, :frames]
        return audio.float().cpu().numpy()

    def _negative(self, count: int) -> list[str] | None:
        return None if self.negative_prompt is None else [self.negative_prompt] * count


def component_problems(root: Path) -> list[ConfigError]:
    """What a diffusers StableAudioPipeline directory lacks: component configs, weights, tokenizer, scheduler."""
    problems = []
    accepted = "the full checkpoint: model_index.json, transformer/, vae/, text_encoder/, projection_model/, " \
               "tokenizer/, scheduler/"
    for part in WEIGHTED_COMPONENTS:
        folder = root / part
        if not (folder / "config.json").is_file():
            problems.append(ConfigError(SETTING, f"{root} has no {part}/config.json", accepted))
        elif not weight_files(folder):
            problems.append(ConfigError(SETTING, f"{root} has no weights in {part}/", accepted))
    if not any((root / "tokenizer" / f).is_file() for f in ("tokenizer.json", "spiece.model")):
        problems.append(ConfigError(SETTING, f"{root} has no tokenizer/tokenizer.json or spiece.model", accepted))
    if not (root / "scheduler" / "scheduler_config.json").is_file():
        problems.append(ConfigError(SETTING, f"{root} has no scheduler/scheduler_config.json", accepted))
    return problems


def write_tiny_stable_audio(directory: str | Path, seed: int = 0) -> Path:
    """Write a tiny random-initialised StableAudioPipeline (real classes, ~0.3 MB) for tests and smoke tests.

    Components: a 2-layer ``StableAudioDiTModel`` (16 wide), an ``AutoencoderOobleck`` at 8 kHz (hop 256),
    a 1-layer ``T5EncoderModel``, a ``StableAudioProjectionModel``, a ``CosineDPMSolverMultistepScheduler``
    (the released model's sampler) and a T5 tokenizer built offline from a character vocabulary. One window is
    96 latents = 3.072 s, so stitching is exercised by any request over 3 s. No hub access.

    Args:
        directory: where to write (created; existing files are overwritten).
        seed: torch seed for the random weights: the same seed writes the same weights.

    Returns:
        The directory, which ``StableAudioEngine(model_path=...)`` loads.
    """
    import torch
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    transformer = StableAudioDiTModel(sample_size=96, in_channels=4, num_layers=2, attention_head_dim=8,
                                      num_attention_heads=2, num_key_value_attention_heads=1, out_channels=4,
                                      cross_attention_dim=16, time_proj_dim=16, global_states_input_dim=16,
                                      cross_attention_input_dim=8)
    with _quiet_weight_norm():
        vae = AutoencoderOobleck(encoder_hidden_size=8, downsampling_ratios=[2, 4, 4, 8], decoder_channels=8,
                                 decoder_input_channels=4, audio_channels=2, channel_multiples=[1, 2, 2, 2],
                                 sampling_rate=8000)
    vocab = _tiny_vocab()
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(vocab), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                                           num_heads=2, relative_attention_num_buckets=8, pad_token_id=0,
                                           eos_token_id=1))
    projection = StableAudioProjectionModel(text_encoder_dim=16, conditioning_dim=8, min_value=0, max_value=512)
    scheduler = CosineDPMSolverMultistepScheduler(solver_order=2, prediction_type="v_prediction", sigma_data=1.0,
                                                  sigma_schedule="exponential", sigma_min=0.3, sigma_max=500.0)
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=64)
    pipe = StableAudioPipeline(vae=vae, text_encoder=text_encoder, projection_model=projection,
                               tokenizer=tokenizer, transformer=transformer, scheduler=scheduler)
    pipe.save_pretrained(out)  # type: ignore[attr-defined]
    (out / "MAESTRO_TEST_MODEL.json").write_text(json.dumps(
        {"engine": "stable-audio", "random_weights": True, "seed": seed,
         "note": "random-initialised test model: its audio is noise"}, indent=2) + "\n")
    return out


def _tiny_vocab() -> list[tuple[str, float]]:
    """T5's special pieces (pad 0, eos 1, unk 2), the word-start marker, then printable ASCII with and without it."""
    chars = [chr(c) for c in range(33, 127)]
    return ([("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
            + [(c, -5.0) for c in chars] + [("\u2581" + c, -4.0) for c in chars])


@contextlib.contextmanager
def _quiet_weight_norm() -> Iterator[None]:
    """Silence torch's FutureWarning about ``weight_norm``, which diffusers' Oobleck VAE still uses."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*weight_norm.* is deprecated", category=FutureWarning)
        yield


def _has_accelerate() -> bool:
    import importlib.util

    return importlib.util.find_spec("accelerate") is not None


def _steps(value: int | None) -> int:
    if value is None:
        return DEFAULT_STEPS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ConfigError("num_inference_steps", f"must be an integer 1..1000, got {value!r}")
    return value


def _guidance(value: float | None) -> float:
    if value is None:
        return DEFAULT_GUIDANCE
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 30.0:
        raise ConfigError("guidance_scale", f"must be a number 0..30, got {value!r}")
    return float(value)


def _architecture(config_path: Path) -> str:
    try:
        names = json.loads(config_path.read_text()).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        names = []
    return ", ".join(names) or "an unnamed model"
