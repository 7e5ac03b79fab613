"""Pipeline benchmark: N requests x 30 s through (a) a plain single-process loop, (b) Ray with 1 worker,
(c) Ray with 2 workers, all in one run on the same requests, plus the per-stage time split of the full pipeline.

    .venv/bin/python bench/pipeline.py            # N = 100 requests of 30 s (about 20 minutes on 2 cores)
    .venv/bin/python bench/pipeline.py --n 20     # a quick run

Figures: Ray overhead b/a (target <= 1.10), parallel efficiency a/(2c) (target >= 0.80), tracks per hour, and the
stage split plan / gate / generate / QC / sign+store / load. Each configuration writes to its own storage root so
none resumes another's work. Ray is started before timing (a production cluster is long-lived); actor start-up,
including each worker loading its engine, is inside the timings, as is the loop's own engine load in (a).

All three take the same planned table: the key phrases' descriptors are computed once, in the pipeline's plan
stage (the text model runs in the driver; its share is printed under 'plan'), and carried to the workers in the
DESCRIPTORS column, so no configuration loads the text model while it is timed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BENCH_DATE = dt.date(2026, 11, 15)
GENRES = [("lofi-chill", "ambient-focus", 72, "A minor"), ("house", "energetic", 124, "F minor"),
          ("jazz", "romantic", 96, "Bb major"), ("synthwave", "dreamy", 100, "E minor"),
          ("folk", "melancholic", 84, "D major"), ("ambient", "dreamy", 64, "C major"),
          ("techno", "dark", 130, "G minor"), ("pop", "uplifting", 112, "G major")]


def bench_prompts(n: int, duration_s: int) -> list[dict]:
    """``n`` rights-clear prompts spread over genres (one request each)."""
    rows = []
    for i in range(n):
        genre, mood, tempo, key = GENRES[i % len(GENRES)]
        rows.append({"PROMPT_ID": f"bench_{i:04d}", "GENRE": genre, "MOOD": mood,
                     "KEY_PHRASES": json.dumps([f"bench phrase {i}", "night city"]), "TEMPO_BPM": tempo,
                     "MUSICAL_KEY": key, "DURATION_S": duration_s, "MELODY_SEED_ASSET_ID": None,
                     "TERRITORIES": json.dumps(["US"]), "TARGET_COUNT": 1, "PRIORITY": 1, "ACTIVE": True})
    return rows


def setup(home: Path, n: int, duration_s: int):
    from maestro_core.config import load_settings
    from maestro_core.seed import seed_warehouse
    from maestro_core.signing_keys import default_keys_dir, init_keys
    from maestro_core.warehouse import connect

    home.mkdir(parents=True, exist_ok=True)
    settings = load_settings(home=home)
    with connect(settings) as wh:
        wh.migrate()
        seed_warehouse(wh)
        wh.execute_file("bench/deactivate_prompts.sql")
        wh.upsert("PROMPT_CATALOG", bench_prompts(n, duration_s))
    init_keys(default_keys_dir(settings))
    return settings


class _DescriptorTiming(logging.Handler):
    """Collects the seconds ``planning.with_descriptors`` logs, to show the text model's share of 'plan'."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds = 0.0
        self.phrase_lists = 0

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "phrase_lists"):
            self.seconds += float(getattr(record, "seconds", 0.0))
            self.phrase_lists += int(record.phrase_lists)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="requests (default 100)")
    parser.add_argument("--duration", type=int, default=30, help="seconds per track (default 30)")
    parser.add_argument("--batch-size", type=int, default=1, help="requests per Ray batch in (b) and (c) (default 1)")
    args = parser.parse_args()

    import ray

    from maestro_core.request_status import PLANNED
    from maestro_pipeline import PipelineOptions, catalog, planning, run_catalog, staging
    from maestro_pipeline.fanout import FanoutConfig, run_generation, run_locally

    root = Path(tempfile.mkdtemp(prefix="maestro-bench-"))
    settings = setup(root / "home", args.n, args.duration)
    ray.init(address="local", num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False

    # (c) the full pipeline with 2 workers: per-stage split, and its generation time.
    timing = _DescriptorTiming()
    planning_log = logging.getLogger(planning.__name__)
    planning_log.addHandler(timing)
    planning_log.setLevel(logging.INFO)
    options = PipelineOptions(duration_s=args.duration, shard_size=args.n, pool_size=2, batch_size=args.batch_size)
    report = run_catalog(settings, BENCH_DATE, options)
    planning_log.removeHandler(timing)
    c_seconds = report.stage_seconds["generate_total"]
    ctx = catalog.context(settings, BENCH_DATE)
    gated = staging.read_stage(catalog.stage_store(ctx), staging.stage_path(ctx.run_id, "gated"))
    # (a) and (b) take the very table (c) generated from: planned, gated, descriptors included.
    work = catalog.work_table(planning.with_status(gated, PLANNED))
    described = sum(1 for d in work["DESCRIPTORS"].to_pylist() if d)

    def spec_for(name: str):
        return dataclasses.replace(catalog.worker_spec(settings, options), storage_url=f"file://{root}/{name}")

    # (b) Ray, 1 worker, same requests, fresh storage.
    start = time.perf_counter()
    b_results = run_generation(work, spec_for("ray1"), FanoutConfig(pool_size=1, batch_size=args.batch_size))
    b_seconds = time.perf_counter() - start
    # (a) plain loop in this process, same requests, fresh storage.
    start = time.perf_counter()
    a_results = run_locally(work, spec_for("loop"))
    a_seconds = time.perf_counter() - start

    n_ok = sum(1 for s in a_results["STATUS"].to_pylist() if s == "generated")
    stages = report.stage_seconds
    split = {"plan": stages["plan"], "gate": stages["gate"], "generate": stages["generate"], "qc": stages["qc"],
             "sign_store": stages["sign_store"], "load": stages["load"]}
    total = sum(split.values())
    print(f"pipeline bench: N={work.num_rows} requests x {args.duration} s, {os.cpu_count()} cores "
          f"({n_ok} passed QC in the loop, {b_results.num_rows} rows from Ray 1 worker)")
    print(f"planned table: {described}/{work.num_rows} requests carry DESCRIPTORS "
          f"({timing.phrase_lists} phrase lists described in the plan stage in {timing.seconds:.2f} s)")
    print(f"(a) plain loop        {a_seconds:8.1f} s")
    print(f"(b) Ray, 1 worker     {b_seconds:8.1f} s")
    print(f"(c) Ray, 2 workers    {c_seconds:8.1f} s")
    print(f"Ray overhead b/a      {b_seconds / a_seconds:8.3f}   (target <= 1.10)")
    print(f"parallel eff. a/(2c)  {a_seconds / (2 * c_seconds):8.3f}   (target >= 0.80)")
    print(f"tracks per hour (c)   {3600 * work.num_rows / c_seconds:8.0f}")
    print("stage split (c, seconds summed over workers; share of their sum):")
    for name, seconds in split.items():
        print(f"  {name:<11} {seconds:8.2f} s  {100 * seconds / total:5.1f} %")
    print(f"    (plan includes {timing.seconds:.2f} s of key-phrase descriptors: the text model, once, in the driver)")
    ray.shutdown()


if __name__ == "__main__":
    main()
