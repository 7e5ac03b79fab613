"""Royalty statements for a period, end to end: export inputs, compute (Spark or SQL), check, MERGE back.

    run = run_royalties(settings, "2026-03")            # Spark on settings.spark_master
    run = run_royalties(settings, "2026-03", engine="sql")  # the same rule in plain SQL, in the warehouse
    run = run_royalties(settings, "2026-03", policy="user_centric")  # default: settings.royalty_policy

The policy (``pro_rata``, ``streaming_2024``, ``user_centric``; docs/royalties.md) is recorded in ROYALTY_RUNS.POLICY.

On a cluster the three steps run apart (``maestro royalties export-inputs`` / ``spark-submit`` / ``load-outputs``):

    export_period_inputs(settings, "2026-03", inputs)   # Parquet for jobs/royalty_statements.py
    run = load_period_outputs(settings, read_outputs(out, "2026-03"))  # what the job wrote: check, MERGE

Both engines implement the rule in maestro_core.royalty_rules and agree to the micro-unit (tests check it). The
backend-specific part is only the Parquet export (``wh.export_parquet``); the Spark job reads files.

Re-running a period replaces it: new ledger and statement lines are MERGEd on their keys (unchanged lines are not
touched) and lines of the period that the new result no longer has are deleted, so nothing is double counted;
this holds across policies too (a rerun under another policy replaces the period's ledger and statements).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from maestro_core.atomic import atomic_path
from maestro_core.config import Settings
from maestro_core.errors import InputError
from maestro_core.royalty_rules import (
    DEFAULT_FUNCTIONAL_GENRES,
    DEFAULT_POLICY,
    RoyaltyReport,
    RoyaltyResult,
    UnallocatedPool,
    check_policy,
    from_micros,
    period_bounds,
    to_micros,
    trailing_start,
)
from maestro_core.warehouse import UpsertResult, Warehouse, connect, read_sql

log = logging.getLogger(__name__)

ENGINES = ("spark", "sql")
LEDGER_KEY = ("PERIOD", "TERRITORY", "TRACK_ID", "HOLDER_ID", "CURRENCY")
STATEMENT_KEY = ("PERIOD", "HOLDER_ID", "CURRENCY")
# The Spark job's inputs: (table, query under sql/, the period_params it binds).
_EXPORTS = (("STREAM_EVENTS", "royalties/export_events.sql", ("period_start", "period_end")),
            ("ROYALTY_SPLITS", "royalties/export_splits.sql", ("period_start", "period_end")),
            ("REVENUE_POOLS", "royalties/export_pools.sql", ("period",)))
# Inputs only some policies read (jobs.royalty_statements.POLICY_INPUT_FILES): policy -> exports as above.
_POLICY_EXPORTS = {"streaming_2024": (("TRACK_ACTIVITY", "royalties/track_activity.sql",
                                       ("trailing_start", "period_end")),)}
# The SQL engine's ledger query per policy and the parts it is composed from (statements_from_ledger.sql includes
# it with the same parts): pro_rata and streaming_2024 are royalties/ledger.sql over their own earning tracks.
_LEDGER_SQL: dict[str, tuple[str, dict[str, str]]] = {
    "pro_rata": ("royalties/ledger.sql", {"earning": "royalties/earning_pro_rata.sql"}),
    "streaming_2024": ("royalties/ledger.sql", {"earning": "royalties/earning_streaming_2024.sql",
                                                "activity": "royalties/track_activity.sql"}),
    "user_centric": ("royalties/ledger_user_centric.sql", {}),
}
_GENRE_SEP = "\x1f"  # CHR(31) around each functional genre in the :functional_genres bind of earning_streaming_2024
# Per table: the query of a period's keys and the delete of the stale ones; the delete joins the key columns in
# the order the query selects them, with CHR(31) between them.
_STALE_SQL = {"ROYALTY_LEDGER": ("royalties/ledger_keys.sql", "royalties/delete_stale_ledger.sql"),
              "ROYALTY_STATEMENTS": ("royalties/statement_keys.sql", "royalties/delete_stale_statements.sql")}
_KEY_SEP = "\x1f"  # unit separator (CHR(31) in SQL): cannot appear in ids, so joined keys are unambiguous


class PoolsNotLoaded(InputError):
    """The period has no row in REVENUE_POOLS yet: nothing can be paid until its pools are loaded."""

    def __init__(self, period: str) -> None:
        super().__init__("period", f"no revenue pool for {period} in REVENUE_POOLS; load the period's pools first")
        self.period = period


@dataclass(frozen=True)
class RoyaltyRun:
    """A computed and loaded period: the report, the statements and what the MERGE changed."""

    period: str
    engine: str
    report: RoyaltyReport
    ledger_lines: int
    statements: pa.Table
    loads: tuple[UpsertResult, ...]
    stale_deleted: int
    policy: str = DEFAULT_POLICY


def period_params(period: str) -> dict[str, Any]:
    """Bind values for the period's SQL: ``period`` and its UTC bounds as naive timestamps (TIMESTAMP_NTZ)."""
    start, end = period_bounds(period)
    return {"period": period, "period_start": start.replace(tzinfo=None), "period_end": end.replace(tzinfo=None)}


