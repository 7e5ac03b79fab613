"""Scale benchmark: a synthetic catalog day of 10,000 requests on the embedded stack (DuckDB, files, in-process Ray).

    .venv/bin/python bench/scale.py                              # 10,000 requests, 5 s tracks, 40 generated
    .venv/bin/python bench/scale.py --requests 1000 --generate 20  # the scaling check: time per request stays flat

What runs on every request: plan (prompts -> requests, recorded ``planned``, key-phrase descriptors), gate (rights
gate and ISRCs) and load (one MERGE transaction of tracks, provenance, splits and request statuses). Generating
10,000 real tracks takes hours on 2 cores, so generation runs on a measured sample (``--generate N`` requests, on
the Ray actor pool exactly as a run does, QC and C2PA signing included), and the run's generation wall is
extrapolated from the sample's wall per track (pool start-up included, so the estimate errs on the slow side). The
other requests get result rows cloned from the sample's real ones with their own ids, so the load MERGEs 10,000
realistic rows. The output says which figures are measured and which extrapolated.

Reported per stage: wall seconds, the driver's peak RSS during the stage (sampled every 10 ms), rows per second;
then tracks per hour, the XCom (what the stage functions return, as JSON) and Parquet (stage tables) hand-off
sizes, and the targets: plan + gate + load <= 5 % of the run's wall time, driver peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCALE_DATE = dt.date(2026, 11, 20)
PER_PROMPT = 40  # TARGET_COUNT of every synthetic prompt, as in the scaled catalog
GENRES = [("lofi-chill", "ambient-focus", 72, "A minor"), ("house", "energetic", 124, "F minor"),
          ("jazz", "romantic", 96, "Bb major"), ("synthwave", "dreamy", 100, "E minor"),
          ("folk", "melancholic", 84, "D major"), ("ambient", "dreamy", 64, "C major"),
          ("techno", "dark", 130, "G minor"), ("pop", "uplifting", 112, "G major")]
RSS_TARGET_BYTES = 1.5 * 2**30


def scale_prompts(requests: int) -> list[dict[str, Any]]:
    """Rights-clear prompts over eight genres, PER_PROMPT requests each (the last prompt takes the remainder)."""
    rows = []
    for i in range(-(-requests // PER_PROMPT)):
        genre, mood, tempo, key = GENRES[i % len(GENRES)]
        rows.append({"PROMPT_ID": f"scale_{i:05d}", "GENRE": genre, "MOOD": mood,
                     "KEY_PHRASES": json.dumps([f"scale phrase {i}", "night city"]), "TEMPO_BPM": tempo,
                     "MUSICAL_KEY": key, "DURATION_S": 5, "MELODY_SEED_ASSET_ID": None,
                     "TERRITORIES": json.dumps(["US"]), "TARGET_COUNT": min(PER_PROMPT, requests - i * PER_PROMPT),
                     "PRIORITY": 1, "ACTIVE": True})
    return rows


class RssSampler:
    """The driver's resident set size, sampled every ``interval_s`` on a thread; ``peak()`` since the last reset."""

    def __init__(self, interval_s: float = 0.01) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval_s
        self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def reset(self) -> None:
        self._peak = self._process.memory_info().rss

    def peak(self) -> int:
        return max(self._peak, self._process.memory_info().rss)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Stages:
    """Wall seconds, peak driver RSS (bytes) and rows of each timed stage, in order."""

    sampler: RssSampler
    rows: dict[str, tuple[float, int, int]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, rows: int) -> Iterator[None]:
        self.sampler.reset()
        start = time.perf_counter()
        yield
        self.rows[name] = (time.perf_counter() - start, self.sampler.peak(), rows)


def setup(home: Path, requests: int) -> Any:
    from bench.pipeline import bench_home

    return bench_home(home, scale_prompts(requests))


def cloned_results(sample: list[dict[str, Any]], requests: list[dict[str, Any]],
                   offset: int = 0) -> list[dict[str, Any]]:
    """Result rows for ``requests`` cloned from the real ``sample`` results: each keeps its template's content
    (and so its size) but carries its own request id, track id, ISRC and URI, in the row and in the TRACK_ROW
    and PROVENANCE_ROW it carries, so the load MERGEs one new track per request."""
    templates = [r for r in sample if r["STATUS"] == "generated"]
    out = []
    for i, request in enumerate(requests):
        template = templates[(offset + i) % len(templates)]
        swap = {template["REQUEST_ID"]: request["REQUEST_ID"], template["TRACK_ID"]: request["TRACK_ID"]}
        track = json.loads(template["TRACK_ROW"])
        old_isrc = track.get("ISRC")
        if old_isrc and request.get("ISRC"):
            swap[old_isrc] = request["ISRC"]

        def swapped(text: str | None, swap: dict[str, str] = swap) -> str | None:
            if text is None:
                return None
            for old, new in swap.items():
                text = text.replace(old, new)
            return text

        out.append({**template, "REQUEST_ID": request["REQUEST_ID"], "TRACK_ID": request["TRACK_ID"],
                    "URI": swapped(template["URI"]), "TRACK_ROW": swapped(template["TRACK_ROW"]),
                    "PROVENANCE_ROW": swapped(template["PROVENANCE_ROW"]), "RESUMED": False})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="requests in the day (default 10,000)")
    parser.add_argument("--generate", type=int, default=40,
                        help="requests generated for real, to measure per-track cost (default 40)")
    parser.add_argument("--workers", type=int, default=2, help="Ray generator actors (default 2)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work directory to keep (default: a temp dir, removed at the end)")
    args = parser.parse_args()
    from bench.pipeline import work_dir

    with work_dir(args.keep, "maestro-scale-") as root:
        _day(args, root)


