"""Pipeline benchmark: for each track length, the whole pipeline against the engine alone, in one run.

    .venv/bin/python bench/pipeline.py                         # 5 s and 30 s tracks, 24 requests each
    .venv/bin/python bench/pipeline.py --durations 30 --n 100 --ray-overhead   # also (a) vs (b), as before
    .venv/bin/python bench/pipeline.py --qc-lengths 60,180     # QC's share at further lengths (default 180)
    .venv/bin/python bench/pipeline.py --durations 5 --n 680 --per-prompt 40 --no-worker-loop --qc-lengths ''
                                                               # issue 16's catalog day: 17 prompts x 40

For each length, on the same planned requests:
- (e) the engine alone: ``engine.generate`` (compose, render, effects, master, encode) in a loop in this process,
  one thread: its real-time factor per core is the baseline. It is timed in two halves of the requests, one just
  before (c) and one just after, so that a machine whose speed drifts over the run (a shared VM) biases neither;
- (e*) the engine alone on ``--pool`` Ray workers at once, the requests dealt out between them: the engine's own
  real-time factor per core when every core is busy, as in (c). Cores that share a memory bus slow each other
  down (on the 2-core development VM by 0 to 15 %); (c) against (e*) is what orchestration, QC and storage cost
  on their own. The issue's target stays (c) against (e);
- (a) a plain worker loop in this process (``run_locally``: generate, QC, sign, store), one core; also shown
  without the worker's start-up (engine, QC warm-up), which a long run pays once per worker;
- (c) the full pipeline ``run_catalog`` (plan, gate, Ray with ``--pool`` workers, load), wall time from the call;
- (b) with ``--ray-overhead``: Ray with 1 worker, for the Ray overhead b/a (target <= 1.10).

Figures: pipeline throughput per core (audio seconds per wall second of (c), divided by the cores) as a ratio of
(e)'s real-time factor (targets: >= 0.5x for 5 s, >= 0.75x for 30 s), the same for the worker loop (a), parallel
efficiency a/(2c), tracks per hour, the stage split of (c), and QC time as a share of generation time (target
<= 25%), from the workers' own T_QC_S / T_GENERATE_S, for every length in ``--qc-lengths``. Each configuration
writes to its own storage root so none resumes another's work. Ray is started before timing (a production
cluster is long-lived); actor start-up, including each worker loading its engine, is inside the timings.

All configurations take the same planned table: the key phrases' descriptors are computed once, in the pipeline's
plan stage (the text model runs in the driver; its share is printed under 'plan'), and carried to the workers in
the DESCRIPTORS column, so no worker loads the text model. The driver loads the text model once, before any
timing (its load time is printed), so that the first length does not pay it and the second not.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BENCH_DATE = dt.date(2026, 11, 15)
GENRES = [("lofi-chill", "ambient-focus", 72, "A minor"), ("house", "energetic", 124, "F minor"),
          ("jazz", "romantic", 96, "Bb major"), ("synthwave", "dreamy", 100, "E minor"),
          ("folk", "melancholic", 84, "D major"), ("ambient", "dreamy", 64, "C major"),
          ("techno", "dark", 130, "G minor"), ("pop", "uplifting", 112, "G major")]


def bench_prompts(n: int, duration_s: int, per_prompt: int = 1) -> list[dict]:
    """Rights-clear prompts spread over genres for ``n`` requests, ``per_prompt`` requests each (TARGET_COUNT; the
    last prompt takes the remainder): 1 gives every request its own key phrases, 40 is issue 16's catalog day."""
    rows = []
    for i, start in enumerate(range(0, n, per_prompt)):
        genre, mood, tempo, key = GENRES[i % len(GENRES)]
        rows.append({"PROMPT_ID": f"bench_{i:04d}", "GENRE": genre, "MOOD": mood,
                     "KEY_PHRASES": json.dumps([f"bench phrase {i}", "night city"]), "TEMPO_BPM": tempo,
                     "MUSICAL_KEY": key, "DURATION_S": duration_s, "MELODY_SEED_ASSET_ID": None,
                     "TERRITORIES": json.dumps(["US"]), "TARGET_COUNT": min(per_prompt, n - start), "PRIORITY": 1,
                     "ACTIVE": True})
    return rows