def policy_params(period: str, policy: str, functional_genres: Collection[str]) -> dict[str, Any]:
    """Bind values of the policy's ledger query (``_LEDGER_SQL``): :func:`period_params`, plus for streaming_2024
    the trailing window's start and the functional genres, each between CHR(31)s."""
    params = period_params(period)
    if policy == "streaming_2024":
        genres = sorted(set(functional_genres))
        params["trailing_start"] = trailing_start(period).replace(tzinfo=None)
        params["functional_genres"] = _GENRE_SEP + "".join(g + _GENRE_SEP for g in genres)
    return params


def export_inputs(wh: Warehouse, period: str, inputs_dir: Path, policy: str = DEFAULT_POLICY) -> dict[str, int]:
    """Writes the period's events, the splits of their tracks and the period's pools as Parquet, and what the policy
    also reads (streaming_2024: each track's trailing-12-month streams, genre and duration); returns row counts."""
    from jobs.royalty_statements import INPUT_FILES, POLICY_INPUT_FILES

    check_policy(policy, "policy")
    params = {**period_params(period), "trailing_start": trailing_start(period).replace(tzinfo=None)}
    files = {**INPUT_FILES, **POLICY_INPUT_FILES.get(policy, {})}
    inputs_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table, sql_file, keys in (*_EXPORTS, *_POLICY_EXPORTS.get(policy, ())):
        counts[table] = wh.export_parquet(read_sql(sql_file), inputs_dir / files[table],
                                          {k: params[k] for k in keys})
    log.info("exported royalty inputs for %s: %s", period, counts)
    return counts


def compute_with_sql(wh: Warehouse, period: str, out_dir: Path, policy: str = DEFAULT_POLICY,
                     functional_genres: Collection[str] = DEFAULT_FUNCTIONAL_GENRES) -> RoyaltyResult:
    """The rule in plain SQL (sql/royalties/*.sql) on the warehouse's STREAM_EVENTS, ROYALTY_SPLITS, REVENUE_POOLS
    (and TRACKS for streaming_2024), under ``policy``.

    Raises the same InputErrors as the Spark job (unknown policy, malformed period, no pool, bad pool amount, bad
    splits). Writes
    ``ledger.parquet``, ``statements.parquet`` and ``report.json`` under ``out_dir``, as the Spark job does.
    """
    from jobs.royalty_statements import REPORT_FILE, write_report

    check_policy(policy, "policy")
    params = period_params(period)
    bad = wh.query_file("royalties/split_totals.sql").to_pylist()
    if bad:
        named = ", ".join(f"{r['TRACK_ID']} ({r['TOTAL_BPS']} bps, {r['SPLIT_ROWS']} rows)" for r in bad[:20])
        raise InputError("ROYALTY_SPLITS.SHARE_BPS", "splits must be non-negative, one row per holder, and sum to "
                         f"exactly 10000 bps per track; period refused. Offending tracks: {named}")
    pools = period_pools(wh, period)
    (ledger_sql, ledger_parts), ledger_params = _LEDGER_SQL[policy], policy_params(period, policy, functional_genres)
    ledger = wh.query_file(ledger_sql, ledger_params, **ledger_parts)
    statements = wh.query_file("royalties/statements_from_ledger.sql", ledger_params, ledger=ledger_sql,
                               statements="royalties/statements.sql", **ledger_parts)
    counts = wh.query_file("royalties/report.sql", params).to_pylist()[0]
    paid = set(ledger.column("TERRITORY").to_pylist())
    report = RoyaltyReport(
        period=period,
        unallocated=tuple(UnallocatedPool(t, c, from_micros(m)) for (t, c), m in pools.items() if t not in paid),
        **{k.lower(): int(v or 0) for k, v in counts.items()},  # COUNT_IF over no events is NULL on DuckDB
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / REPORT_FILE).unlink(missing_ok=True)  # written last: present only beside outputs that are complete
    ledger_path, statements_path = out_dir / "ledger.parquet", out_dir / "statements.parquet"
    _write_parquet(ledger, ledger_path)
    _write_parquet(statements, statements_path)
    result = RoyaltyResult(period, str(ledger_path), str(statements_path), report, engine="sql", policy=policy)
    write_report(result, out_dir)
    return result