def _day(args: argparse.Namespace, root: Path) -> None:  # noqa: PLR0915 - one linear script: time each stage, print
    """The synthetic catalog day of ``args`` under ``root``, each stage timed, and the figures printed."""

    import pyarrow as pa
    import ray

    from maestro_core.request_status import PLANNED
    from maestro_core.storage import TrackStore
    from maestro_pipeline import PipelineOptions, catalog, planning, staging, tables
    from maestro_pipeline.fanout import FanoutConfig, fan_out

    settings = setup(root / "home", args.requests)
    ray.init(address="local", num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    options = PipelineOptions(duration_s=5, shard_size=1024, pool_size=args.workers)
    ctx = catalog.context(settings, SCALE_DATE)
    store = TrackStore(settings.storage_url)
    stages = Stages(RssSampler())
    xcom: dict[str, Any] = {}

    catalog.preflight_stage(ctx, options)
    catalog.open_stage(ctx)
    with stages.stage("plan", args.requests):
        xcom["planned_path"] = catalog.plan_stage(ctx, options)
    with stages.stage("gate", args.requests):
        xcom["gated_path"] = catalog.gate_stage(ctx, xcom["planned_path"])
    with stages.stage("shard", args.requests):
        xcom["shards"] = catalog.shard_stage(ctx, xcom["gated_path"], options)
    ids = planning.with_status(staging.read_stage(store, xcom["gated_path"], ["REQUEST_ID", "TRACK_ID", "ISRC",
                                                                          "STATUS"]), PLANNED).sort_by("REQUEST_ID")
    cleared = ids.num_rows
    sample_ids = set(ids["REQUEST_ID"].to_pylist()[:args.generate])
    gated = staging.read_stage(store, xcom["gated_path"])
    sample = planning.with_status(gated, PLANNED).sort_by("REQUEST_ID").slice(0, len(sample_ids))
    del gated

    # Generation, measured on the sample: the same fan-out a shard runs (actor start-up, QC and signing inside).
    spec = catalog.worker_spec(settings, options)
    with stages.stage("generate (sample)", sample.num_rows):
        run = fan_out(catalog.work_table(sample), spec, FanoutConfig(pool_size=args.workers))
    real = {r["REQUEST_ID"]: r for r in run.results.to_pylist()}
    generated = [r for r in real.values() if r["STATUS"] == "generated"]
    if not generated:
        raise SystemExit("no sample request passed QC; nothing to clone results from")

    # Results for every request: the sample's real ones plus clones, built and staged one shard at a time (round
    # robin over request ids, as generate_stage shards them), so this script holds no more than one shard's rows.
    n_shards = len(xcom["shards"])
    result_paths = []
    stats = json.dumps(run.stats.to_dict())
    for shard_no in range(n_shards):
        part = ids.take(pa.array(range(shard_no, cleared, n_shards), pa.int64())).to_pylist()
        rows = [real.get(r["REQUEST_ID"]) or cloned_results(generated, [r], offset=shard_no + i * n_shards)[0]
                for i, r in enumerate(part)]
        table = pa.Table.from_pylist(rows, schema=tables.RESULT_TABLE)
        result_paths.append(staging.write_stage(store, ctx.run_id, f"results-{shard_no:04d}-of-{n_shards:04d}",
                                                table, {catalog.POOL_STATS_KEY: stats}))
    cloned = cleared - len(real)
    del ids, part, rows, table
    gc.collect()  # what this script built is not the driver's: the load starts from the pipeline's own state
    xcom["result_paths"] = result_paths
    with stages.stage("load", cleared):
        xcom["loaded"] = catalog.load_stage(ctx, xcom["gated_path"], result_paths, options)
    catalog.close_stage(ctx)
    stages.sampler.close()
    ray.shutdown()

    # Extrapolation. The sample's wall splits into the pool's start-up and its work: a full pool of A actors turns
    # out one track per (worker seconds per track / A). A run starts a pool per shard, so the day pays the start-up
    # once per shard, and every cleared request's worker seconds spread over the actors.
    gen_s, _, gen_rows = stages.rows["generate (sample)"]
    worker_s = run.stats.busy_s / gen_rows
    per_track_s = worker_s / args.workers
    startup_s = max(0.0, gen_s - per_track_s * gen_rows)
    day_generate_s = n_shards * startup_s + per_track_s * cleared
    orchestration = ("plan", "gate", "shard", "load")
    driver_s = sum(stages.rows[s][0] for s in orchestration)
    run_s = driver_s + day_generate_s
    peak = max(p for _, p, _ in stages.rows.values())

    print(f"scale bench: {args.requests} requests x 5 s ({cleared} cleared by the gate), "
          f"{args.workers} Ray actors, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"{'stage':<20}{'wall s':>9}{'ms/request':>12}{'rows/s':>10}{'driver peak RSS':>18}")
    for name, (seconds, rss, count) in stages.rows.items():
        print(f"{name:<20}{seconds:>9.2f}{1000 * seconds / max(1, count):>12.3f}{count / seconds:>10.0f}"
              f"{rss / 2**20:>15.0f} MB")
    print(f"generation, measured on {gen_rows} requests in {gen_s:.1f} s on {args.workers} actors: worker time per "
          f"track {worker_s:.3f} s (generate + QC + sign/store), so {per_track_s:.3f} s wall per track on a full "
          f"pool; start-up and tail {startup_s:.1f} s; pool idle {100 * run.stats.idle_share:.1f} % of the sample "
          f"(start-up included), batch size {run.stats.batch_size}, first result after "
          f"{run.stats.first_result_s:.1f} s")
    print(f"generation of all {cleared}, EXTRAPOLATED from that sample ({n_shards} shard(s) x start-up + "
          f"{cleared} x wall per track): {day_generate_s:.0f} s")
    print(f"load: {cleared} result rows ({cleared - cloned} real, {cloned} cloned from "
          f"them with their own ids) in {stages.rows['load'][0]:.2f} s = "
          f"{cleared / stages.rows['load'][0]:.0f} rows/s; rows changed: {sum(xcom['loaded'].values())}")
    print(f"tracks per hour (run wall = measured plan+gate+shard+load + extrapolated generation): "
          f"{3600 * cleared / run_s:.0f}")
    sizes = {"planned": store.read_bytes(xcom["planned_path"]), "gated": store.read_bytes(xcom["gated_path"])}
    results_bytes = sum(len(store.read_bytes(k)) for k in result_paths)
    print(f"hand-offs: XCom {len(json.dumps(xcom, default=str))} bytes in all (paths and counts: "
          f"{', '.join(f'{k} {len(json.dumps(v, default=str))} B' for k, v in xcom.items())}); Parquet: planned "
          f"{len(sizes['planned']) / 2**20:.2f} MB, gated {len(sizes['gated']) / 2**20:.2f} MB, results "
          f"{results_bytes / 2**20:.2f} MB in {len(result_paths)} shard file(s)")
    # Cost model: core-seconds per minute of audio for each stage (workers: their summed single-threaded stage
    # times; driver stages: their wall, one thread), and what a million tracks a day of this length needs.
    minutes = cleared * 5 / 60
    sample_minutes = gen_rows * 5 / 60
    cost = {name: sum(v or 0.0 for v in run.results[column].to_pylist()) / sample_minutes
            for name, column in (("generate", "T_GENERATE_S"), ("qc", "T_QC_S"), ("sign_store", "T_SIGN_STORE_S"))}
    cost.update({name: stages.rows[name][0] / minutes for name in ("plan", "gate", "load")})
    print("core-seconds per track-minute (5 s tracks; worker stages measured on the sample, driver stages on "
          f"all {cleared}): " + ", ".join(f"{k} {v:.3f}" for k, v in cost.items()))
    per_track_core_s = sum(cost.values()) * 5 / 60
    print(f"1,000,000 tracks/day of 5 s at {per_track_core_s:.3f} core-s each: "
          f"{1e6 * per_track_core_s / 86400:.1f} cores busy around the clock (composer engine; the driver's "
          f"plan + gate + load share: {1e6 * sum(cost[k] for k in ('plan', 'gate', 'load')) * 5 / 60 / 86400:.2f})")
    share = driver_s / run_s
    print(f"target: plan + gate + shard + load = {driver_s:.1f} s = {100 * share:.2f} % of the run's wall "
          f"{run_s:.0f} s (<= 5 %: {'met' if share <= 0.05 else 'NOT met'})")
    print(f"target: driver peak RSS {peak / 2**20:.0f} MB (< {RSS_TARGET_BYTES / 2**20:.0f} MB: "
          f"{'met' if peak < RSS_TARGET_BYTES else 'NOT met'})")


if __name__ == "__main__":
    main()
