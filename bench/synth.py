"""Benchmark: seconds per 180-second part for Maestro's own synthesis (inference.synth), on one CPU core.

Renders one part per kit and per patch (drums: kick, snare/clap backbeat, 16th hats with open-hat accents and a
crash every 8 bars; voices: an 8th-note bass riff, held 4-note chords, a 16th arpeggio, a lead line), reports
the median of ``--runs`` CPU times per part and its real-time factor, and in the same run the cost a fresh
process pays before its first note: importing the package and loading the numba kernels (from the on-disk cache;
compiling them when the cache is cold, which happens once per install). Two "no reuse" rows defeat the per-note
cache: random 16th notes (pitch, length, velocity) through a lead, and a different random 4-note chord every bar
through the 7-voice supersaw pad. Target: every part well under 0.3 s.

Usage: ``python bench/synth.py [--runs 3] [--seconds 180] [--sr 44100]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402

FIRST_CALL = """
import time
t0 = time.perf_counter()
import inference.synth as s
t1 = time.perf_counter()
s.render_voice("saw_bass", [(0.0, 0.1, 40, 100)], 0.2, 44100, 0)
s.render_drums("808", [(0.0, "hat_closed", 100), (0.0, "kick", 100)], 0.2, 44100, 0)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""
CHORDS = ((48, 52, 55, 59), (45, 48, 52, 55), (50, 53, 57, 60), (43, 47, 50, 53))
RIFF = (36, 36, 48, 36, 43, 36, 46, 41)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--sr", type=int, default=44100)
    args = parser.parse_args()
    _pin_one_core()
    import inference.synth as synth

    print(_first_call_cost())
    seconds, sr = args.seconds, args.sr
    beat = 60.0 / 120.0
    print(f"{'part':28s} {'events':>7s} {'s/part':>8s} {'x real time':>12s}")
    for kit in synth.KITS:
        hits = _drum_part(kit, synth.KITS[kit], seconds, beat)
        cost = _median_cpu(partial(synth.render_drums, kit, hits, seconds, sr, 1), args.runs)
        print(f"{'drums ' + kit:28s} {len(hits):7d} {cost:8.3f} {seconds / cost:12.0f}")
    for patch in synth.PATCHES:
        notes = _voice_part(patch, seconds, beat)
        cost = _median_cpu(partial(synth.render_voice, patch, notes, seconds, sr, 1), args.runs)
        print(f"{'voice ' + patch:28s} {len(notes):7d} {cost:8.3f} {seconds / cost:12.0f}")
    rng = np.random.default_rng(0)
    sixteenths = [(i * beat / 4, beat / 4 * (0.5 + rng.random()), int(rng.integers(48, 84)),
                   int(rng.integers(1, 128))) for i in range(int(seconds / beat * 4))]
    bars = int(seconds / (4 * beat))
    chords = [(b * 4 * beat + 0.01 * rng.random(), 4 * beat * (0.8 + 0.2 * rng.random()), int(p),
               int(rng.integers(60, 110))) for b in range(bars) for p in 48 + np.sort(rng.choice(24, 4, False))]
    for patch, notes in (("saw_lead", sixteenths), ("supersaw_pad", chords)):
        cost = _median_cpu(partial(synth.render_voice, patch, notes, seconds, sr, 1), args.runs)
        print(f"{'no reuse ' + patch:28s} {len(notes):7d} {cost:8.3f} {seconds / cost:12.0f}")


def _drum_part(kit: str, names: tuple[str, ...], seconds: float, beat: float) -> list[tuple[float, str, int]]:
    """A four-to-the-floor / backbeat groove using what the kit has."""
    hits: list[tuple[float, str, int]] = []
    snare = "brush_snare" if "brush_snare" in names else "snare"
    for b in range(int(seconds / beat)):
        t = b * beat
        hits.append((t, "kick", 112 if b % 4 == 0 else 100))
        if b % 2 == 1:
            hits.append((t, snare, 105))
            if "clap" in names:
                hits.append((t, "clap", 90))
        for k in range(4):
            name = "hat_open" if (b % 4 == 3 and k == 2) else "hat_closed"
            hits.append((t + k * beat / 4, name, 90 if k == 0 else 55 + 10 * (k % 2)))
        if b % 32 == 0:
            hits.append((t, "crash", 110))
    return hits


def _voice_part(patch: str, seconds: float, beat: float) -> list[tuple[float, float, int, int]]:
    """A bass riff, held chords, an arpeggio or a lead, depending on the patch's role."""
    bars = int(seconds / (4 * beat))
    if patch.endswith("_bass"):
        return [(i * beat / 2, beat * 0.45, RIFF[i % len(RIFF)], 127 if i % 8 == 6 else 96)
                for i in range(bars * 8)]
    if patch.endswith("_pad"):
        return [(b * 4 * beat, 4 * beat, p, 90) for b in range(bars) for p in CHORDS[b % 4]]
    if patch == "chord_stab":
        return [(b * 4 * beat + s * beat * 1.5, beat * 0.5, p, 100) for b in range(bars) for s in range(2)
                for p in CHORDS[b % 4]]
    if patch == "pluck_arp":
        return [(i * beat / 4, beat / 4, CHORDS[(i // 16) % 4][i % 4] + 12, 100) for i in range(bars * 16)]
    return [(i * beat, beat * 0.9, 60 + RIFF[i % len(RIFF)] - 36, 100) for i in range(bars * 4)]


def _median_cpu(fn: Callable[[], object], runs: int) -> float:
    """Median CPU seconds of ``fn`` after one warm-up (CPU time: the machine may be shared)."""
    fn()
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def _first_call_cost() -> str:
    """Import and first-render cost of a fresh process, with the numba cache cold and warm, as a sentence."""
    with tempfile.TemporaryDirectory() as cold:
        cold_cost = _fresh_process({"NUMBA_CACHE_DIR": cold})
    _fresh_process({})  # make sure the package's own cache is populated
    warm_cost = _fresh_process({})
    return (f"fresh process: import {warm_cost[0]:.2f} s; first render {warm_cost[1]:.2f} s with the numba cache "
            f"warm, {cold_cost[1]:.2f} s when it is cold (compiling the kernels, once per install)")


def _fresh_process(extra_env: dict[str, str]) -> tuple[float, float]:
    """(import s, first render s) measured in a new interpreter."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), **extra_env}
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True, env=env)
    imp, first = (float(v) for v in out.stdout.split())
    return imp, first


def _pin_one_core() -> None:
    """Run on one core where the OS allows it."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


if __name__ == "__main__":
    main()
