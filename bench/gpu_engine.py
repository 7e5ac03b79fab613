"""Benchmark: batched MusicGen generation against batch-1 ``generate`` of the same requests, in the same run.

What is timed is the model itself: the engine's render hook (``MusicGenEngine._render``: the batched
``transformers`` ``generate`` calls with one ``torch.Generator`` per item, windows included), not the CPU
post-processing (tempo/key correction, mastering, encoding) that follows it. Every request has the same duration
and prompt shape, so a batch is exactly what the pipeline sends one actor (``maestro_pipeline.gpu.dense_batches``).

Reported:

* **batching ratio**: audio-seconds per GPU-second (per wall-second on CPU) of batches of ``--batch`` requests,
  divided by the same for the same requests generated one at a time (transformers' batch-1 ``generate``).
  Target on a GPU with a musicgen-small-sized model: >= 8x;
* **by batch size** (``--sizes``): audio-seconds per second and, on a GPU, peak GPU memory
  (``torch.cuda.max_memory_allocated``); where the throughput peaks;
* **real-time factor by duration** (``--durations``): audio seconds per second at ``--batch``.

On CPU only the batching ratio is printed (the tiny model's speed says nothing about a GPU's), and the bench says
that no GPU was available. Models: ``--model DIR`` (a real checkpoint), ``--size tiny`` (the test model:
``inference.neural.testmodel.write_tiny_musicgen``) or ``--size small`` (random weights in musicgen-small's
shape: a 24-layer 1024-wide decoder, a T5-base text encoder, the 32 kHz EnCodec; same sizes, so the same speed).

Usage: ``python bench/gpu_engine.py [--size tiny|small | --model DIR] [--batch 8] [--requests 16] [--seconds 10]
[--sizes 1,2,4,8,16,32] [--durations 10,30,60]``. Measured on the 2-core CPU box (tiny model, 4 requests of 5 s,
shared with other jobs, load average 8-11): batching ratio 2.96x and 5.55x in two runs. No GPU was available to
measure the GPU figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a MusicGen checkpoint directory (default: write one)")
    parser.add_argument("--size", choices=("tiny", "small"), default=None,
                        help="random weights to write when --model is not given (default: small on GPU, tiny on CPU)")
    parser.add_argument("--batch", type=int, default=None, help="requests per batched call (default: 8 GPU, 4 CPU)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests timed both ways (default: 2 batches on GPU, 1 on CPU)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per request (default: 10 GPU, 5 CPU)")
    parser.add_argument("--sizes", default="1,2,4,8,16,32", help="batch sizes for the GPU memory/throughput table")
    parser.add_argument("--durations", default="10,30,60", help="durations (s) for the GPU real-time-factor table")
    args = parser.parse_args()

    import torch

    gpu = torch.cuda.is_available()
    size = args.size or ("small" if gpu else "tiny")
    seconds = args.seconds or (10.0 if gpu else 5.0)
    args.batch = args.batch or (8 if gpu else 4)
    count = args.requests or (2 if gpu else 1) * args.batch
    weights = None if args.model else Path(tempfile.mkdtemp(prefix=f"bench-musicgen-{size}-"))
    try:
        _bench(args, build_engine(args.model, size, weights), gpu, size, seconds, count)
    finally:
        if weights is not None:  # random weights written for this run (about 1 GB for the small size)
            shutil.rmtree(weights, ignore_errors=True)


def _bench(args: argparse.Namespace, engine: Any, gpu: bool, size: str, seconds: float, count: int) -> None:
    """Times ``engine`` batched against one request a call, then (on a GPU) by batch size and by duration."""
    print(f"model: {engine.model_dir} ({'checkpoint' if args.model else size + ', random weights'}); device "
          f"{engine.device}, dtype {str(engine.dtype).removeprefix('torch.')}; {count} requests of {seconds:g} s")
    requests = make_requests(count, seconds)
    render(engine, requests[:1])  # warm-up: kernels, caches, allocator
    batched_s = timed(lambda: [render(engine, requests[i:i + args.batch]) for i in range(0, count, args.batch)])
    single_s = timed(lambda: [render(engine, [r]) for r in requests])
    audio_s = count * seconds
    print(f"batch {args.batch}: {audio_s / batched_s:.2f} audio-s per {'GPU' if gpu else 'wall'}-s; batch 1 "
          f"(transformers generate, one request a call): {audio_s / single_s:.2f}")
    print(f"batching ratio: {single_s / batched_s:.2f}x (target on a GPU with a musicgen-small-sized model: >= 8x)")
    if not gpu:
        print("no GPU was available: peak GPU memory and real-time factor by duration are not measured on CPU")
        return
    by_batch_size(engine, [int(s) for s in args.sizes.split(",") if s], seconds)
    by_duration(engine, [float(d) for d in args.durations.split(",") if d], args.batch)


def build_engine(model: str | None, size: str, out: Path | None) -> Any:
    """The MusicGen engine on the best device, loaded through the production path from ``model`` or from new
    weights of ``size`` written under ``out``."""
    from inference.neural.musicgen import MusicGenEngine

    if model is None:
        if out is None:
            raise ValueError("new weights need a directory to be written to")
        if size == "tiny":
            from inference.neural.testmodel import write_tiny_musicgen

            model = str(write_tiny_musicgen(out))
        else:
            model = str(write_small_sized_musicgen(out))
    return MusicGenEngine(model_path=model, allow_cpu=True, batch_size=1024)


def make_requests(count: int, seconds: float) -> list[Any]:
    """``count`` requests of one duration and prompt shape, each with its own seed."""
    from inference.engine import GenerationRequest

    return [GenerationRequest(genre="lofi chill", mood="relaxed", key_phrases=("rain", "night"), tempo_bpm=84,
                              key="A minor", duration_s=seconds, seed=1000 + i) for i in range(count)]


def render(engine: Any, requests: Sequence[Any]) -> list[Any]:
    """One batched model call (per window) for ``requests``: the engine's render hook, then a device sync."""
    out = engine._render([engine.validate(r) for r in requests])  # the model alone; post-processing is CPU work
    _sync()
    return out