def compute_with_spark(settings: Settings, inputs_dir: Path, period: str, out_dir: Path,
                       spark: Any = None, policy: str = DEFAULT_POLICY) -> RoyaltyResult:
    """Runs jobs/royalty_statements.py under ``policy`` on ``spark`` or, if None, on the active or a new session."""
    from jobs.royalty_statements import run_royalty_statements

    with _spark_session(settings, spark) as session:
        return run_royalty_statements(session, str(inputs_dir), period, str(out_dir), policy=policy,
                                      functional_genres=settings.functional_genres)


def check_result(result: RoyaltyResult, pools: dict[tuple[str, str], int]) -> None:
    """Invariants every result must satisfy before it is loaded; violating one is a bug, not bad input.

    Each allocated pool's lines sum exactly to the pool; no amount is negative or has more than 6 places; each
    currency's statements sum to its ledger total; keys are unique.
    """
    ledger = pq.read_table(result.ledger_path).to_pylist()
    statements = pq.read_table(result.statements_path).to_pylist()
    per_pool: dict[tuple[str, str], int] = {}
    per_currency: dict[str, int] = {}
    for row in ledger:
        micros = to_micros(row["AMOUNT"], "ROYALTY_LEDGER.AMOUNT")
        per_pool[(row["TERRITORY"], row["CURRENCY"])] = per_pool.get((row["TERRITORY"], row["CURRENCY"]), 0) + micros
        per_currency[row["CURRENCY"]] = per_currency.get(row["CURRENCY"], 0) + micros
    for key, total in per_pool.items():
        if total != pools.get(key):
            raise AssertionError(f"pool {key}: ledger lines sum to {from_micros(total)}, pool is {pools.get(key)}")
    stated: dict[str, int] = {}
    for row in statements:
        stated[row["CURRENCY"]] = stated.get(row["CURRENCY"], 0) + to_micros(row["AMOUNT"], "ROYALTY_STATEMENTS")
    if stated != per_currency:
        raise AssertionError(f"statements {stated} do not sum to the ledger {per_currency} per currency")
    if len({tuple(r[k] for k in LEDGER_KEY) for r in ledger}) != len(ledger):
        raise AssertionError("ledger has duplicate keys")


def load_result(wh: Warehouse, result: RoyaltyResult) -> tuple[tuple[UpsertResult, ...], int]:
    """MERGEs the ledger, statements and run report; deletes the period's lines the result no longer has.

    Returns the upsert results and the number of stale rows deleted. On DuckDB all of it is one transaction; on
    Snowflake (where staging commits) the MERGEs are one transaction and the stale-key delete a second.
    """
    ledger = pq.read_table(result.ledger_path).select(list(LEDGER_KEY) + ["AMOUNT"])
    statements = pq.read_table(result.statements_path).select(list(STATEMENT_KEY) + ["STREAMS", "AMOUNT"])
    runs = pa.Table.from_pylist([_run_row(result, ledger.num_rows)])
    loads = {"ROYALTY_LEDGER": ledger, "ROYALTY_STATEMENTS": statements, "ROYALTY_RUNS": runs}
    outer = wh.transaction() if wh.transactional_ddl else contextlib.nullcontext(wh)
    with outer:
        merged = tuple(wh.upsert_many(loads))
        with wh.transaction():
            deleted = _delete_stale(wh, "ROYALTY_LEDGER", LEDGER_KEY, ledger, result.period)
            deleted += _delete_stale(wh, "ROYALTY_STATEMENTS", STATEMENT_KEY, statements, result.period)
    return merged, deleted


