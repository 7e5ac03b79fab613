"""The ``musicgen`` engine: MusicGen (transformers) from a local checkpoint, batched, seeded per item, full length.

* **Loading**: ``MAESTRO_MUSICGEN_MODEL=DIR`` (or ``model_path``) is read once with ``local_files_only=True``;
  a ``MusicgenForConditionalGeneration`` or ``MusicgenMelodyForConditionalGeneration`` checkpoint plus its
  processor files. fp32 on CPU, bf16 (or fp16) on CUDA.
* **Per-item seeds in one batch**: transformers' ``generate`` samples with one global RNG, so a row's tokens
  would depend on its batch neighbours. Generation runs greedy (``do_sample=False``) through
  :class:`PerItemSampler`, a logits processor that applies classifier-free guidance, temperature and top-k
  itself, then samples each item's codebooks with the Gumbel-max trick from that item's own
  ``torch.Generator`` (a fixed number of draws per step), and hands back scores whose argmax is the sample. An
  item's tokens therefore depend only on its prompt and seed; batched audio equals single-item audio up to float
  rounding of the padded text encoder and batched matmuls (the tests state and check the tolerance).
* **Full length**: tracks longer than ``window_s`` (30 s) are generated window by window; each new window is
  prompted with the EnCodec codes of the last ``overlap_s`` (10 s) of the previous one, so it continues it, and
  the windows are joined with :func:`inference.neural.stitch.stitch_windows` over that overlap.
* **Hybrid mode** (``melody_source='composer'``, a MusicGen-Melody checkpoint): the composer plans and renders
  a guide at the exact tempo and key; MusicGen-Melody is conditioned on the guide's chroma (window by window),
  and the track's metadata (sections, chords, variations) comes from the composer's plan.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inference.engine import GenerationRequest
from inference.neural.base import NeuralEngine, RenderedAudio, build_prompt, check_model_dir
from maestro_core.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

ENGINE_NAME = "musicgen"
ENGINE_VERSION = "musicgen-1.0.0"
MUSICGEN = "MusicgenForConditionalGeneration"
MUSICGEN_MELODY = "MusicgenMelodyForConditionalGeneration"
MELODY_SOURCES = ("none", "composer")
PLAN_KEYS = ("title", "tempo", "key", "time_signature", "duration_seconds", "sections", "chord_progression",
             "instrumentation", "variations", "descriptors", "feel", "melody_seed_sha256", "bars")
"""Hybrid mode: the metadata fields a track takes from the composer's plan."""
STRETCH_MARGIN = 0.08  # MusicGen misses a prompted tempo by about 5 %
_NEG = -1e4  # "impossible" score: finite so that guidance arithmetic after the sampler never makes NaN


class PerItemSampler:
    """A logits processor that samples every item from its own generator (see the module docstring).

    Args:
        generators: one ``torch.Generator`` per batch item, in batch order.
        num_codebooks: rows per item in MusicGen's ``(batch * codebooks, vocab)`` scores.
        guidance_scale: classifier-free guidance; above 1 the scores arrive doubled (conditional rows, then
            unconditional rows) and are combined here as ``uncond + (cond - uncond) * scale``.
        top_k: keep the k most likely tokens (0 keeps all).
        temperature: divides the guided logits (> 0).
    """

    def __init__(self, generators: Sequence[Any], num_codebooks: int, guidance_scale: float, top_k: int,
                 temperature: float) -> None:
        self.generators = list(generators)
        self.num_codebooks = num_codebooks
        self.guidance_scale = guidance_scale
        self.top_k = top_k
        self.temperature = temperature

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        rows = len(self.generators) * self.num_codebooks
        guided = scores[:rows].float()
        if scores.shape[0] == 2 * rows:
            uncond = scores[rows:].float()
            guided = uncond + (guided - uncond) * self.guidance_scale
        logits = guided / self.temperature
        vocab = logits.shape[-1]
        if 0 < self.top_k < vocab:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, -float("inf"))
        uniform = torch.cat([torch.rand((self.num_codebooks, vocab), generator=g, device=logits.device)
                             for g in self.generators])
        gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))
        choice = (logits + gumbel).argmax(dim=-1)
        out = torch.full_like(scores, _NEG)
        index = torch.arange(rows, device=scores.device)
        out[index, choice] = 0.0
        if scores.shape[0] == 2 * rows:  # the guidance processor after us then returns exactly these scores
            out[index + rows, choice] = 0.0
        return out


