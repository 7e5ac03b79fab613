"""Profile: one worker's cost per track, end to end (generate, QC, sign, store), under cProfile.

    .venv/bin/python bench/worker_profile.py                          # 20 tracks of 5 s
    .venv/bin/python bench/worker_profile.py --n 30 --duration 30 --top 40
    .venv/bin/python bench/worker_profile.py --deliver-only           # QC, signing and storage only

A ``RequestWorker`` in this process (no Ray: the figures are the worker's own) renders ``--n`` requests of the
catalog bench's prompts after a warm-up of four (a long-lived worker's heap and caches are warm). It prints the
mean per-track stage times the worker records (T_GENERATE_S, T_QC_S, T_SIGN_STORE_S) and cProfile's listing by
cumulative and by own time, per track. ``--deliver-only`` profiles only what follows generation
(``RequestWorker._deliver``), the pipeline's own cost on top of the engine.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="tracks profiled (after a warm-up of four)")
    parser.add_argument("--duration", type=int, default=5, help="track length, seconds")
    parser.add_argument("--top", type=int, default=25, help="lines of each cProfile listing")
    parser.add_argument("--deliver-only", action="store_true", help="profile QC, signing and storage only")
    parser.add_argument("--keep", type=Path, default=None, help="work directory to keep (default: removed)")
    args = parser.parse_args()
    from bench.pipeline import work_dir

    with work_dir(args.keep, "maestro-worker-profile-") as root:
        _profile(args, root)


def _profile(args: argparse.Namespace, root: Path) -> None:
    from bench.pipeline import setup, worker_requests
    from maestro_pipeline.worker import RequestWorker, WorkerSpec

    settings = setup(root / "home", args.n + 4, args.duration)
    rows = worker_requests(args.n + 4, args.duration, "profile", "bench_profile", first_seed=9000)
    start = time.perf_counter()
    worker = RequestWorker(WorkerSpec(storage_url=f"file://{root}/store", settings={"home": str(settings.home)}))
    print(f"worker start-up (engine, QC warm-up, signing keys): {time.perf_counter() - start:.2f} s")
    for row in rows[:4]:
        worker.process(row)
    profile = cProfile.Profile()
    method = "_deliver" if args.deliver_only else "process"
    profiled = getattr(worker, method)

    def timed(*call_args: Any) -> Any:
        profile.enable()
        try:
            return profiled(*call_args)
        finally:
            profile.disable()

    setattr(worker, method, timed)  # the instance's own attribute: process still calls the profiled _deliver
    start = time.perf_counter()
    out = [worker.process(row) for row in rows[4:]]
    wall = time.perf_counter() - start
    failed = [o for o in out if o["STATUS"] != "generated"]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(out)} tracks failed: {failed[0].get('ERROR_MESSAGE')}")
    n = len(out)
    print(f"{n} tracks of {args.duration} s in one worker: {1000 * wall / n:.1f} ms wall per track")
    for key in ("T_GENERATE_S", "T_QC_S", "T_SIGN_STORE_S"):
        print(f"  {key:15s} {1000 * sum(o[key] for o in out) / n:7.1f} ms per track")
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(args.top)
        print(f"\ncProfile by {order} ({method}; seconds over {n} tracks):")
        print("\n".join(line for line in text.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