def export_period_inputs(settings: Settings, period: str, inputs_dir: Path,
                         policy: str | None = None) -> dict[str, int]:
    """Checks the period's pools, then writes the Spark job's input files (each atomically) for ``policy`` (default
    settings.royalty_policy: streaming_2024 adds track_activity.parquet); returns row counts.

    Raises:
        InputError: the period is malformed or its pools are malformed; PoolsNotLoaded when it has none.
    """
    policy = check_policy(policy or settings.royalty_policy, "royalty_policy" if policy is None else "policy")
    period_bounds(period)
    with connect(settings) as wh:
        period_pools(wh, period)  # refuse here, not after a cluster has started
        return export_inputs(wh, period, inputs_dir, policy)


def read_outputs(out_dir: Path, period: str, field: str = "out_dir") -> RoyaltyResult:
    """The result a royalty job left under ``out_dir``: ``ledger.parquet``, ``statements.parquet``, ``report.json``.

    A Spark output directory must hold ``_SUCCESS`` (Spark writes it when the write committed).

    Raises:
        InputError: naming ``field`` when a file is missing, incomplete or not a report; naming ``period`` when the
            outputs are of another period.
    """
    from jobs.royalty_statements import OUTPUT_FILES, REPORT_FILE, read_report, read_report_policy

    period_bounds(period)
    if not out_dir.is_dir():
        raise InputError(field, f"{out_dir} is not a directory of royalty job outputs")
    missing = [name for name in (*OUTPUT_FILES, REPORT_FILE) if not (out_dir / name).exists()]
    if missing:
        raise InputError(field, f"{out_dir} lacks {', '.join(missing)}; expected the outputs of "
                                "jobs/royalty_statements.py (ledger.parquet, statements.parquet, report.json)")
    for name in OUTPUT_FILES:
        if (out_dir / name).is_dir() and not (out_dir / name / "_SUCCESS").exists():
            raise InputError(field, f"{out_dir / name} has no _SUCCESS: the job's write did not finish")
    engine, report = read_report(out_dir / REPORT_FILE, field)
    if report.period != period:
        raise InputError("period", f"the outputs under {out_dir} are for {report.period}, not {period}")
    return RoyaltyResult(period, str(out_dir / OUTPUT_FILES[0]), str(out_dir / OUTPUT_FILES[1]), report, engine,
                         read_report_policy(out_dir / REPORT_FILE))


def load_period_outputs(settings: Settings, result: RoyaltyResult) -> RoyaltyRun:
    """Checks ``result`` against the warehouse's pools of its period (:func:`check_result`), then MERGEs it.

    Returns the run with the period's statements as they now stand in ROYALTY_STATEMENTS.
    """
    with connect(settings) as wh:
        check_result(result, period_pools(wh, result.period))
        loads, deleted = load_result(wh, result)
        statements = wh.query_file("royalties/period_statements.sql", {"period": result.period})
    lines = pq.read_table(result.ledger_path).num_rows
    log.info("royalties %s loaded (%s, %s): %d ledger lines, %d stale rows deleted", result.period, result.engine,
             result.policy, lines, deleted)
    return RoyaltyRun(result.period, result.engine, result.report, lines, statements, loads, deleted, result.policy)


def run_royalties(settings: Settings, period: str, engine: str = "spark", spark: Any = None,
                  work_dir: Path | None = None, policy: str | None = None) -> RoyaltyRun:
    """Computes ``period`` with ``engine`` ('spark' or 'sql') under ``policy``, checks the result and MERGEs it.

    Args:
        settings: where the warehouse is and which Spark master to use (``MAESTRO_SPARK_MASTER``).
        period: the UTC month, ``YYYY-MM``.
        engine: 'spark' (jobs/royalty_statements.py) or 'sql' (sql/royalties/*.sql in the warehouse).
        spark: an existing SparkSession to use (it is not stopped); default: the active one or a new one.
        work_dir: where the Parquet inputs and outputs go; default ``$MAESTRO_HOME/royalties/<period>``.
        policy: ``pro_rata``, ``streaming_2024`` or ``user_centric``; default ``settings.royalty_policy``
            (``MAESTRO_ROYALTY_POLICY``).

    Raises:
        PoolsNotLoaded: the period has no pool yet (an InputError, checked before anything is computed).
        InputError: malformed period, engine, policy (naming ``policy``), pool amounts or splits.
    """
    if engine not in ENGINES:
        raise InputError("engine", f"{engine!r} is not an engine; accepted: {', '.join(ENGINES)}")
    policy = check_policy(policy or settings.royalty_policy, "royalty_policy" if policy is None else "policy")
    period_bounds(period)
    work = work_dir or settings.home / "royalties" / period
    if engine == "sql":
        with connect(settings) as wh:
            result = compute_with_sql(wh, period, work / "sql", policy, settings.functional_genres)
    else:  # the warehouse connection is closed while Spark works: DuckDB allows one writer
        export_period_inputs(settings, period, work / "inputs", policy)
        result = compute_with_spark(settings, work / "inputs", period, work / "spark", spark, policy)
    return load_period_outputs(settings, result)