def setup(home: Path, n: int, duration_s: int, per_prompt: int = 1):
    return bench_home(home, bench_prompts(n, duration_s, per_prompt))


def bench_home(home: Path, prompts: list[dict]):
    """A seeded home whose catalog is only ``prompts``, with signing keys (bench/scale.py shares it)."""
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
        wh.upsert("PROMPT_CATALOG", prompts)
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


def _engine_loop(work, sample_rate: int = 44100) -> tuple[float, float]:
    """(audio seconds, wall seconds) of the engine alone on ``work``'s requests, one thread, after one warm-up.

    A request the engine fails on contributes no audio (the pipeline records it as a failed row); each is logged.
    """
    from threadpoolctl import threadpool_limits

    from inference.engine import GenerationRequest, get_engine

    rows = work.to_pylist()
    with threadpool_limits(limits=1):
        engine = get_engine("composer")
        scratch = tempfile.TemporaryDirectory(prefix="maestro-bench-engine-")  # removed on return: only timed
        out = Path(scratch.name)

        def one(req: dict) -> float:
            request = GenerationRequest(
                genre=req["GENRE"], mood=req["MOOD"], key_phrases=tuple(json.loads(req.get("KEY_PHRASES") or "[]")),
                tempo_bpm=req.get("TEMPO_BPM"), key=req.get("MUSICAL_KEY"), duration_s=float(req["DURATION_S"]),
                seed=int(req["SEED"]), sample_rate=sample_rate,
                descriptors=json.loads(req["DESCRIPTORS"]) if req.get("DESCRIPTORS") else None)
            try:
                return float(engine.generate(request, out).metadata["duration_seconds"])
            except (RuntimeError, ValueError) as exc:  # as the worker does: one failure does not stop the run
                print(f"(e) request {req['REQUEST_ID']} failed: {type(exc).__name__}: {exc}")
                return 0.0

        with scratch:
            one(rows[0])  # warm-up: first-call imports, as a long-lived worker has them
            start = time.perf_counter()
            audio_s = sum(one(r) for r in rows)
            return audio_s, time.perf_counter() - start


def _engine_on_every_worker(work, pool: int) -> tuple[float, float]:
    """(audio seconds, wall seconds) of the engine alone on ``pool`` Ray workers at once, ``work`` dealt out
    round-robin, each after its own warm-up: the engine's throughput with every core busy, as (c)'s workers run.

    The wall is the slowest worker's loop (engine builds and warm-ups excluded, as in (e)).
    """
    import ray

    @ray.remote(num_cpus=1)
    def loop(part):
        return _engine_loop(part)

    parts = [work.take(list(range(i, work.num_rows, pool))) for i in range(pool)]
    outcomes = ray.get([loop.remote(part) for part in parts if part.num_rows])
    return sum(a for a, _ in outcomes), max(s for _, s in outcomes)


def _pipeline_results(ctx) -> tuple:
    """(c)'s own result rows (its one shard) and its pool statistics, as the run staged them."""
    from maestro_pipeline import catalog, staging

    store = catalog.stage_store(ctx)
    key = staging.stage_path(ctx.run_id, "results-0000-of-0001")
    stats = staging.read_stage_metadata(store, key).get(catalog.POOL_STATS_KEY, "{}")
    return staging.read_stage(store, key), json.loads(stats)


def _audio_seconds(results) -> float:
    """Seconds of audio in the generated rows of a results table (from TRACK_ROW's DURATION_MS)."""
    total = 0.0
    for status, row in zip(results["STATUS"].to_pylist(), results["TRACK_ROW"].to_pylist(), strict=True):
        if status == "generated" and row:
            total += float(json.loads(row)["DURATION_MS"]) / 1000.0
    return total


def _qc_share(results) -> tuple[float, float, int]:
    """(QC seconds, generation seconds, rows) summed over the fresh rows of a results table."""
    rows = [r for r in results.to_pylist() if not r.get("RESUMED") and r.get("T_GENERATE_S")]
    return sum(r["T_QC_S"] or 0.0 for r in rows), sum(r["T_GENERATE_S"] for r in rows), len(rows)


