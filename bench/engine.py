"""Benchmark: real-time factor of the composer engine, end to end, on one CPU core.

Generates the issue's example request as a 180-second track (request -> mastered WAV + MIDI on disk) a few
times after one warm-up, reports the median wall time per stage (compose, render, effects, master, encode), and
in the same run times pretty_midi's own ``synthesize()`` (sine-wave additive synthesis, no effects, no
mastering) on the very same MIDI as the baseline. Target: >= 100x real time (< 1.8 s per 3-minute track).

Usage: ``python bench/engine.py [--runs 3] [--seconds 180] [--cores 0]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core means one thread in every numeric library, set before imports
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

STAGES = ("compose", "render", "effects", "master", "encode")
EXAMPLE = {"melody_midi": "midi_string_example_Cmaj7_G6",
           "key_phrases": ["rainy city lights", "quiet introspection", "velvet night"], "tempo_bpm": 72}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--seconds", type=float, default=180.0, help="track length in seconds")
    parser.add_argument("--cores", default="0", help="CPU cores to pin to, comma-separated ('' = no pinning)")
    parser.add_argument("--genre", default="lofi-chill")
    parser.add_argument("--mood", default="ambient-focus")
    args = parser.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})

    import torch

    torch.set_num_threads(1)
    from maestro_ai.generator import MusicGenerator

    out = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    gen = MusicGenerator(genre=args.genre, mood=args.mood, output_dir=out)
    t0 = time.perf_counter()
    gen.engine  # noqa: B018 - once per process: SoundFont + embedding model
    build_s = time.perf_counter() - t0
    gen.generate_track(dict(EXAMPLE), duration_seconds=10, seed=1)  # warm-up: first-call imports and caches

    walls, stages = [], {s: [] for s in STAGES}
    metadata: dict = {}
    for run in range(args.runs):
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        metadata, _ = gen.generate_track(dict(EXAMPLE), duration_seconds=args.seconds, seed=100 + run,
                                         progress=timings.__setitem__)
        walls.append(time.perf_counter() - t0)
        for stage in STAGES:
            stages[stage].append(timings[stage])
    audio_s = metadata["duration_seconds"]
    wall = statistics.median(walls)

    import pretty_midi

    midi = pretty_midi.PrettyMIDI(metadata["midi_path"])
    t0 = time.perf_counter()
    midi.synthesize(fs=44100)
    baseline_s = time.perf_counter() - t0
    shutil.rmtree(out)  # the rendered files are only timed, not kept (about 30 MB per 180 s track)

    pinned = f"core(s) {args.cores}" if args.cores else "no pinning"
    print(f"composer engine benchmark: {args.genre}/{args.mood}, {audio_s:.1f} s of 44.1 kHz stereo, {pinned}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"engine build (SoundFont + embedding model, once per process): {build_s:.2f} s")
    print(f"{'stage':<10}{'median s':>10}{'share':>8}")
    for stage in STAGES:
        median = statistics.median(stages[stage])
        print(f"{stage:<10}{median:>10.3f}{median / wall:>8.0%}")
    print(f"{'total':<10}{wall:>10.3f}   (runs: {', '.join(f'{w:.3f}' for w in walls)})")
    print(f"engine real-time factor: {audio_s / wall:.0f}x (target >= 100x, i.e. < {audio_s / 100:.2f} s)")
    print(f"baseline pretty_midi.synthesize() of the same MIDI: {baseline_s:.2f} s = {audio_s / baseline_s:.1f}x "
          f"real time (sine waves only, no effects, no mastering, no file)")
    render = statistics.median(stages["render"])
    print(f"engine end to end vs baseline: {baseline_s / wall:.2f}x; SoundFont render stage alone vs baseline: "
          f"{baseline_s / render:.2f}x")


if __name__ == "__main__":
    main()
