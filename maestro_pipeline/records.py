"""Warehouse records of a run: GENERATION_RUNS open/close, and the one-transaction load of a run's results.

Loads are MERGEs on natural keys (``Warehouse.upsert``), and every value is a function of the work itself, not of
the clock, unless something really changed: UPDATED_AT and FINISHED_AT keep their stored value when the status,
reasons and counts they stamp are unchanged. So a rerun of a finished date changes no row.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from maestro_core.request_status import (
    DONE,
    FAILED,
    GENERATED,
    PLANNED,
    REJECTED,
    REQUEST_STATUSES,
    RUN_RUNNING,
    RUN_SUCCESS,
)
from maestro_core.splits import compute_splits, split_rows
from maestro_pipeline.context import RunContext
from maestro_pipeline.tables import load_relied, load_row

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadReport:
    """Rows changed by one load (inserted + updated), per table."""

    tracks: int
    provenance: int
    splits: int
    requests: int

    @property
    def changed(self) -> int:
        return self.tracks + self.provenance + self.splits + self.requests


def utcnow() -> dt.datetime:
    """Now, as the naive UTC timestamp TIMESTAMP_NTZ columns hold."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def open_run(wh: Warehouse, ctx: RunContext) -> str:
    """Records the run as ``running`` unless it exists already (a rerun keeps its row until it closes).

    Call it only after preflight: a command that fails its checks must leave an earlier run's row as it was.
    """
    current = wh.query_file("pipeline/run_status.sql", {"run": ctx.run_id}).to_pylist()
    if not current or current[0]["STATUS"] not in (RUN_SUCCESS, RUN_RUNNING):
        started = utcnow()
        wh.upsert("GENERATION_RUNS", [{"RUN_ID": ctx.run_id, "DAG_ID": ctx.dag_id, "LOGICAL_DATE": ctx.logical_date,
                                       "ENGINE": ctx.settings.engine, "STARTED_AT": started, "FINISHED_AT": None,
                                       "STATUS": RUN_RUNNING, "COUNTS": None, "REASON": None}])
    return ctx.run_id


def run_counts(wh: Warehouse, run_id: str) -> dict[str, int]:
    """Requests of the run by status, plus the tracks they produced."""
    rows = wh.query_file("pipeline/run_request_counts.sql", {"run": run_id}).to_pylist()
    counts = dict.fromkeys(REQUEST_STATUSES, 0)
    counts.update({r["STATUS"]: int(r["N"]) for r in rows})
    counts["tracks"] = int(wh.scalar_file("pipeline/run_track_count.sql", {"run": run_id}) or 0)
    return counts


def close_run(wh: Warehouse, ctx: RunContext, status: str = RUN_SUCCESS, reason: str | None = None) -> dict[str, int]:
    """Closes the run with its counts and, for a failed run, why (one line: REASON).

    An identical close (same status, counts and reason) leaves the row untouched, so a rerun changes nothing.
    """
    counts = run_counts(wh, ctx.run_id)
    reason = (reason or "")[:2000] or None
    row = wh.query_file("pipeline/run_row.sql", {"run": ctx.run_id}).to_pylist()
    if row and row[0]["STATUS"] == status and _json(row[0]["COUNTS"]) == counts and row[0].get("REASON") == reason:
        return counts
    base = row[0] if row else {"RUN_ID": ctx.run_id, "DAG_ID": ctx.dag_id, "LOGICAL_DATE": ctx.logical_date,
                               "ENGINE": ctx.settings.engine, "STARTED_AT": utcnow()}
    wh.upsert("GENERATION_RUNS", [{**base, "FINISHED_AT": utcnow(), "STATUS": status,
                                   "COUNTS": json.dumps(counts, sort_keys=True), "REASON": reason}])
    return counts


def run_failures(wh: Warehouse, run_id: str, top: int = 5) -> list[dict[str, Any]]:
    """The run's most frequent failure causes: ``{"error", "message", "count"}``, most frequent first."""
    from maestro_core.failure_budget import failure_causes

    outcomes = []
    for row in wh.query_file("queries/run_failed_reasons.sql", {"run": run_id}).to_pylist():
        reasons = _json(row["REASONS"]) or [{}]
        first = reasons[0] if isinstance(reasons, list) and reasons and isinstance(reasons[0], dict) else {}
        outcomes.append((FAILED, str(first.get("error") or first.get("code") or "unknown"),
                         str(first.get("message") or "")))
    return [c.to_dict() for c in failure_causes(outcomes, top)]