def bench_length(root: Path, n: int, duration_s: int, pool: int, batch_size: int | None, ray_overhead: bool,
                 worker_loop: bool = True, per_prompt: int = 1) -> dict:
    """Runs (e), (a) (unless not ``worker_loop``), (c) and optionally (b) for one track length; prints and returns
    the figures. Without the worker loop, QC's share comes from (c)'s own rows."""
    from maestro_core.request_status import PLANNED
    from maestro_pipeline import PipelineOptions, catalog, planning, run_catalog, staging
    from maestro_pipeline.fanout import FanoutConfig, GeneratorActor, run_generation

    settings = setup(root / f"home-{duration_s}", n, duration_s, per_prompt)
    batch = {} if batch_size is None else {"batch_size": batch_size}
    options = PipelineOptions(duration_s=duration_s, shard_size=n, pool_size=pool, **batch)
    # (e) takes the very requests (c) generates (same catalog and date: same ids, seeds and descriptors), planned
    # and gated untimed in a twin home, and is timed in two halves, one before (c) and one after: a machine whose
    # speed drifts over the minutes of a run then biases neither side of the ratio.
    twin = catalog.context(setup(root / f"engine-home-{duration_s}", n, duration_s, per_prompt), BENCH_DATE)
    catalog.open_stage(twin)
    twin_gated_path = catalog.gate_stage(twin, catalog.plan_stage(twin, options))
    twin_gated = staging.read_stage(catalog.stage_store(twin), twin_gated_path)
    work = catalog.work_table(planning.with_status(twin_gated, PLANNED))
    half = work.num_rows // 2
    e1_audio, e1_seconds = _engine_loop(work.slice(0, half))
    timing = _DescriptorTiming()
    planning_log = logging.getLogger(planning.__name__)
    planning_log.addHandler(timing)
    planning_log.setLevel(logging.INFO)
    start = time.perf_counter()
    report = run_catalog(settings, BENCH_DATE, options)
    c_wall = time.perf_counter() - start
    planning_log.removeHandler(timing)
    ctx = catalog.context(settings, BENCH_DATE)
    gated = staging.read_stage(catalog.stage_store(ctx), staging.stage_path(ctx.run_id, "gated"))
    # (a) and (b) take the same table as (e), checked here to hold the very requests and seeds (c) generated.
    generated = catalog.work_table(planning.with_status(gated, PLANNED))
    if generated.select(["REQUEST_ID", "SEED"]) != work.select(["REQUEST_ID", "SEED"]):
        raise RuntimeError("the twin home planned other requests than (c): the engine baseline would not compare")

    def spec_for(name: str):
        return dataclasses.replace(catalog.worker_spec(settings, options), storage_url=f"file://{root}/{name}-{duration_s}")

    e2_audio, e2_seconds = _engine_loop(work.slice(half))
    e_audio, e_seconds = e1_audio + e2_audio, e1_seconds + e2_seconds
    every_audio, every_seconds = _engine_on_every_worker(work, pool)
    c_results, c_pool = _pipeline_results(ctx)
    a_results, a_seconds, a_startup = c_results, 0.0, 0.0
    if worker_loop:
        start = time.perf_counter()
        actor = GeneratorActor(spec_for("loop"))  # what run_locally does, with the worker's start-up timed apart
        a_startup = time.perf_counter() - start
        a_results = actor(work)
        a_seconds = time.perf_counter() - start
    b_seconds = None
    if ray_overhead:
        start = time.perf_counter()
        run_generation(work, spec_for("ray1"), FanoutConfig(pool_size=1, **batch))
        b_seconds = time.perf_counter() - start
    a_audio = _audio_seconds(a_results)
    stages = report.stage_seconds
    c_audio = a_audio * report.generated_now / max(1, sum(s == "generated" for s in a_results["STATUS"].to_pylist()))
    engine_rtf = e_audio / e_seconds
    c_rtf_core = c_audio / c_wall / pool
    a_rtf_core = a_audio / a_seconds if worker_loop else float("nan")
    qc_s, gen_s, _ = _qc_share(a_results)
    split = {k: stages.get(k, 0.0) for k in ("plan", "gate", "generate", "qc", "sign_store", "load")}
    total = sum(split.values()) or 1.0
    target = {5: 0.5, 30: 0.75}.get(duration_s)
    print(f"\n== {duration_s} s tracks: N={work.num_rows} requests, pool {pool}, {os.cpu_count()} cores; "
          f"{report.generated_now} generated by (c), {report.failed_now} failed")
    print(f"(e) engine alone, 1 core   {e_seconds:8.2f} s  real-time factor per core {engine_rtf:7.1f}x   "
          f"(halves before / after (c): {e1_audio / max(e1_seconds, 1e-9):.1f}x / "
          f"{e2_audio / max(e2_seconds, 1e-9):.1f}x)")
    every_rtf_core = every_audio / every_seconds / pool
    print(f"(e*) engine alone, {pool} workers {every_seconds:6.2f} s  real-time factor per core {every_rtf_core:7.1f}x "
          f"= {every_rtf_core / engine_rtf:.3f} of (e): what running every core at once costs the engine itself")
    if worker_loop:
        steady = a_audio / (a_seconds - a_startup)
        print(f"(a) worker loop, 1 core    {a_seconds:8.2f} s  real-time factor per core {a_rtf_core:7.1f}x "
              f"= {a_rtf_core / engine_rtf:.3f} of (e); without its {a_startup:.2f} s start-up {steady:.1f}x "
              f"= {steady / engine_rtf:.3f}")
    print(f"(c) pipeline, {pool} workers     {c_wall:8.2f} s  real-time factor per core {c_rtf_core:7.1f}x "
          f"= {c_rtf_core / engine_rtf:.3f} of (e)" + (f"   (target >= {target})" if target else "")
          + f"; {c_rtf_core / every_rtf_core:.3f} of (e*)")
    if b_seconds is not None:
        print(f"(b) Ray, 1 worker          {b_seconds:8.2f} s  Ray overhead b/a {b_seconds / a_seconds:.3f} "
              "(target <= 1.10)")
    if worker_loop:
        print(f"parallel eff. a/({pool}c)      {a_seconds / (pool * c_wall):8.3f}")
    print(f"tracks per hour (c)        {3600 * report.generated_now / c_wall:8.0f}")
    print(f"QC / generation ({'a' if worker_loop else 'c'})        {qc_s / gen_s:8.3f}   (target <= 0.25)")
    print(f"pool (c): idle share {c_pool.get('idle_share', float('nan')):.3f}, first results after "
          f"{c_pool.get('first_result_s', float('nan')):.2f} s (actor start-up), {c_pool.get('batches')} batches of "
          f"{c_pool.get('batch_size')}")
    print("stage split (c, seconds summed over workers; share of their sum):")
    for name, seconds in split.items():
        print(f"  {name:<11} {seconds:8.2f} s  {100 * seconds / total:5.1f} %")
    print(f"    (plan includes {timing.seconds:.2f} s of key-phrase descriptors: the text model, once, in the driver)")
    return {"duration_s": duration_s, "pipeline_vs_engine": c_rtf_core / engine_rtf,
            "pipeline_vs_engine_every_core": c_rtf_core / every_rtf_core,
            "loop_vs_engine": a_rtf_core / engine_rtf, "qc_share": qc_s / gen_s, "work": work, "settings": settings,
            "options": options}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24, help="requests per length (default 24)")
    parser.add_argument("--durations", default="5,30", help="track lengths for the pipeline runs, s (default 5,30)")
    parser.add_argument("--qc-lengths", default="180",
                        help="further lengths for QC's share only, in a worker loop (default 180; '' for none)")
    parser.add_argument("--qc-n", type=int, default=4, help="requests per --qc-lengths length (default 4)")
    parser.add_argument("--pool", type=int, default=2, help="Ray workers in (c) (default 2)")
    parser.add_argument("--batch-size", type=int, default=None, help="requests per Ray batch (default: the pipeline's)")
    parser.add_argument("--ray-overhead", action="store_true", help="also time (b), Ray with 1 worker")
    parser.add_argument("--per-prompt", type=int, default=1,
                        help="requests per prompt (TARGET_COUNT; default 1; issue 16's catalog day: 40)")
    parser.add_argument("--no-worker-loop", action="store_true",
                        help="skip (a), the plain worker loop (saves its time at catalog scale)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work directory to keep (default: a temp dir, removed at the end; a catalog day "
                             "writes several GB)")
    args = parser.parse_args()

    with work_dir(args.keep, "maestro-bench-") as root:
        _run(args, root)