def period_pools(wh: Warehouse, period: str) -> dict[tuple[str, str], int]:
    """The period's pools in micro-units, keyed (TERRITORY, CURRENCY).

    Raises:
        PoolsNotLoaded: there is none; InputError: an amount is malformed.
    """
    return _checked_pools(wh.query_file("royalties/pools.sql", {"period": period}).to_pylist(), period)


def _checked_pools(rows: list[dict[str, Any]], period: str) -> dict[tuple[str, str], int]:
    """Pools of the period in micro-units; PoolsNotLoaded when there is none, InputError for a malformed amount."""
    if not rows:
        raise PoolsNotLoaded(period)
    pools = {}
    for row in rows:
        key = (row["TERRITORY"], row["CURRENCY"])
        amount = row["AMOUNT"]
        if isinstance(amount, float):
            raise InputError("REVENUE_POOLS.AMOUNT", "came back as a float; money must be a decimal type")
        pools[key] = to_micros(amount, f"REVENUE_POOLS.AMOUNT ({period} {key[0]} {key[1]})")
    return pools


def _run_row(result: RoyaltyResult, ledger_lines: int) -> dict[str, Any]:
    row = {k.upper(): v for k, v in result.report.as_row().items()}
    row["UNALLOCATED"] = json.dumps(row["UNALLOCATED"])
    return {**row, "ENGINE": result.engine, "POLICY": result.policy, "LEDGER_LINES": ledger_lines}


def _delete_stale(wh: Warehouse, table: str, key: tuple[str, ...], new: pa.Table, period: str) -> int:
    """Deletes the period's rows of ``table`` (one of ``_STALE_SQL``) whose key is not in ``new``; returns how many."""
    rest = [k for k in key if k != "PERIOD"]
    keys_sql, delete_sql = _STALE_SQL[table]
    existing = wh.query_file(keys_sql, {"period": period})
    assert existing.column_names == rest, f"{keys_sql} must select {rest}, in the order the delete joins them"
    fresh = {_KEY_SEP.join(map(str, r)) for r in zip(*(new.column(k).to_pylist() for k in rest), strict=True)}
    stale = [k for k in (_KEY_SEP.join(map(str, r)) for r in zip(*(existing.column(c).to_pylist() for c in rest),
                                                                   strict=True)) if k not in fresh]
    for start in range(0, len(stale), 500):
        chunk = stale[start:start + 500]
        params: dict[str, Any] = {f"k{i}": k for i, k in enumerate(chunk)}
        wh.execute_file(delete_sql, {**params, "period": period}, keys=len(chunk))
    return len(stale)


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Temp file + rename, so a reader never sees half a file."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


@contextlib.contextmanager
def _spark_session(settings: Settings, spark: Any) -> Iterator[Any]:
    """The given session, else the active one (left running), else a new one on settings.spark_master (stopped).

    A new session starts its own driver JVM, so it gets jobs/log4j2.properties: Spark logs WARN and above only, with
    no console progress bar, so a task's log is not flooded. Other settings (``spark.sql.shuffle.partitions``,
    executor memory) come from ``PYSPARK_SUBMIT_ARGS`` or ``spark-defaults.conf``, as for any PySpark session.
    """
    if spark is not None:
        yield spark
        return
    from pyspark.sql import SparkSession

    from jobs.royalty_statements import LOG4J2_PROPERTIES, SPARK_LOG_LEVEL

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    session = (SparkSession.builder.master(settings.spark_master).appName("maestro-royalties")
               .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.ansi.enabled", "true").config("spark.log.level", SPARK_LOG_LEVEL)
               .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG4J2_PROPERTIES.as_uri()}")
               .config("spark.ui.showConsoleProgress", "false")  # a progress bar redrawn on stderr, into task logs
               .getOrCreate())
    try:
        yield session
    finally:
        session.stop()