def existing_statuses(wh: Warehouse, request_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """REQUEST_ID -> stored GENERATION_REQUESTS row, for the given ids."""
    return {r["REQUEST_ID"]: r for r in wh.query_file_for_ids("pipeline/requests_by_id.sql", request_ids, bind="r")}


def record_planned(wh: Warehouse, requests: pa.Table) -> int:
    """Inserts ``planned`` rows for requests not yet in GENERATION_REQUESTS (existing rows are not touched)."""
    stored = existing_statuses(wh, requests["REQUEST_ID"].to_pylist())
    now = utcnow()
    rows = [_request_row(r, PLANNED, "[]", now) for r in requests.to_pylist()
            if r["REQUEST_ID"] not in stored and r["STATUS"] in (PLANNED, REJECTED)]
    return wh.upsert("GENERATION_REQUESTS", rows).changed if rows else 0


# Result rows the load turns into warehouse rows at a time: the driver holds one batch of parsed tracks,
# provenance records and splits (about 40 KB a row while they are validated), not the whole run's.
LOAD_BATCH_ROWS = 1000


def load_run(wh: Warehouse, requests: pa.Table, results: pa.Table | Iterable[pa.Table],
             platform_holder: str) -> LoadReport:
    """One transaction: MERGE the tracks, provenance and splits of generated results, and every request's status.

    The results are read :data:`LOAD_BATCH_ROWS` at a time and each batch is staged in the warehouse as it is
    made (``Warehouse.upsert_batches``), so the driver's memory stays bounded however many tracks the run made;
    the MERGEs still commit together, once everything is staged.

    Args:
        requests: the gated request table (rejected requests carry the gate's reasons; ``done`` ones are skipped).
        results: worker result rows (maestro_pipeline.tables.RESULT_TABLE), one per generated or failed request:
            a table, or tables one after another (e.g. the row groups of the result shards).
        platform_holder: HOLDER_ID that receives the remainder of every split.
    """
    by_request = {r["REQUEST_ID"]: r for r in requests.to_pylist()}
    outcome: dict[str, tuple[str, str]] = {rid: (REJECTED, r["REASONS"] or "[]")
                                           for rid, r in by_request.items() if r["STATUS"] == REJECTED}

    def batches() -> Iterator[dict[str, list[dict[str, Any]]]]:
        for batch in _batches(results, LOAD_BATCH_ROWS):
            tracks, provenance, splits = [], [], []
            for res in batch.to_pylist():
                request = by_request.get(res["REQUEST_ID"])
                if request is None or request["STATUS"] != PLANNED:
                    # Only requests this run gated and sent to generation are loaded. A result for anything else is
                    # stale (e.g. a result file of an earlier attempt with more shards, still named by a mapped
                    # task's XCom): loading it would recompute the splits of a ``done`` track from an empty RELIED.
                    log.warning("result ignored: its request was not sent to generation in this run",
                                extra={"request_id": res["REQUEST_ID"],
                                       "status": None if request is None else request["STATUS"]})
                    continue
                outcome[res["REQUEST_ID"]] = (res["STATUS"], res["REASONS"] or "[]")
                if res["STATUS"] != GENERATED:
                    continue
                tracks.append(load_row(res["TRACK_ROW"]))
                provenance.append(load_row(res["PROVENANCE_ROW"]))
                relied = load_relied(request["RELIED"])
                splits.extend(split_rows(res["TRACK_ID"], compute_splits(relied, platform_holder)))
            loads = {"TRACKS": tracks, "TRACK_PROVENANCE": provenance, "ROYALTY_SPLITS": splits}
            yield {table: rows for table, rows in loads.items() if rows}
        statuses = request_rows()
        yield {"GENERATION_REQUESTS": statuses} if statuses else {}

    def request_rows() -> list[dict[str, Any]]:
        stored = existing_statuses(wh, list(outcome))
        now = utcnow()
        rows = []
        for rid, (status, reasons) in sorted(outcome.items()):
            if by_request[rid]["STATUS"] == DONE:
                continue
            before = stored.get(rid)
            unchanged = before and before["STATUS"] == status and _json(before["REASONS"]) == _json(reasons)
            rows.append(_request_row(by_request[rid], status, reasons,
                                     before["UPDATED_AT"] if before and unchanged else now))
        return rows

    # Every batch stages first, then all MERGEs commit in one transaction (on Snowflake too, where staging is DDL
    # and must not run inside the transaction).
    changed = {r.table: r.changed for r in wh.upsert_batches(batches())}
    report = LoadReport(tracks=changed.get("TRACKS", 0), provenance=changed.get("TRACK_PROVENANCE", 0),
                        splits=changed.get("ROYALTY_SPLITS", 0), requests=changed.get("GENERATION_REQUESTS", 0))
    log.info("run loaded", extra={"tracks": report.tracks, "provenance": report.provenance,
                                  "splits": report.splits, "requests": report.requests})
    return report


def _batches(results: pa.Table | Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """``results`` cut into tables of at most ``rows`` rows, in order."""
    for table in [results] if isinstance(results, pa.Table) else results:
        for start in range(0, table.num_rows, rows):
            yield table.slice(start, rows)


def platform_holder_id(wh: Warehouse) -> str:
    """The RIGHTS_HOLDERS row of KIND 'platform' (the first by id): it receives every split's remainder."""
    holder = wh.scalar_file("pipeline/platform_holder.sql")
    if not holder:
        from maestro_core.errors import InputError

        raise InputError("RIGHTS_HOLDERS", "no holder of KIND 'platform': splits need one to take the remainder")
    return str(holder)


def _request_row(request: Mapping[str, Any], status: str, reasons: str, updated_at: Any) -> dict[str, Any]:
    return {"REQUEST_ID": request["REQUEST_ID"], "RUN_ID": request["RUN_ID"], "PROMPT_ID": request["PROMPT_ID"],
            "PLAYLIST_ID": request["PLAYLIST_ID"], "ORDINAL": request["ORDINAL"], "SEED": request["SEED"],
            "STATUS": status, "REASONS": reasons, "UPDATED_AT": updated_at}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def status_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["STATUS"]] = counts.get(row["STATUS"], 0) + 1
    return counts