@contextlib.contextmanager
def work_dir(keep: Path | None, prefix: str) -> Iterator[Path]:
    """``keep`` when given (left in place), else a fresh temporary directory removed when the block ends: a
    bench's tracks and warehouses run to gigabytes, and a day of runs must not fill the disk."""
    root = keep or Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace, root: Path) -> None:
    """Every configuration of ``args`` under ``root``."""
    import ray

    ray.init(address="local", num_cpus=os.cpu_count() or 2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    from inference.descriptors import phrase_descriptors

    start = time.perf_counter()
    phrase_descriptors(["bench warm-up"])  # the driver's text model loads once per process; not per track length
    print(f"text model loaded in the driver in {time.perf_counter() - start:.2f} s, before any timing")
    shares = {}
    for duration_s in [int(d) for d in args.durations.split(",") if d.strip()]:
        figures = bench_length(root, args.n, duration_s, args.pool, args.batch_size, args.ray_overhead,
                               worker_loop=not args.no_worker_loop, per_prompt=args.per_prompt)
        shares[duration_s] = figures["qc_share"]
    ray.shutdown()
    for duration_s in [int(d) for d in args.qc_lengths.split(",") if d.strip()]:
        if duration_s not in shares:
            shares[duration_s] = _qc_share_loop(root, duration_s, args.qc_n)
    print("\nQC time / generation time per track length (workers' T_QC_S / T_GENERATE_S; target <= 0.25):")
    for duration_s, share in sorted(shares.items()):
        print(f"  {duration_s:4d} s  {share:6.3f}")


def _qc_share_loop(root: Path, duration_s: int, n: int) -> float:
    """QC's share of generation for ``n`` requests of ``duration_s`` through a plain worker loop (no Ray)."""
    from maestro_pipeline.fanout import run_locally
    from maestro_pipeline.worker import WorkerSpec

    home = root / f"home-qc-{duration_s}"
    settings = setup(home, n, duration_s)
    rows = worker_requests(n, duration_s, f"qc_{duration_s}", "bench_qc", first_seed=7000)
    import pyarrow as pa

    spec = WorkerSpec(storage_url=f"file://{root}/qc-{duration_s}", settings={"home": str(settings.home)})
    qc_s, gen_s, _ = _qc_share(run_locally(pa.Table.from_pylist(rows), spec))
    return qc_s / gen_s


_AXES = ("brightness", "energy", "density", "mode", "colour", "texture")


def worker_requests(n: int, duration_s: int, prefix: str, run_id: str, first_seed: int) -> list[dict]:
    """``n`` validated request rows of the bench's prompts, ready for a ``RequestWorker`` without planning: ids
    ``{prefix}_{i}``, seeds from ``first_seed``, neutral DESCRIPTORS (so no worker loads the text model)."""
    return [{"REQUEST_ID": f"{prefix}_{i}", "TRACK_ID": f"{prefix}_{i}", "GENRE": prompt["GENRE"],
             "MOOD": prompt["MOOD"], "RUN_ID": run_id, "SEED": first_seed + i, "TEMPO_BPM": prompt["TEMPO_BPM"],
             "DURATION_S": duration_s, "MUSICAL_KEY": prompt["MUSICAL_KEY"], "KEY_PHRASES": prompt["KEY_PHRASES"],
             "DESCRIPTORS": json.dumps(dict.fromkeys(_AXES, 0.5))}
            for i, prompt in enumerate(bench_prompts(n, duration_s))]


if __name__ == "__main__":
    main()