class MusicGenEngine(NeuralEngine):
    """MusicGen behind the Engine protocol.

    Args:
        model_path, batch_size, allow_cpu, preload_model, device: see :class:`NeuralEngine`.
        melody_source: ``'none'`` (text only) or ``'composer'`` (hybrid mode, needs a MusicGen-Melody checkpoint;
            ``MAESTRO_MELODY_SOURCE``).
        guidance_scale: classifier-free guidance (audiocraft's default 3.0).
        top_k: top-k sampling (audiocraft's default 250).
        temperature: sampling temperature (1.0).
        window_s: seconds per generated window (MusicGen was trained on 30 s).
        overlap_s: seconds each continuation window is prompted with and crossfaded over.

    Raises:
        ConfigError: naming ``MAESTRO_MUSICGEN_MODEL`` (checkpoint), ``MAESTRO_MELODY_SOURCE`` or the sampler
            option at fault.
    """

    name = ENGINE_NAME
    version = ENGINE_VERSION
    setting = "MAESTRO_MUSICGEN_MODEL"
    architectures = (MUSICGEN, MUSICGEN_MELODY)
    window_s = 30.0
    overlap_s = 10.0

    def __init__(self, model_path: str | Path | None = None, batch_size: int | None = None,
                 allow_cpu: bool | None = None, preload_model: bool = True, device: str | None = None,
                 melody_source: str | None = None, guidance_scale: float = 3.0, top_k: int = 250,
                 temperature: float = 1.0, window_s: float | None = None, overlap_s: float | None = None) -> None:
        self.melody_source = _melody_source(melody_source)
        self.guidance_scale = _positive("guidance_scale", guidance_scale, 1.0)
        self.temperature = _positive("temperature", temperature, 1e-3)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise ConfigError("top_k", f"must be an integer >= 0 (0 keeps every token), got {top_k!r}")
        self.top_k = top_k
        # the class's window_s/overlap_s are the defaults (and what planning reads); these are this instance's
        self.window_seconds = _positive("window_s", self.window_s if window_s is None else window_s, 1.0)
        self.overlap_seconds = float(self.overlap_s if overlap_s is None else overlap_s)
        if not 0.0 <= self.overlap_seconds < self.window_seconds:
            raise ConfigError("overlap_s", f"must be in [0, window_s={self.window_seconds:g}), "
                                           f"got {overlap_s!r}")
        super().__init__(model_path, batch_size, allow_cpu, preload_model, device)

    @classmethod
    def check(cls, model_path: str | Path | None = None, melody_source: str | None = None,
              **_: Any) -> list[ConfigError]:
        """Checkpoint problems (missing, no config, no weights, not MusicGen), and hybrid mode without Melody."""
        import os

        path = model_path if model_path is not None else os.environ.get(cls.setting)
        problems = check_model_dir(path, cls.setting, cls.config_name, cls.architectures)
        try:
            source = _melody_source(melody_source)
        except ConfigError as exc:
            return [*problems, exc]
        if not problems and source == "composer" and _architecture(Path(str(path))) != MUSICGEN_MELODY:
            problems.append(ConfigError("MAESTRO_MELODY_SOURCE", f"composer needs a {MUSICGEN_MELODY} checkpoint "
                                        f"in MAESTRO_MUSICGEN_MODEL; {path} holds {_architecture(Path(str(path)))}",
                                        "none, or a MusicGen-Melody checkpoint"))
        return problems

    @classmethod
    def check_request(cls, request: GenerationRequest, uses_melody: bool | None = None) -> GenerationRequest:
        """As :meth:`NeuralEngine.check_request`; in hybrid mode (``MAESTRO_MELODY_SOURCE=composer``) melody seeds
        are read, and the request must also suit the composer (its genre and mood presets)."""
        melody = _melody_source(None) == "composer" if uses_melody is None else uses_melody
        checked = super().check_request(request, uses_melody=melody)
        if melody:  # hybrid mode: the composer plans the track, with its presets and its melody seed parser
            from inference.composer.engine import check_request as check_for_composer

            check_for_composer(request)
        return checked

    # -- hooks ----------------------------------------------------------------------------------------------------

    def _load(self, model_dir: Path, device: str, dtype: Any) -> None:
        from transformers import AutoTokenizer

        if self.melody_source == "composer" and _architecture(model_dir) != MUSICGEN_MELODY:
            raise self.check(model_path=model_dir, melody_source=self.melody_source)[0]
        import transformers

        self.is_melody = _architecture(model_dir) == MUSICGEN_MELODY
        model_class: Any = getattr(transformers, MUSICGEN_MELODY if self.is_melody else MUSICGEN)
        try:
            model = model_class.from_pretrained(model_dir, local_files_only=True, dtype=dtype)
            # only the tokenizer: prompt audio is encoded with the model's own EnCodec, chroma computed here
            self._tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise ConfigError(self.setting, f"cannot load {model_dir}: {type(exc).__name__}: {exc}",
                              "a complete MusicGen checkpoint with its tokenizer files") from None
        self._model = model.to(device).eval()
        codec: Any = model.config.audio_encoder
        self.sample_rate = int(codec.sampling_rate)
        self.frame_rate = int(codec.frame_rate)
        self.hop = self.sample_rate // self.frame_rate
        decoder: Any = model.config.decoder
        self.num_codebooks = int(decoder.num_codebooks)
        # the delay pattern offsets each codebook of a channel by one step (stereo: codebooks interleave L/R)
        self.delay_steps = self.num_codebooks // int(decoder.audio_channels) - 1
        if self.melody_source == "composer":
            from inference.engine import get_engine

            self._composer = get_engine("composer", preload_model=False)  # the process-wide one (SoundFont loaded)

    def _model_settings(self) -> dict[str, Any]:
        return {"architecture": MUSICGEN_MELODY if getattr(self, "is_melody", False) else MUSICGEN,
                "guidance_scale": self.guidance_scale,
                "sampler": {"method": "gumbel-max, per-item torch.Generator", "top_k": self.top_k,
                            "temperature": self.temperature},
                "window_s": self.window_seconds, "overlap_s": self.overlap_seconds,
                "melody_source": self.melody_source}

    def _uses_melody(self) -> bool:
        return self.melody_source == "composer"

    def _render(self, requests: Sequence[GenerationRequest]) -> list[RenderedAudio]:
        guides = [self._compose_guide(r) for r in requests] if self.melody_source == "composer" else None
        # the composer ends a track on a bar line: in hybrid mode the guides set the length (the longest of the batch)
        seconds = max(g["plan"]["duration_seconds"] for g in guides) if guides else requests[0].duration_s
        # tempo correction changes the length by the stretch ratio: generate a margin, trimmed after correction
        segments = self.window_plan(seconds * (1.0 + STRETCH_MARGIN))
        sampler = PerItemSampler(self.generators(requests), self.num_codebooks, self.guidance_scale, self.top_k,
                                 self.temperature)
        prompts = [build_prompt(r) for r in requests]
        overlap = round(self.overlap_seconds * self.frame_rate)
        windows: list[list[np.ndarray]] = [[] for _ in requests]
        start = 0  # first frame of the current window in the track
        for w, new_frames in enumerate(segments):
            prompt_codes = None if w == 0 else self._encode([win[-1][:, -overlap * self.hop:] for win in windows])
            chroma_from = start if w == 0 else start - overlap
            melody = None if guides is None else [g["audio"] for g in guides]
            audio = self._generate(prompts, sampler, new_frames, prompt_codes, melody,
                                   (chroma_from * self.hop, (start + new_frames) * self.hop))
            for i, item in enumerate(audio):
                windows[i].append(item)
            start += new_frames
        return [self._assemble(request, wins, None if guides is None else guides[i])
                for i, (request, wins) in enumerate(zip(requests, windows, strict=True))]

    def _group_key(self, request: GenerationRequest) -> Any:
        return round(float(request.duration_s) * self.frame_rate)

    # -- windows ------------------------------------------------------------------------------------------------

    def window_plan(self, duration_s: float) -> list[int]:
        """New frames generated per window: the first window is up to ``window_s`` long, each later one adds up
        to ``window_s - overlap_s`` after an ``overlap_s`` prompt; they sum to ``duration_s`` in frames."""
        total = round(duration_s * self.frame_rate)
        window = round(self.window_seconds * self.frame_rate)
        overlap = round(self.overlap_seconds * self.frame_rate)
        plan = [min(total, window)]
        while sum(plan) < total:
            plan.append(min(window - overlap, total - sum(plan)))
        return plan

    def _generate(self, prompts: list[str], sampler: PerItemSampler, new_frames: int, prompt_codes: Any,
                  melody: list[np.ndarray] | None, span: tuple[int, int]) -> list[np.ndarray]:
        """One batched ``generate`` call: ``new_frames`` frames per item after an optional code prompt."""
        import torch
        from transformers import LogitsProcessorList

        text = self._tokenizer(prompts, padding=True, return_tensors="pt")
        kwargs: dict[str, Any] = {name: value.to(self.device) for name, value in text.items()}
        if melody is not None:
            pieces = np.stack([_fit(m[span[0]:span[1]], span[1] - span[0]) for m in melody])
            kwargs["input_features"] = torch.from_numpy(melody_chroma(pieces, self.sample_rate)).to(
                self.device, self.dtype)
        if prompt_codes is not None:
            kwargs["decoder_input_ids"] = prompt_codes
        # the delay pattern costs delay_steps steps: ask for that many more to get new_frames whole frames
        steps = new_frames + self.delay_steps
        with torch.inference_mode():
            out = self._model.generate(**kwargs, do_sample=False, guidance_scale=self.guidance_scale, top_k=None,
                                       temperature=None, max_new_tokens=steps, min_new_tokens=steps,
                                       logits_processor=LogitsProcessorList([sampler]))
        audio = out.to(torch.float32).cpu().numpy()
        want = (new_frames + (0 if prompt_codes is None else prompt_codes.shape[-1])) * self.hop
        if abs(audio.shape[-1] - want) > self.hop:  # invariant: the codec decodes hop samples per frame
            raise RuntimeError(f"MusicGen decoded {audio.shape[-1]} samples where {want} were planned")
        return [np.ascontiguousarray(_fit(a, want, axis=-1)) for a in audio]

    def _encode(self, tails: list[np.ndarray]) -> Any:
        """EnCodec codes of the window tails, shaped ``(batch * codebooks, frames)`` as ``decoder_input_ids``."""
        import torch

        values = torch.from_numpy(np.stack(tails)).to(self.device, self.dtype)  # (batch, channels, samples)
        codec = self._model.audio_encoder
        with torch.inference_mode():
            # stereo checkpoints run the mono codec per channel and interleave the codebooks (L, R, L, R, ...)
            per_channel = [codec.encode(values[:, c:c + 1], bandwidth=None).audio_codes for c in
                           range(values.shape[1])]
        per_channel = [c[0] if c.dim() == 4 else c for c in per_channel]  # (batch, codebooks, frames) each
        codes = torch.stack(per_channel, dim=2).flatten(1, 2) if len(per_channel) > 1 else per_channel[0]
        return codes.reshape(len(tails) * self.num_codebooks, -1)

    def _assemble(self, request: GenerationRequest, windows: list[np.ndarray],
                  guide: dict[str, Any] | None) -> RenderedAudio:
        from inference.neural.stitch import stitch_windows

        overlap = round(self.overlap_seconds * self.frame_rate) * self.hop
        audio = stitch_windows(windows, overlap) if len(windows) > 1 else windows[0].astype(np.float32)
        starts = np.cumsum([0] + [w.shape[-1] - overlap for w in windows[:-1]])
        seams = tuple(int(s + overlap // 2) for s in starts[1:])
        extra: dict[str, Any] = {"windows": len(windows), "window_s": self.window_seconds,
                                 "overlap_s": self.overlap_seconds}
        if guide is None:
            return RenderedAudio(audio, self.sample_rate, seams, request.tempo_bpm, request.key, extra=extra)
        plan = guide["plan"]
        extra["conditioning"] = "composer guide chroma (MusicGen-Melody)"
        return RenderedAudio(audio, self.sample_rate, seams, plan["tempo"], plan["key"], plan, guide["midi"], extra)

    # -- hybrid mode --------------------------------------------------------------------------------------------

    def _compose_guide(self, request: GenerationRequest) -> dict[str, Any]:
        """The composer's plan for ``request`` and its rendered guide at the model's sample rate (mono)."""
        import tempfile

        import soundfile

        from inference.neural.finish import resample

        with tempfile.TemporaryDirectory(prefix="maestro-guide-") as scratch:
            try:
                result = self._composer.generate(request, scratch)
            except InputError as exc:
                raise InputError(exc.field, f"{exc} (hybrid mode composes with the composer's presets)") from None
            pcm, sr = soundfile.read(result.audio_path, dtype="float32", always_2d=True)
            midi = Path(result.midi_path).read_bytes() if result.midi_path else None
        guide = resample(pcm.T.mean(axis=0, keepdims=True), sr, self.sample_rate)[0]
        plan = {k: result.metadata[k] for k in PLAN_KEYS}
        return {"audio": guide, "plan": plan, "midi": midi}


def melody_chroma(audio: np.ndarray, sample_rate: int, n_fft: int = 16384, hop: int = 4096) -> np.ndarray:
    """MusicGen-Melody's conditioning: the dominant chroma bin per frame, one-hot, shape (batch, frames, 12).

    The same computation as transformers' ``MusicgenMelodyFeatureExtractor`` (a normalised power spectrogram,
    librosa's chroma filter bank, max-normalised, argmax one-hot), written with ``torch.stft`` because that class
    needs torchaudio, which has no build for this torch.

    Args:
        audio: mono float32 samples, shape (batch, samples), at ``sample_rate`` Hz (the model's, 32 kHz).
    """
    import torch
    from transformers.audio_utils import chroma_filter_bank

    wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if wave.shape[-1] < n_fft:
        pad = n_fft - wave.shape[-1]
        wave = torch.nn.functional.pad(wave, (pad // 2, pad - pad // 2))
    window = torch.hann_window(n_fft)
    spec = torch.stft(wave, n_fft, hop_length=hop, window=window, center=True, pad_mode="reflect",
                      normalized=True, return_complex=True).abs() ** 2  # torchaudio Spectrogram(normalized=True)
    filters = torch.from_numpy(chroma_filter_bank(sampling_rate=sample_rate, num_frequency_bins=n_fft, tuning=0,
                                                  num_chroma=12)).float()
    chroma = torch.einsum("cf,bft->btc", filters, spec)
    onehot = torch.zeros_like(chroma)
    onehot.scatter_(-1, chroma.argmax(-1, keepdim=True), 1.0)
    return onehot.numpy()


def _fit(audio: np.ndarray, length: int, axis: int = -1) -> np.ndarray:
    """``audio`` cut or zero-padded to ``length`` samples along ``axis``."""
    audio = np.asarray(audio, dtype=np.float32)
    have = audio.shape[axis]
    if have >= length:
        return np.take(audio, np.arange(length), axis=axis)
    pad = [(0, 0)] * audio.ndim
    pad[axis] = (0, length - have)
    return np.pad(audio, pad)


def _architecture(model_dir: Path) -> str:
    try:
        names = json.loads((model_dir / "config.json").read_text()).get("architectures") or []
    except (OSError, ValueError):
        return "unknown"
    return str(names[0]) if names else "unknown"


def _melody_source(value: str | None) -> str:
    if value is None:
        import os

        value = os.environ.get("MAESTRO_MELODY_SOURCE") or "none"
    source = str(value).strip().lower()
    if source not in MELODY_SOURCES:
        raise ConfigError("MAESTRO_MELODY_SOURCE", f"unknown melody source {value!r}", ", ".join(MELODY_SOURCES))
    return source


def _positive(field: str, value: object, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value) >= low:
        raise ConfigError(field, f"must be a number >= {low:g}, got {value!r}")
    return float(value)