def timed(work: Callable[[], Any]) -> float:
    _sync()
    start = time.perf_counter()
    work()
    _sync()
    return time.perf_counter() - start


def by_batch_size(engine: Any, sizes: list[int], seconds: float) -> None:
    """Throughput and peak GPU memory for each batch size; where throughput peaks."""
    import torch

    print(f"{'batch':>6} {'audio-s/GPU-s':>14} {'peak GPU MiB':>13}")
    best = (0.0, 0)
    for size in sizes:
        requests = make_requests(size, seconds)
        torch.cuda.reset_peak_memory_stats()
        try:
            wall = timed(lambda r=requests: render(engine, r))
        except torch.cuda.OutOfMemoryError:
            print(f"{size:>6} {'out of memory':>14}")
            break
        rate = size * seconds / wall
        best = max(best, (rate, size))
        print(f"{size:>6} {rate:>14.2f} {torch.cuda.max_memory_allocated() / 2**20:>13.0f}")
    print(f"throughput peaks at batch {best[1]} ({best[0]:.2f} audio-s per GPU-s)")


def by_duration(engine: Any, durations: list[float], batch: int) -> None:
    """Real-time factor (audio seconds per second) of a batch of ``batch`` requests, by requested duration."""
    print(f"{'seconds':>8} {'RTF (x real time)':>18}")
    for seconds in durations:
        requests = make_requests(batch, seconds)
        wall = timed(lambda r=requests: render(engine, r))
        print(f"{seconds:>8g} {batch * seconds / wall:>18.2f}")


def write_small_sized_musicgen(model_dir: Path) -> Path:
    """Random weights in musicgen-small's shape (facebook/musicgen-small's config sizes), with the test processor.

    The tokenizer is the test model's small vocabulary: it only changes the text embedding's row count, not the
    decoder's cost, which dominates generation.
    """
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    from inference.neural.testmodel import tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    text = T5Config(vocab_size=len(tokenizer), d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                    decoder_start_token_id=tokenizer.pad_token_id)
    codec = EncodecConfig(sampling_rate=32000, audio_channels=1, target_bandwidths=[2.2], num_filters=64,
                          hidden_size=128, codebook_size=2048, codebook_dim=128, num_lstm_layers=2,
                          upsampling_ratios=[8, 5, 4, 4], normalize=False, use_causal_conv=False)
    decoder = MusicgenDecoderConfig(vocab_size=2048, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                    ffn_dim=4096, num_codebooks=4, max_position_embeddings=2048, pad_token_id=2048,
                                    bos_token_id=2048, audio_channels=1)
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder))
    gen = model.generation_config
    gen.decoder_start_token_id = gen.pad_token_id = 2048
    gen.do_sample, gen.guidance_scale, gen.top_k, gen.max_length = True, 3.0, 250, 1500
    model.save_pretrained(model_dir)
    processor = MusicgenProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=32000), tokenizer)
    processor.save_pretrained(model_dir)
    return model_dir


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
