"""Royalty statements for one UTC month on Spark: the rule in maestro_core.royalty_rules, computed on integers.

Inputs (Parquet, UPPER CASE columns as the warehouse exports them) under ``inputs_dir``:

* ``stream_events.parquet``: EVENT_ID, TRACK_ID, TERRITORY, EVENT_TS (UTC), MS_PLAYED (ms) and, for the
  ``user_centric`` policy, LISTENER_ID (NULL or absent: not attributed to a listener, so it earns nothing there)
* ``royalty_splits.parquet``: TRACK_ID, HOLDER_ID, SHARE_BPS (bps; each track sums to 10000)
* ``revenue_pools.parquet``: PERIOD, TERRITORY, CURRENCY, AMOUNT (decimal, at most 6 places)
* for the ``streaming_2024`` policy only, ``track_activity.parquet``: TRACK_ID, GENRE, DURATION_MS,
  TRAILING_STREAMS (qualifying streams in the trailing 12 months, as ``sql/royalties/track_activity.sql`` exports)

The policy (``pro_rata``, the default, ``streaming_2024`` or ``user_centric``; see maestro_core.royalty_rules and
docs/royalties.md) decides which streams earn and how each pool is split over them.

Outputs under ``out_dir``: ``ledger.parquet`` and ``statements.parquet`` (see RoyaltyResult) and, when
``out_dir`` is a local path, ``report.json`` (the RoyaltyReport; see :func:`write_report`), written last, so its
presence means the run finished.

Money never touches a float: a pool is integer micro-units, a line's exact share is the integer fraction
``P*s*b / (T*10000)`` held in decimal(38,0), its floor is Spark's exact integral division, and the micro-units
left over in a pool go to the lines with the largest remainders (ties by TRACK_ID, HOLDER_ID).

Run as ``spark-submit jobs/royalty_statements.py --inputs DIR --period YYYY-MM --out DIR [--policy NAME]
[--functional-genres a,b]`` or call ``run_royalty_statements(spark, inputs_dir, period, out_dir, policy=...)``.
Spark's own log is WARN and above: ``main`` sets ``spark.log.level=WARN`` unless given one, and
``jobs/log4j2.properties`` (pass it with ``--driver-java-options
-Dlog4j2.configurationFile=file:jobs/log4j2.properties``) silences the start-up lines before the context exists.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from maestro_core.atomic import atomic_path
from maestro_core.errors import InputError
from maestro_core.royalty_rules import (
    DEFAULT_FUNCTIONAL_GENRES,
    DEFAULT_POLICY,
    FUNCTIONAL_MIN_MS,
    MIN_TRAILING_STREAMS,
    QUALIFYING_MS,
    TOTAL_BPS,
    RoyaltyReport,
    RoyaltyResult,
    UnallocatedPool,
    check_policy,
    from_micros,
    period_bounds,
    to_micros,
)

log = logging.getLogger(__name__)

INPUT_FILES = {
    "STREAM_EVENTS": "stream_events.parquet",
    "ROYALTY_SPLITS": "royalty_splits.parquet",
    "REVENUE_POOLS": "revenue_pools.parquet",
}
# Inputs that only some policies read: the policy -> {table: file}.
POLICY_INPUT_FILES = {"streaming_2024": {"TRACK_ACTIVITY": "track_activity.parquet"}}
OUTPUT_FILES = ("ledger.parquet", "statements.parquet")
REPORT_FILE = "report.json"
# Log4j 2 configuration for the driver JVM: WARN and above on stderr. Spark reads it only at JVM start, so it goes
# on the command line (spark-submit --driver-java-options) or into spark.driver.extraJavaOptions of a session
# that launches its own JVM (maestro_pipeline.royalty_run does); spark.log.level=WARN covers what starts after
# the context.
LOG4J2_PROPERTIES = Path(__file__).with_name("log4j2.properties")
SPARK_LOG_LEVEL = "WARN"
_MAX_NAMED = 20  # tracks named in an error message


def run_royalty_statements(spark: Any, inputs_dir: str, period: str, out_dir: str, policy: str = DEFAULT_POLICY,
                           functional_genres: Collection[str] = DEFAULT_FUNCTIONAL_GENRES) -> RoyaltyResult:
    """Computes ROYALTY_LEDGER and ROYALTY_STATEMENTS rows for ``period`` under ``policy`` and writes them as Parquet.

    Args:
        spark: a SparkSession; its session time zone is set to UTC (the rule's calendar).
        inputs_dir: directory (local path or URL Spark can read) holding the three input Parquet datasets.
        period: the UTC month, ``YYYY-MM``.
        out_dir: directory for ``ledger.parquet`` and ``statements.parquet`` (replaced if present) and, when it is
            local, ``report.json`` (removed first, written last).
        policy: ``pro_rata`` (default), ``streaming_2024`` or ``user_centric``.
        functional_genres: the genres ``streaming_2024`` treats as functional (settings.functional_genres).

    Raises:
        InputError: the policy is unknown (naming ``policy``); the period is malformed or has no pool; a pool
            amount has more than 6 decimal places, is negative or is not decimal; splits of a track do not sum to
            10000 bps (naming the tracks).
    """
    from pyspark.sql import functions as F

    check_policy(policy, "policy")
    start, end = period_bounds(period)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    base = inputs_dir.rstrip("/")
    files = {**INPUT_FILES, **POLICY_INPUT_FILES.get(policy, {})}
    read = {name: spark.read.parquet(f"{base}/{file}") for name, file in files.items()}

    out = out_dir.rstrip("/")
    local = local_dir(out)
    if local is not None:  # a report left by an earlier run must not vouch for outputs this run may not finish
        (local / REPORT_FILE).unlink(missing_ok=True)
    pools = _pools_for_period(spark, read["REVENUE_POOLS"], period)
    splits = _checked_splits(read["ROYALTY_SPLITS"])
    counted = _territory_track_counts(read["STREAM_EVENTS"], start, end).cache()  # small: territories x tracks
    try:
        known = splits.select("TRACK_ID").distinct().withColumn("KNOWN", F.lit(True))
        cells = counted.join(known, "TRACK_ID", "left").fillna(False, ["KNOWN"])
        paid = cells.where(F.col("KNOWN") & (F.col("QUALIFYING") > 0)).select(
            "TERRITORY", "TRACK_ID", F.col("QUALIFYING").alias("STREAMS")
        )
        if policy == "streaming_2024":
            paid = paid.join(_earning_tracks(read["TRACK_ACTIVITY"], functional_genres), "TRACK_ID", "left_semi")
        if policy == "user_centric":
            played = _listener_track_counts(read["STREAM_EVENTS"], start, end).join(
                splits.select("TRACK_ID").distinct(), "TRACK_ID", "left_semi")
            ledger = _user_centric_ledger(played, splits, pools, period)
            paid_territories = {r["TERRITORY"] for r in played.select("TERRITORY").distinct().collect()}
        else:
            ledger = _ledger(paid, splits, pools, period)
            paid_territories = {r["TERRITORY"] for r in paid.select("TERRITORY").distinct().collect()}
        statements = ledger.groupBy("PERIOD", "HOLDER_ID", "CURRENCY").agg(
            F.sum("STREAMS").cast("long").alias("STREAMS"),
            F.sum("AMOUNT").cast("decimal(38,6)").alias("AMOUNT"),
        )
        ledger_path, statements_path = (f"{out}/{name}" for name in OUTPUT_FILES)
        # One sorted file each: coalesce + sortWithinPartitions avoids the sampling job a global orderBy costs.
        ledger.coalesce(1).sortWithinPartitions("TERRITORY", "CURRENCY", "TRACK_ID", "HOLDER_ID").write.mode(
            "overwrite"
        ).parquet(ledger_path)
        statements.coalesce(1).sortWithinPartitions("HOLDER_ID", "CURRENCY").write.mode("overwrite").parquet(
            statements_path
        )
        report = _report(cells, pools, period, paid_territories)
    finally:
        # Unpersist the cached plan itself: a later run over a rewritten file would otherwise reuse stale rows.
        counted.unpersist(blocking=True)
    log.info("royalties %s (%s): %s", period, policy, report.as_row())
    result = RoyaltyResult(period, ledger_path, statements_path, report, engine="spark", policy=policy)
    if local is None:
        log.warning("%s is not a local path: %s not written (the report is in this log)", out, REPORT_FILE)
    else:
        write_report(result, local)
    return result


def write_report(result: RoyaltyResult, out_dir: Path) -> Path:
    """Writes ``out_dir/report.json`` atomically: period, engine, output file names and the report's row.

    The JSON is ``{"period": "YYYY-MM", "engine": ..., "ledger": "ledger.parquet", "statements":
    "statements.parquet", "report": RoyaltyReport.as_row()}`` (amounts as decimal text); :func:`read_report`
    reads it back.
    """
    document = {"period": result.period, "engine": result.engine, "policy": result.policy, "ledger": OUTPUT_FILES[0],
                "statements": OUTPUT_FILES[1], "report": result.report.as_row()}
    path = out_dir / REPORT_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def read_report(path: Path, field: str = "report") -> tuple[str, RoyaltyReport]:
    """The engine and RoyaltyReport in a ``report.json`` written by :func:`write_report`.

    Raises:
        InputError: naming ``field`` when the file is not such a report.
    """
    try:
        document = json.loads(path.read_text())
        row = document["report"]
        counts = {k: int(row[k]) for k in RoyaltyReport.__dataclass_fields__ if k not in ("period", "unallocated")}
        unallocated = tuple(UnallocatedPool(u["territory"], u["currency"], Decimal(u["amount"]))
                            for u in row["unallocated"])
        return str(document["engine"]), RoyaltyReport(period=str(document["period"]), unallocated=unallocated,
                                                      **counts)
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise InputError(field, f"{path} is not a royalty report ({type(exc).__name__}: {exc})") from exc


def read_report_policy(path: Path) -> str:
    """The policy a ``report.json`` records (``pro_rata`` for reports written before policies existed).

    Raises:
        InputError: naming ``policy`` when it is not a known policy.
    """
    try:
        policy = json.loads(path.read_text()).get("policy", DEFAULT_POLICY)
    except (ValueError, AttributeError):
        policy = None
    return check_policy(str(policy), "policy")


def local_dir(location: str) -> Path | None:
    """``location`` as a local directory (a plain path or a ``file:`` URL); None for other URLs (s3a://, hdfs://)."""
    if location.startswith("file:"):
        return Path(urlparse(location).path)
    return None if "://" in location else Path(location)


def _pools_for_period(spark: Any, pools_df: Any, period: str) -> Any:
    """The period's pools as a small DataFrame (TERRITORY, CURRENCY, POOL_MICROS decimal(38,0)), validated."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    amount_type = pools_df.schema["AMOUNT"].dataType
    if isinstance(amount_type, T.FloatType | T.DoubleType):
        raise InputError("REVENUE_POOLS.AMOUNT", f"is {amount_type.simpleString()}; money must be a decimal type")
    rows = pools_df.where(F.col("PERIOD") == period).select("TERRITORY", "CURRENCY", "AMOUNT").collect()
    if not rows:
        raise InputError("period", f"no revenue pool for {period} in REVENUE_POOLS; load the period's pools first")
    seen: set[tuple[str, str]] = set()
    records = []
    for row in rows:
        key = (row["TERRITORY"], row["CURRENCY"])
        if key in seen:
            raise InputError("REVENUE_POOLS", f"two pools for {period} territory {key[0]} currency {key[1]}")
        seen.add(key)
        field = f"REVENUE_POOLS.AMOUNT ({period} {key[0]} {key[1]})"
        if row["AMOUNT"] is None:
            raise InputError(field, "is missing")
        records.append((key[0], key[1], Decimal(to_micros(row["AMOUNT"], field))))
    schema = T.StructType(
        [
            T.StructField("TERRITORY", T.StringType(), False),
            T.StructField("CURRENCY", T.StringType(), False),
            T.StructField("POOL_MICROS", T.DecimalType(38, 0), False),
        ]
    )
    return spark.createDataFrame(records, schema)


def _checked_splits(splits_df: Any) -> Any:
    """Splits as (TRACK_ID, HOLDER_ID, SHARE_BPS long); refuses the period if any track's shares are not 10000."""
    from pyspark.sql import functions as F

    splits = splits_df.select("TRACK_ID", "HOLDER_ID", F.col("SHARE_BPS").cast("long").alias("SHARE_BPS"))
    per_track = splits.groupBy("TRACK_ID").agg(
        F.sum(F.coalesce("SHARE_BPS", F.lit(-TOTAL_BPS))).alias("TOTAL"),
        F.min(F.coalesce("SHARE_BPS", F.lit(-1))).alias("LOWEST"),
        F.count("*").alias("N"),
        F.countDistinct("HOLDER_ID").alias("HOLDERS"),
    )
    bad = (
        per_track.where((F.col("TOTAL") != TOTAL_BPS) | (F.col("LOWEST") < 0) | (F.col("N") != F.col("HOLDERS")))
        .orderBy("TRACK_ID")
        .limit(_MAX_NAMED)
        .collect()
    )
    if bad:
        named = ", ".join(f"{r['TRACK_ID']} ({r['TOTAL']} bps, {r['N']} rows)" for r in bad)
        raise InputError(
            "ROYALTY_SPLITS.SHARE_BPS",
            f"splits must be non-negative, one row per holder, and sum to exactly {TOTAL_BPS} bps per track; "
            f"period refused. Offending tracks: {named}",
        )
    return splits


def _territory_track_counts(events_df: Any, start: Any, end: Any) -> Any:
    """Events deduplicated by EVENT_ID, classified and counted per (TERRITORY, TRACK_ID).

    Of duplicate rows the smallest (EVENT_TS, TRACK_ID, TERRITORY, MS_PLAYED), nulls first, is kept, so the
    choice is deterministic and matches the SQL check.
    """
    from pyspark.sql import functions as F

    events = events_df.select(
        "EVENT_ID",
        F.col("EVENT_TS").cast("timestamp").alias("EVENT_TS"),
        "TRACK_ID",
        "TERRITORY",
        F.col("MS_PLAYED").cast("long").alias("MS_PLAYED"),
    )
    deduped = events.groupBy("EVENT_ID").agg(
        F.count("*").alias("COPIES"), F.min(F.struct("EVENT_TS", "TRACK_ID", "TERRITORY", "MS_PLAYED")).alias("E")
    )
    ts, ms = F.col("E.EVENT_TS"), F.col("E.MS_PLAYED")
    valid = ms.isNotNull() & (ms >= 0) & ts.isNotNull()
    in_period = valid & (ts >= F.lit(start.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp")) & (
        ts < F.lit(end.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp")
    )
    qualifying = in_period & (ms >= QUALIFYING_MS)

    def count_if(cond: Any) -> Any:
        return F.sum(F.when(cond, 1).otherwise(0)).cast("long")

    return deduped.groupBy(F.col("E.TERRITORY").alias("TERRITORY"), F.col("E.TRACK_ID").alias("TRACK_ID")).agg(
        F.sum("COPIES").cast("long").alias("INPUT"),
        F.count("*").cast("long").alias("EVENTS"),
        count_if(~valid).alias("INVALID"),
        count_if(valid & ~in_period).alias("OUT_OF_PERIOD"),
        count_if(in_period).alias("IN_PERIOD"),
        count_if(in_period & (ms < QUALIFYING_MS)).alias("SHORT"),
        count_if(qualifying).alias("QUALIFYING"),
    )


def _ledger(paid: Any, splits: Any, pools: Any, period: str) -> Any:
    """Ledger lines: every (pool, track with paid streams, holder), largest-remainder rounded to micro-units."""
    from pyspark.sql import functions as F

    totals = paid.groupBy("TERRITORY").agg(F.sum("STREAMS").alias("TOTAL_STREAMS"))
    lines = _shares(paid.join(totals, "TERRITORY").join(F.broadcast(pools), "TERRITORY").join(splits, "TRACK_ID"),
                    "POOL_MICROS", "TOTAL_STREAMS")
    return _ledger_rows(_largest_remainder(lines, "POOL_MICROS", ("TERRITORY", "CURRENCY")), period)


def _shares(lines: Any, amount: str, total_streams: str) -> Any:
    """NUMERATOR / DENOMINATOR of each line's exact share of ``amount`` (micro-units): ``amount * STREAMS *
    SHARE_BPS / (total_streams * 10000)``, with its floor (FLOOR_MICROS) and REMAINDER in integer arithmetic."""
    from pyspark.sql import functions as F

    big = "decimal(38,0)"
    return (
        lines.withColumn(
            "NUMERATOR", F.col(amount).cast(big) * F.col("STREAMS").cast(big) * F.col("SHARE_BPS").cast(big),
        )
        .withColumn("DENOMINATOR", F.col(total_streams).cast(big) * F.lit(TOTAL_BPS).cast(big))
        .withColumn("FLOOR_MICROS", F.expr("NUMERATOR div DENOMINATOR"))  # exact integral division -> long
        .withColumn("REMAINDER", F.expr("NUMERATOR % DENOMINATOR"))
    )


def _largest_remainder(lines: Any, amount: str, partition: tuple[str, ...]) -> Any:
    """MICROS per line: FLOOR_MICROS, plus one micro-unit for each of the lines with the largest REMAINDER (ties by
    TRACK_ID, HOLDER_ID) until every partition's lines sum to its ``amount`` exactly."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(*partition)
    by_remainder = window.orderBy(F.col("REMAINDER").desc(), F.col("TRACK_ID").asc(), F.col("HOLDER_ID").asc())
    return lines.withColumn(
        "LEFTOVER", F.col(amount) - F.sum("FLOOR_MICROS").over(window).cast("decimal(38,0)")
    ).withColumn(
        "MICROS",
        F.col("FLOOR_MICROS") + F.when(F.row_number().over(by_remainder) <= F.col("LEFTOVER"), 1).otherwise(0),
    )


def _ledger_rows(lines: Any, period: str) -> Any:
    """ROYALTY_LEDGER rows of lines carrying MICROS: AMOUNT as an exact decimal(38,6), STREAMS as a long."""
    from pyspark.sql import functions as F

    return lines.select(
        F.lit(period).alias("PERIOD"),
        "TERRITORY",
        "TRACK_ID",
        "HOLDER_ID",
        "CURRENCY",
        (F.col("MICROS").cast("decimal(31,0)") * F.lit(Decimal("0.000001")).cast("decimal(7,6)"))
        .cast("decimal(38,6)")
        .alias("AMOUNT"),
        F.col("STREAMS").cast("long").alias("STREAMS"),
    )


def _earning_tracks(activity_df: Any, functional_genres: Collection[str]) -> Any:
    """TRACK_ID of the tracks that earn under streaming_2024 (maestro_core.royalty_rules.streaming_2024_eligible)."""
    from pyspark.sql import functions as F

    genres = sorted(set(functional_genres))
    functional = F.col("GENRE").isin(genres) if genres else F.lit(False)
    short = F.col("DURATION_MS").cast("long") < FUNCTIONAL_MIN_MS
    earning = (F.col("TRAILING_STREAMS").cast("long") >= MIN_TRAILING_STREAMS) & ~(
        F.coalesce(functional, F.lit(False)) & F.coalesce(short, F.lit(False)))
    return activity_df.where(earning).select("TRACK_ID").distinct()


def _listener_track_counts(events_df: Any, start: Any, end: Any) -> Any:
    """Qualifying streams per (TERRITORY, LISTENER_ID, TRACK_ID) of events with a listener, deduplicated by EVENT_ID
    as :func:`_territory_track_counts` does (LISTENER_ID the last tie-breaker, as the SQL check orders them)."""
    from pyspark.sql import functions as F

    listener = F.col("LISTENER_ID") if "LISTENER_ID" in events_df.columns else F.lit(None)
    events = events_df.select(
        "EVENT_ID",
        F.col("EVENT_TS").cast("timestamp").alias("EVENT_TS"),
        "TRACK_ID",
        "TERRITORY",
        F.col("MS_PLAYED").cast("long").alias("MS_PLAYED"),
        listener.cast("string").alias("LISTENER_ID"),
    )
    deduped = events.groupBy("EVENT_ID").agg(
        F.min(F.struct("EVENT_TS", "TRACK_ID", "TERRITORY", "MS_PLAYED", "LISTENER_ID")).alias("E"))
    ts, ms = F.col("E.EVENT_TS"), F.col("E.MS_PLAYED")
    qualifying = (ms.isNotNull() & (ms >= QUALIFYING_MS) & ts.isNotNull()
                  & (ts >= F.lit(start.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp"))
                  & (ts < F.lit(end.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp"))
                  & F.col("E.LISTENER_ID").isNotNull())
    return deduped.where(qualifying).groupBy(
        F.col("E.TERRITORY").alias("TERRITORY"), F.col("E.LISTENER_ID").alias("LISTENER_ID"),
        F.col("E.TRACK_ID").alias("TRACK_ID"),
    ).agg(F.count("*").cast("long").alias("STREAMS"))


def _user_centric_ledger(played: Any, splits: Any, pools: Any, period: str) -> Any:
    """user_centric ledger lines: each pool split equally over its territory's listeners (left-over micro-units to
    the first LISTENER_IDs), each listener's share over that listener's (track, holder) lines by largest remainder,
    then summed per (track, holder). maestro_core.royalty_rules.allocate_pool_user_centric is the reference."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    big = "decimal(38,0)"
    listeners = played.groupBy("TERRITORY", "LISTENER_ID").agg(F.sum("STREAMS").alias("LISTENER_STREAMS"))
    pool = Window.partitionBy("TERRITORY", "CURRENCY")
    shares = (
        listeners.join(F.broadcast(pools), "TERRITORY")
        .withColumn("LISTENERS", F.count("*").over(pool).cast(big))
        .withColumn("RANK_IN_POOL", F.row_number().over(pool.orderBy(F.col("LISTENER_ID").asc())))
        .withColumn(
            "SHARE_MICROS",
            (F.expr("POOL_MICROS div LISTENERS").cast(big)
             + F.when(F.col("RANK_IN_POOL") <= F.expr("POOL_MICROS % LISTENERS"), 1).otherwise(0)).cast(big),
        )
        .select("TERRITORY", "CURRENCY", "LISTENER_ID", "LISTENER_STREAMS", "SHARE_MICROS")
    )
    lines = _shares(shares.join(played, ["TERRITORY", "LISTENER_ID"]).join(splits, "TRACK_ID"), "SHARE_MICROS",
                    "LISTENER_STREAMS")
    rounded = _largest_remainder(lines, "SHARE_MICROS", ("TERRITORY", "CURRENCY", "LISTENER_ID"))
    per_track = rounded.groupBy("TERRITORY", "CURRENCY", "TRACK_ID", "HOLDER_ID").agg(
        F.sum("MICROS").cast(big).alias("MICROS"), F.sum("STREAMS").cast("long").alias("STREAMS"))
    return _ledger_rows(per_track, period)


def _report(cells: Any, pools: Any, period: str, paid_territories: set[str]) -> RoyaltyReport:
    """Counts for the run report, from the small per-(territory, track) table and the pools; a pool is unallocated
    when the policy paid no stream in its territory (``paid_territories``)."""
    from pyspark.sql import functions as F

    pooled = pools.select("TERRITORY").distinct().withColumn("POOLED", F.lit(True))
    flagged = cells.join(F.broadcast(pooled), "TERRITORY", "left").fillna(False, ["POOLED"])
    known, has_pool = F.col("KNOWN"), F.col("POOLED")

    def total(col: str, cond: Any = None) -> Any:
        value = F.col(col) if cond is None else F.when(cond, F.col(col)).otherwise(0)
        return F.coalesce(F.sum(value), F.lit(0)).cast("long")

    sums = flagged.agg(
        total("INPUT").alias("input_events"),
        (total("INPUT") - total("EVENTS")).alias("duplicate_events"),
        total("INVALID").alias("invalid_events"),
        total("OUT_OF_PERIOD").alias("out_of_period_events"),
        total("SHORT").alias("short_events"),
        total("QUALIFYING").alias("qualifying_events"),
        total("IN_PERIOD", ~known).alias("unmatched_events"),
        total("QUALIFYING", ~known).alias("unmatched_streams"),
        total("QUALIFYING", known & ~has_pool).alias("unpooled_streams"),
        total("QUALIFYING", known & has_pool).alias("paid_streams"),
    ).collect()[0]
    unallocated = tuple(
        UnallocatedPool(r["TERRITORY"], r["CURRENCY"], from_micros(int(r["POOL_MICROS"])))
        for r in pools.orderBy("TERRITORY", "CURRENCY").collect()
        if r["TERRITORY"] not in paid_territories
    )
    return RoyaltyReport(period=period, unallocated=unallocated, **sums.asDict())


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry point: builds (or joins) the session and runs one period; logs the report as JSON.

    Spark logs at WARN unless ``--conf spark.log.level=...`` says otherwise (e.g. INFO to debug a cluster).
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    parser = argparse.ArgumentParser(description="Royalty statements for one UTC month.")
    parser.add_argument("--inputs", required=True, help="directory with the three input Parquet datasets")
    parser.add_argument("--period", required=True, help="YYYY-MM (UTC)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--policy", default=DEFAULT_POLICY, help="pro_rata (default), streaming_2024 or user_centric")
    parser.add_argument("--functional-genres", default=",".join(DEFAULT_FUNCTIONAL_GENRES),
                        help="comma-separated genres streaming_2024 treats as functional")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its INFO lines narrate every gateway call
    builder = (
        SparkSession.builder.appName(f"maestro-royalties-{args.period}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
    )
    # spark-submit's --conf values live in the JVM: SparkConf sees them once the gateway is up (the builder would
    # start it anyway); before that it is an empty dict and an operator's spark.log.level=INFO would be overridden.
    SparkContext._ensure_initialized()
    if not SparkConf().contains("spark.log.level"):
        builder = builder.config("spark.log.level", SPARK_LOG_LEVEL)
    spark = builder.getOrCreate()
    try:
        genres = [g for g in args.functional_genres.split(",") if g]
        result = run_royalty_statements(spark, args.inputs, args.period, args.out, policy=args.policy,
                                        functional_genres=genres)
    finally:
        spark.stop()
    log.info("result %s", json.dumps({"ledger": result.ledger_path, "statements": result.statements_path,
                                      "report": result.report.as_row()}))


if __name__ == "__main__":
    main()
