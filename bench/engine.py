"""Benchmark: real-time factor of the composer engine, end to end, on one CPU core.

Generates the issue's example request as a 180-second track (request -> mastered WAV + MIDI on disk) a few
times after one warm-up, reports the median wall time per stage (compose, render, effects, master, encode), and
in the same run times pretty_midi's own ``synthesize()`` (sine-wave additive synthesis, no effects, no
mastering) on the very same MIDI as the baseline. Target: >= 100x real time (< 1.8 s per 3-minute track).

It also times the peer a user would pick: FluidSynth's CLI (Debian ``fluidsynth``) rendering the same arrangement
(written as a Standard MIDI File with pretty_midi) with the SoundFont our engine rendered with (the file its
provenance names: ``--soundfont``, else the engine's default) to a 44.1 kHz WAV, pinned to the same
core, in the same run (median of ``--runs``), and prints our whole engine (compose, render, effects, master,
encode) as a ratio of FluidSynth's render alone. Target: >= 1.5x. Skipped, with a message, when ``fluidsynth`` is
not on PATH.

Usage: ``python bench/engine.py [--runs 3] [--seconds 180] [--cores 0] [--soundfont PATH]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core means one thread in every numeric library, set before imports
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

STAGES = ("compose", "render", "effects", "master", "encode")
EXAMPLE: dict[str, Any] = {"melody_midi": "midi_string_example_Cmaj7_G6",
           "key_phrases": ["rainy city lights", "quiet introspection", "velvet night"], "tempo_bpm": 72}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--seconds", type=float, default=180.0, help="track length in seconds")
    parser.add_argument("--cores", default="0", help="CPU cores to pin to, comma-separated ('' = no pinning)")
    parser.add_argument("--genre", default="lofi-chill")
    parser.add_argument("--mood", default="ambient-focus")
    parser.add_argument("--soundfont", default=None, help="SoundFont for both renderers (default: the engine's)")
    args = parser.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})

    import torch

    torch.set_num_threads(1)
    from maestro_ai.generator import MusicGenerator

    out = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    gen = MusicGenerator(genre=args.genre, mood=args.mood, output_dir=out, soundfont_path=args.soundfont)
    t0 = time.perf_counter()
    gen.engine  # noqa: B018 - once per process: SoundFont + embedding model
    build_s = time.perf_counter() - t0
    # Warm-up at full length: first-call imports and caches, and a heap grown to a track's working set, as a
    # long-lived worker has them (FluidSynth gets a warm-up run too).
    gen.generate_track(dict(EXAMPLE), duration_seconds=args.seconds, seed=1)

    walls: list[float] = []
    cpus: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    metadata: dict = {}
    for run in range(args.runs):
        timings: dict[str, float] = {}
        t0, c0 = time.perf_counter(), time.process_time()
        metadata, _ = gen.generate_track(dict(EXAMPLE), duration_seconds=args.seconds, seed=100 + run,
                                         progress=timings.__setitem__)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        for stage in STAGES:
            stages[stage].append(timings[stage])
    audio_s = metadata["duration_seconds"]
    wall = statistics.median(walls)

    import pretty_midi

    midi = pretty_midi.PrettyMIDI(metadata["midi_path"])
    t0 = time.perf_counter()
    midi.synthesize(fs=44100)
    baseline_s = time.perf_counter() - t0
    peer = fluidsynth_render(gen, args, out)
    shutil.rmtree(out)  # the rendered files are only timed, not kept (about 30 MB per 180 s track)

    pinned = f"core(s) {args.cores}" if args.cores else "no pinning"
    print(f"composer engine benchmark: {args.genre}/{args.mood}, {audio_s:.1f} s of 44.1 kHz stereo, {pinned}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"engine build (SoundFont + embedding model, once per process): {build_s:.2f} s; SoundFont "
          f"{engine_soundfont(gen)}")
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
    if peer is None:
        print("FluidSynth comparison skipped: no `fluidsynth` on PATH (Debian: apt-get install fluidsynth)")
        return
    fs_wall, fs_runs, fs_cpu, version = peer
    cpu = statistics.median(cpus)
    print(f"peer: {version} CLI, same arrangement's MIDI, same SoundFont, 44.1 kHz WAV: {fs_wall:.3f} s median "
          f"(runs: {', '.join(f'{w:.3f}' for w in fs_runs)}) = {audio_s / fs_wall:.0f}x real time")
    print(f"our whole engine (compose+render+effects+master+encode) vs FluidSynth's render alone: "
          f"{fs_wall / wall:.2f}x by wall time (target >= 1.5x; > 1 means ours is faster)")
    print(f"  by CPU time (steadier on a shared machine): ours {cpu:.3f} s, FluidSynth {fs_cpu:.3f} s (user+sys of "
          f"the process) = {fs_cpu / cpu:.2f}x")


def arrangement_midi(arrangement: Any, path: Path) -> Path:
    """Writes ``arrangement`` (parts with notes in ticks) as a Standard MIDI File with pretty_midi: the same notes,
    programs, drum flags, channel volumes (CC7) and pans (CC10) the SoundFont render plays."""
    import pretty_midi

    seconds_per_tick = arrangement.tempo_us / (1e6 * arrangement.ticks_per_beat)
    midi = pretty_midi.PrettyMIDI(resolution=arrangement.ticks_per_beat, initial_tempo=6e7 / arrangement.tempo_us)
    for part in arrangement.parts:
        instrument = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum)
        instrument.control_changes += [pretty_midi.ControlChange(7, part.volume, 0.0),
                                       pretty_midi.ControlChange(10, part.pan, 0.0)]
        instrument.notes += [pretty_midi.Note(velocity=vel, pitch=pitch, start=start * seconds_per_tick,
                                              end=end * seconds_per_tick) for start, end, pitch, vel in part.notes]
        midi.instruments.append(instrument)
    midi.write(str(path))
    return path


def engine_soundfont(gen: Any) -> str:
    """The SoundFont file the engine renders with, as its provenance records it (the asset whose id names a
    SoundFont), so that FluidSynth plays the very same bank."""
    fonts = [a.path for a in gen.engine.assets() if a.asset_id.startswith("asset_soundfont")]
    if len(fonts) != 1:
        raise RuntimeError(f"expected one SoundFont among the engine's assets, found {fonts}")
    return str(fonts[0])


def fluidsynth_render(gen: Any, args: argparse.Namespace,
                      out: Path) -> tuple[float, list[float], float, str] | None:
    """Median wall seconds of ``fluidsynth -ni -F out.wav -r 44100 SF2 MID`` on the first timed run's arrangement
    (the process is pinned to the same cores as this one), the runs, the median CPU seconds (user + sys) of the
    process, and FluidSynth's version; None without it."""
    import resource

    exe = shutil.which("fluidsynth")
    if exe is None:
        return None
    from inference.engine import GenerationRequest

    request = GenerationRequest(genre=args.genre, mood=args.mood, key_phrases=tuple(EXAMPLE["key_phrases"]),
                                tempo_bpm=EXAMPLE["tempo_bpm"], duration_s=args.seconds,
                                melody=EXAMPLE["melody_midi"], seed=100)
    mid = arrangement_midi(gen.engine.compose(request).arrangement, out / "peer.mid")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    version = version.replace(" runtime version", "").strip() or "FluidSynth"
    command = [exe, "-ni", "-q", "-F", str(out / "peer.wav"), "-r", "44100", engine_soundfont(gen), str(mid)]
    subprocess.run(command, capture_output=True, check=True)  # warm-up: page cache, like our engine's warm-up
    runs, cpus = [], []
    for _ in range(args.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)  # inherits this process's CPU affinity
        runs.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(runs), runs, statistics.median(cpus), version


if __name__ == "__main__":
    main()
