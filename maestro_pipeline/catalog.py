"""Catalog generation for one date: open run -> plan -> gate -> generate (shards on Ray; QC, sign, store inside)
-> load (one MERGE transaction) -> close run.

Each stage is a function an Airflow task (or :func:`run_catalog`) calls: it reads its input table from staging,
writes its output table to staging and returns its path, so XComs carry ids and URIs only. The table-to-table work
lives in :mod:`~maestro_pipeline.planning`, :mod:`maestro_pipeline.fanout` and :mod:`~maestro_pipeline.records`.

Idempotency: ids, seeds, object paths and run ids are deterministic; requests already ``generated`` are ``done``
and skipped; a request whose files are stored but whose rows were never loaded is resumed from storage by the
worker; loads are MERGEs that leave unchanged rows untouched. So re-running a date, finished or interrupted at
any step, ends in the state an uninterrupted run leaves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from maestro_core.config import Settings
from maestro_core.errors import InputError
from maestro_core.failure_budget import BudgetExceeded, FailureBudget, judge, outcome
from maestro_core.limits import DURATION_RANGE_S
from maestro_core.request_status import FAILED, GENERATED, PLANNED, REJECTED, RUN_FAILED, RUN_SUCCESS
from maestro_core.storage import TrackStore
from maestro_pipeline import planning, records, staging, tables
from maestro_pipeline.context import CATALOG_DAG_ID, RunContext, StageTimer, check_run_date, warehouse
from maestro_pipeline.native_output import native_stderr_to_file

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOptions:
    """Knobs of a run (defaults suit production; the demo, tests and bench shorten tracks).

    Attributes:
        duration_s: render every track this long (seconds) instead of the prompt's DURATION_S.
        shard_size: requests per generation shard (an Airflow mapped task each). Every shard starts its own actor
            pool (each actor loads its engine: seconds), so small shards cost a pool start-up per few requests;
            the default keeps that under a few percent of a shard of 5 s tracks.
        pool_size: Ray generator actors.
        batch_size: requests per Ray batch; None chooses it from the shard's requests and the pool
            (``fanout.choose_batch_size``).
        sign: embed signed C2PA manifests.
        retry_failed: also retry earlier runs' ``failed`` requests (and those a stopped run left ``planned``).
        budget: the failure budget; None takes it from settings (``MAESTRO_FAILURE_BUDGET_*``).
        gpu_batch_size: requests a batched (GPU) engine generates in one call; None takes MAESTRO_GPU_BATCH_SIZE.

    Raises:
        InputError: naming the option that is out of range (checked at construction, before any work).
    """

    duration_s: int | None = None
    shard_size: int = 1024
    pool_size: int = 2
    batch_size: int | None = None
    sign: bool = True
    retry_failed: bool = True
    budget: FailureBudget | None = None
    gpu_batch_size: int | None = None

    def __post_init__(self) -> None:
        low, high = DURATION_RANGE_S
        if self.duration_s is not None and (isinstance(self.duration_s, bool) or not isinstance(self.duration_s, int)
                                            or not low <= self.duration_s <= high):
            raise InputError("duration_s", f"must be whole seconds in {low}..{high}, got {self.duration_s!r}")
        for name, high in (("shard_size", 1024), ("pool_size", 256), ("batch_size", 1024), ("gpu_batch_size", 256)):
            value = getattr(self, name)
            if name in ("batch_size", "gpu_batch_size") and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise InputError(name, f"must be an integer in 1..{high}, got {value!r}")


@dataclass(frozen=True)
class RunReport:
    """What a run did: counts by status (for the run), rows changed by the load, seconds per stage, the run's most
    frequent failure causes (``{"error", "message", "count"}``), and the share of the generator pool's
    actor-seconds not spent on a request (``fanout.PoolStats``; None when nothing was generated)."""

    run_id: str
    counts: dict[str, int]
    changed_rows: int
    generated_now: int
    resumed: int
    failed_now: int
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    pool_idle_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def context(settings: Settings, logical_date: Any, airflow: dict[str, Any] | None = None,
            dag_id: str = CATALOG_DAG_ID) -> RunContext:
    return RunContext.create(settings, dag_id, logical_date, airflow)


def preflight_stage(ctx: RunContext, options: PipelineOptions) -> dict[str, float]:
    """Checks warehouse, store, signing keys, engine and arguments before anything is written (seconds each).

    Raises:
        PreflightFailed: one line per problem, naming the setting or argument; nothing was written.
    """
    from maestro_pipeline.preflight import preflight

    return preflight(ctx.settings, sign=options.sign, arguments=lambda: check_run_date(ctx.logical_date,
                                                                                       "logical_date")).seconds


def open_stage(ctx: RunContext) -> str:
    """Opens (or re-opens) the GENERATION_RUNS row; fails fast when the warehouse is unreachable.

    Also sweeps the scratch directories that killed workers of earlier runs left behind.
    """
    from maestro_pipeline.worker import sweep_scratch

    sweep_scratch(ctx.settings.home / "scratch")
    with warehouse(ctx.settings) as wh:
        return records.open_run(wh, ctx)


def plan_stage(ctx: RunContext, options: PipelineOptions) -> str:
    """Plans the date's requests (plus earlier failed ones to retry) and records new ones as ``planned``.

    Then describes each distinct key-phrase list once (the text model runs here, in the driver, after the
    warehouse connection is closed), so generation workers only render.
    """
    with warehouse(ctx.settings) as wh:
        prompts = wh.query_file("queries/active_prompts.sql").to_pylist()
        ids = [r["REQUEST_ID"] for r in planning.plan_requests(prompts, ctx.run_id, ctx.logical_date,
                                                                ctx.engine_version, {}).to_pylist()]
        existing = {rid: row["STATUS"] for rid, row in records.existing_statuses(wh, ids).items()}
        planned = planning.plan_requests(prompts, ctx.run_id, ctx.logical_date, ctx.engine_version, existing,
                                         duration_override_s=options.duration_s, validate_style=style_check(ctx))
        if options.retry_failed:
            planned = pa.concat_tables([planned, _earlier_failures(wh, ctx, options, set(ids))])
        planned = refuse_unsupported(ctx, planned)
        records.record_planned(wh, planned)
    planned = planning.with_descriptors(planned)
    return staging.write_stage(stage_store(ctx), ctx.run_id, "planned", planned)


def gate_stage(ctx: RunContext, planned_path: str) -> str:
    """Rights gate over the planned requests, then ISRCs for the allowed ones (minted once per track).

    The planned table is gated one row group at a time, so the driver holds Python rows for one group only; the
    ISRCs of the whole run are still minted in one call (one registry transaction), then set group by group.
    """
    from maestro_core.isrc import mint_isrc
    from maestro_core.rights_snapshot import load_snapshot
    from maestro_pipeline.model_assets import register_model_assets, run_asset_ids

    store = stage_store(ctx)
    with warehouse(ctx.settings) as wh:
        checkpoints = register_model_assets(wh, ctx.settings)  # a neural engine's weights, with their licence
        snapshot = load_snapshot(wh)
        engine_assets, melodies = run_asset_ids(ctx.settings, checkpoints), _melody_paths()
        gated = [planning.gate_requests(group, snapshot, ctx.logical_date, engine_assets, melodies)
                 for group in staging.iter_stage(store, planned_path)]
        allowed = [planning.with_status(group, PLANNED).select(["REQUEST_ID", "TRACK_ID"]) for group in gated]
        isrcs = mint_isrc(wh, [tid for group in allowed for tid in group["TRACK_ID"].to_pylist()],
                          year=ctx.logical_date.year, country=ctx.settings.isrc_country,
                          registrant=ctx.settings.isrc_registrant)
    run_context = json.dumps(ctx.airflow, default=str)
    for i, (group, ids) in enumerate(zip(gated, allowed, strict=True)):
        by_request = dict(zip(ids["REQUEST_ID"].to_pylist(), ids["TRACK_ID"].to_pylist(), strict=True))
        group = planning.assign(group, "ISRC", {rid: isrcs[tid] for rid, tid in by_request.items()})
        gated[i] = planning.assign(group, "RUN_CONTEXT", dict.fromkeys(by_request, run_context))
    table = pa.concat_tables(gated) if gated else tables.REQUEST_TABLE.empty_table()
    return staging.write_stage(store, ctx.run_id, "gated", table)


def shard_stage(ctx: RunContext, gated_path: str, options: PipelineOptions) -> list[int]:
    """Shard numbers to map generation over (at most 1024, Airflow's map limit)."""
    return planning.shard_ids(staging.read_stage(stage_store(ctx), gated_path), options.shard_size)


def generate_stage(ctx: RunContext, gated_path: str, shard_no: int, n_shards: int, options: PipelineOptions) -> str:
    """Generates one shard on Ray (workers QC, sign and store); returns the path of its result table.

    Results are judged against the failure budget as they arrive: when the first N fail alike the rest of the
    shard is cancelled. A shard over budget records what it did (failed requests with their reasons, tracks it
    made), closes the run ``failed`` with the reason and raises, so an Airflow task fails (and its retries apply).

    Raises:
        BudgetExceeded: the shard's failures are systemic.
    """
    from maestro_pipeline.fanout import FanoutConfig, fan_out

    store = stage_store(ctx)
    budget = failure_budget(ctx, options)
    seen: list[tuple[str, str, str]] = []

    def stop(batch: pa.Table) -> bool:
        seen.extend(outcome(r) for r in batch.to_pylist())
        return judge(seen, budget, final=False).exceeded

    requests = planning.shard(staging.read_stage(store, gated_path), shard_no, n_shards)
    # Under Airflow every stderr line becomes an ERROR line of the task log: Ray's own output goes to a file.
    quiet = (native_stderr_to_file(ctx.settings.home / "logs" / f"ray-{ctx.run_id}-shard-{shard_no:04d}.log")
             if ctx.airflow.get("dag_id") else contextlib.nullcontext())
    with quiet:
        run = fan_out(work_table(requests), worker_spec(ctx.settings, options),
                      FanoutConfig(pool_size=options.pool_size, batch_size=options.batch_size),
                      ray_address=ctx.settings.ray_address, stop=stop)
    results = run.results
    key = staging.write_stage(store, ctx.run_id, f"results-{shard_no:04d}-of-{n_shards:04d}", results,
                              {POOL_STATS_KEY: json.dumps(run.stats.to_dict(), sort_keys=True)})
    if judge([outcome(r) for r in results.to_pylist()], budget).exceeded:
        _load_and_judge(ctx, gated_path, [key], budget)  # records what the shard did, closes the run, raises
    return key


def load_stage(ctx: RunContext, gated_path: str, result_paths: Sequence[str],
               options: PipelineOptions | None = None) -> dict[str, int]:
    """MERGEs tracks, provenance, splits and request statuses in one transaction, then judges the whole run's
    results against the failure budget.

    Raises:
        BudgetExceeded: the run's failures are systemic; everything was loaded and the run closed ``failed``.
    """
    idle = pool_idle_share(ctx, result_paths)
    if idle is not None:
        log.info("generator pool idle %.1f %% of its actor-seconds", 100 * idle,
                 extra={"run_id": ctx.run_id, "pool_idle_share": idle})
    return asdict(_load_and_judge(ctx, gated_path, result_paths, failure_budget(ctx, options)))


def close_stage(ctx: RunContext, status: str = RUN_SUCCESS, reason: str | None = None) -> dict[str, int]:
    """Closes the run with counts (unchanged when a rerun found nothing to do)."""
    with warehouse(ctx.settings) as wh:
        return records.close_run(wh, ctx, status, reason)


def failure_budget(ctx: RunContext, options: PipelineOptions | None) -> FailureBudget:
    """The run's failure budget: the options' when set, else the settings'."""
    if options is not None and options.budget is not None:
        return options.budget
    return FailureBudget.from_settings(ctx.settings)


# The columns the load reads (records.load_run, and the failure budget's outcome()): the driver decodes only these,
# so it never holds the stage tables' other columns (audio URIs, assets, key phrases) for every request at once.
LOAD_REQUEST_COLUMNS = ["REQUEST_ID", "RUN_ID", "PROMPT_ID", "PLAYLIST_ID", "ORDINAL", "SEED", "STATUS", "REASONS",
                        "RELIED"]
LOAD_RESULT_COLUMNS = ["REQUEST_ID", "TRACK_ID", "STATUS", "ERROR_CLASS", "ERROR_MESSAGE", "REASONS", "TRACK_ROW",
                       "PROVENANCE_ROW"]
REPORT_RESULT_COLUMNS = ["REQUEST_ID", "STATUS", "RESUMED", "T_GENERATE_S", "T_QC_S", "T_SIGN_STORE_S"]

# Parquet key-value metadata of a results table: the shard's fanout.PoolStats as JSON (the load reads it back).
POOL_STATS_KEY = "maestro.pool_stats"

PlanStage = Callable[[RunContext, PipelineOptions], str]
AfterLoad = Callable[[RunContext], dict[str, int]]


def run_catalog(settings: Settings, logical_date: Any, options: PipelineOptions | None = None,
                airflow: dict[str, Any] | None = None) -> RunReport:
    """The whole catalog run for one date in this process (the CLI and bench call this; Airflow calls the stages).

    Raises:
        PreflightFailed: a setting or argument is wrong (before anything is written).
        BudgetExceeded: the run failed its failure budget (the run row says why).
    """
    return run_stages(context(settings, logical_date, airflow), options or PipelineOptions(), plan_stage)


def run_stages(ctx: RunContext, options: PipelineOptions, plan: PlanStage,
               after_load: AfterLoad | None = None) -> RunReport:
    """Preflight -> open -> plan -> gate -> generate (per shard) -> load -> ``after_load`` -> close.

    The one generation pipeline: catalog generation and playlist fill differ only in how they plan (and in
    playlist fill's append after the load). Nothing is written before preflight passes. A run that fails after
    it opened closes ``failed`` with the reason (a budget failure has closed it already) and re-raises.
    """
    timer = StageTimer(ctx.run_id)
    with timer.stage("preflight"):
        preflight_stage(ctx, options)
    with timer.stage("open"):
        open_stage(ctx)
    result_paths: list[str] = []
    try:
        with timer.stage("plan"):
            planned_path = plan(ctx, options)
        with timer.stage("gate"):
            gated_path = gate_stage(ctx, planned_path)
        shards = shard_stage(ctx, gated_path, options)
        with timer.stage("generate_total"):
            for shard_no in shards:
                result_paths.append(generate_stage(ctx, gated_path, shard_no, len(shards), options))
        with timer.stage("load"):
            loaded = load_stage(ctx, gated_path, result_paths, options)
        extra: dict[str, int] = {}
        if after_load is not None:
            with timer.stage("after_load"):
                extra = after_load(ctx)
        with timer.stage("close"):
            counts = close_stage(ctx)
    except BudgetExceeded:
        raise
    except Exception as exc:
        _close_failed(ctx, f"{type(exc).__name__}: {exc}")
        raise
    results = _concat([staging.read_stage(stage_store(ctx), k, REPORT_RESULT_COLUMNS) for k in result_paths],
                      REPORT_RESULT_COLUMNS)
    return _report(ctx, timer, {**counts, **extra}, loaded, results, pool_idle_share(ctx, result_paths))


def pool_idle_share(ctx: RunContext, result_paths: Sequence[str]) -> float | None:
    """The generator pool's idle share over every shard (actor-seconds weighted), from the results' metadata;
    None when no shard recorded any (nothing was generated)."""
    store = stage_store(ctx)
    busy = capacity = 0.0
    for key in result_paths:
        text = staging.read_stage_metadata(store, key).get(POOL_STATS_KEY)
        if text:
            stats = json.loads(text)
            busy += float(stats["busy_s"])
            capacity += float(stats["actors"]) * float(stats["wall_s"])
    return round(min(1.0, max(0.0, 1.0 - busy / capacity)), 4) if capacity > 0 else None


def _load_and_judge(ctx: RunContext, gated_path: str, result_paths: Sequence[str],
                    budget: FailureBudget) -> records.LoadReport:
    """Loads the results (one transaction), then judges them: over budget, the run closes ``failed`` with the
    verdict's reason and BudgetExceeded is raised; what was done stays recorded either way."""
    store = stage_store(ctx)
    gated = staging.read_stage(store, gated_path, LOAD_REQUEST_COLUMNS)
    outcomes: list[Any] = []

    def results() -> Iterator[pa.Table]:
        """The result shards in one pass, row group by row group (the driver never holds every track's rows at
        once), each group's outcomes kept for the verdict on the way."""
        for key in result_paths:
            for group in staging.iter_stage(store, key, LOAD_RESULT_COLUMNS):
                judged = group.select(["STATUS", "ERROR_CLASS", "ERROR_MESSAGE"]).to_pylist()
                outcomes.extend(outcome(r) for r in judged)
                yield group

    with warehouse(ctx.settings) as wh:
        report = records.load_run(wh, gated, results(), records.platform_holder_id(wh))
        verdict = judge(outcomes, budget)
        if verdict.exceeded:
            records.close_run(wh, ctx, RUN_FAILED, verdict.reason)
    if verdict.exceeded:
        log.error("run failed its failure budget: %s", verdict.reason,
                  extra={"run_id": ctx.run_id, "rule": verdict.rule, "attempted": verdict.attempted,
                         "failed": verdict.failed})
        raise BudgetExceeded(verdict, ctx.run_id)
    return report


def _close_failed(ctx: RunContext, reason: str) -> None:
    """Best effort: the run row says ``failed`` and why; a warehouse that is down too must not hide the cause."""
    try:
        with warehouse(ctx.settings) as wh:
            records.close_run(wh, ctx, RUN_FAILED, reason)
    except Exception as exc:  # the original error is what the caller needs to see
        log.error("could not record the run as failed: %s", exc, extra={"run_id": ctx.run_id})


def _report(ctx: RunContext, timer: StageTimer, counts: dict[str, int], loaded: dict[str, int],
            results: pa.Table, idle_share: float | None = None) -> RunReport:
    rows = results.to_pylist()
    fresh = [r for r in rows if not r["RESUMED"]]
    timer.add("generate", sum(r["T_GENERATE_S"] or 0.0 for r in fresh))
    timer.add("qc", sum(r["T_QC_S"] or 0.0 for r in fresh))
    timer.add("sign_store", sum(r["T_SIGN_STORE_S"] or 0.0 for r in fresh))
    with warehouse(ctx.settings) as wh:
        failures = records.run_failures(wh, ctx.run_id)
    return RunReport(run_id=ctx.run_id, counts=counts, changed_rows=sum(loaded.values()),
                     generated_now=sum(1 for r in fresh if r["STATUS"] == GENERATED),
                     resumed=sum(1 for r in rows if r["RESUMED"]),
                     failed_now=sum(1 for r in rows if r["STATUS"] == FAILED),
                     stage_seconds={k: round(v, 3) for k, v in timer.seconds.items()}, failures=failures,
                     pool_idle_share=idle_share)


def worker_spec(settings: Settings, options: PipelineOptions) -> Any:
    """What each Ray worker needs: storage, MAESTRO_HOME (signing keys), engine, signing on/off. No secrets."""
    from maestro_pipeline.context import engine_options
    from maestro_pipeline.worker import WorkerSpec

    keys = {k: str(getattr(settings, k)) for k in ("signing_cert_path", "signing_key_path", "trust_anchor_path")
            if getattr(settings, k) is not None}
    return WorkerSpec(storage_url=settings.storage_url,
                      settings={"home": str(settings.home), "storage_url": settings.storage_url,
                                "warehouse_url": settings.warehouse_url if settings.warehouse_backend == "duckdb"
                                else "", "engine": settings.engine, **keys},
                      scratch_dir=str(settings.home / "scratch"), engine=settings.engine, sign=options.sign,
                      engine_options=engine_options(settings, options.gpu_batch_size))


def refuse_unsupported(ctx: RunContext, planned: pa.Table) -> pa.Table:
    """Planned requests the run's engine cannot serve, rejected with a reason: longer than its ``max_duration_s``,
    or (a neural engine outside hybrid mode) with a melody seed it cannot follow."""
    from inference.engine import engine_class
    from maestro_core.config import MODEL_SETTINGS

    engine = ctx.settings.engine
    limit = getattr(engine_class(engine), "max_duration_s", None)
    planned = planning.refuse_too_long(planned, engine, None if limit is None else float(limit))
    if engine in MODEL_SETTINGS and ctx.settings.melody_source != "composer":
        planned = planning.refuse_melody_seeds(planned, engine, "set MAESTRO_MELODY_SOURCE=composer (a MusicGen-"
                                                                "Melody checkpoint) for tracks that follow a seed")
    return planned


def style_check(ctx: RunContext) -> Callable[[str, str], str | None]:
    """The run's engine's verdict on a genre/mood pair, asked through the Engine protocol at plan time."""
    from inference.engine import style_problem

    return functools.partial(style_problem, ctx.settings.engine)


def _earlier_failures(wh: Warehouse, ctx: RunContext, options: PipelineOptions, today: set[str]) -> pa.Table:
    """Requests of earlier runs left ``failed``, or left ``planned`` by a run that stopped (not playlist ones):
    retried under their own ids and run."""
    rows = wh.query_file("queries/earlier_unfinished_requests.sql", {"run": ctx.run_id}).to_pylist()
    out = []
    check_style = style_check(ctx)
    for row in rows:
        if row["REQUEST_ID"] in today:
            continue
        problems = planning.prompt_problems(row, check_style)
        out.append(tables.request_row(
            REQUEST_ID=row["REQUEST_ID"], RUN_ID=row["RUN_ID"], PROMPT_ID=row["PROMPT_ID"], ORDINAL=row["ORDINAL"],
            SEED=row["SEED"], TRACK_ID=_track_id(row["REQUEST_ID"], ctx.engine_version), GENRE=row["GENRE"],
            MOOD=row["MOOD"], KEY_PHRASES=_text(row["KEY_PHRASES"]), TEMPO_BPM=row["TEMPO_BPM"],
            MUSICAL_KEY=row["MUSICAL_KEY"], DURATION_S=options.duration_s or row["DURATION_S"],
            MELODY_SEED_ASSET_ID=row["MELODY_SEED_ASSET_ID"], TERRITORIES=_text(row["TERRITORIES"]),
            STATUS=REJECTED if problems else PLANNED, REASONS=json.dumps(problems, sort_keys=True)))
    return pa.Table.from_pylist(out, schema=tables.REQUEST_TABLE)


def _track_id(request_id: str, engine_version: str) -> str:
    from maestro_core.identity import track_id

    return track_id(request_id, engine_version)


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _melody_paths() -> dict[str, str]:
    from maestro_core.assets import melody_seed_files

    return {asset_id: str(path) for asset_id, path in melody_seed_files().items()}


def work_table(requests: pa.Table) -> pa.Table:
    """The columns of a request table that a worker reads (``tables.WORK_TABLE``), in its types."""
    return requests.select(tables.WORK_TABLE.names).cast(tables.WORK_TABLE)


def _concat(results: list[pa.Table], columns: list[str] | None = None) -> pa.Table:
    """Result tables as one, in RESULT_TABLE's types (only ``columns`` of it when given)."""
    schema = tables.RESULT_TABLE
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    return pa.concat_tables([t.cast(schema) for t in results]) if results else schema.empty_table()


def stage_store(ctx: RunContext) -> TrackStore:
    """The store a run's stages hand their tables over in (the run's storage URL)."""
    return TrackStore(ctx.settings.storage_url)


def run_date(text: str) -> dt.date:
    """``--date`` parsing for the CLI."""
    from maestro_pipeline.context import parse_run_date

    return parse_run_date(text)
