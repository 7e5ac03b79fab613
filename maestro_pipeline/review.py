"""The catalog review's data: runs, their tracks against the request, rejections, royalties, and REVIEWS decisions.

Every reader takes an open :class:`~maestro_core.warehouse.Warehouse` and returns frozen records; the web app
(``maestro_ai.review``) only renders them. Every query lives in ``sql/review/`` (the royalty runs' unallocated
pools and a run's track count reuse ``analytics/royalty_runs_unallocated.sql`` and ``pipeline/run_track_count.sql``).

Decisions (REVIEWS, one row per track, migration ``008_reviews.sql``): :func:`record_decision` validates first
(decision, reviewer, note, every track id known) and then writes with one MERGE keyed on TRACK_ID (the
warehouse's ``upsert``: the rows are staged, then merged, the path every backend and fakesnow run), so deciding
again replaces the earlier decision (who, when, why). Repeating the same decision, reviewer and note writes
nothing: the row, DECIDED_AT included, keeps the time the decision was first made. With ``review_required`` set,
delivery refuses every track whose decision is not ``approved`` (:func:`review_states`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from maestro_core.errors import InputError
from maestro_core.request_status import FAILED, REJECTED

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)

APPROVED, HELD = "approved", "held"
DECISIONS = (APPROVED, HELD)
REVIEWER_MAX_CHARS, NOTE_MAX_CHARS = 200, 2000
EXAMPLES_PER_REASON = 5
TOP_REASONS = 3  # failure and rejection reasons a run row names


@dataclass(frozen=True)
class Review:
    """The latest decision on one track: ``decision`` is ``approved`` or ``held``; ``decided_at`` is UTC (naive)."""

    track_id: str
    run_id: str
    decision: str
    reviewer: str
    note: str
    decided_at: dt.datetime


@dataclass(frozen=True)
class RunRow:
    """One generation run: GENERATION_RUNS plus its failure and rejection reasons and its review progress.

    Attributes:
        counts: the run's request counts by status (GENERATION_RUNS.COUNTS).
        top_failures: (reason code, requests) of its failed requests, biggest first (at most 3).
        top_rejections: (reason code, requests) of its rejected requests, biggest first (at most 3).
        tracks, approved, held: the run's tracks, and how many of them are approved or held in REVIEWS.
    """

    run_id: str
    dag_id: str
    logical_date: dt.date
    engine: str
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    reason: str | None
    counts: dict[str, int]
    top_failures: list[tuple[str, int]]
    top_rejections: list[tuple[str, int]]
    tracks: int
    approved: int
    held: int


@dataclass(frozen=True)
class Split:
    """One royalty split line of a track: ``share_bps`` in basis points (a track's lines sum to 10000)."""

    holder_id: str
    holder_name: str
    role: str
    share_bps: int


@dataclass(frozen=True)
class TrackRow:
    """One generated track as the reviewer sees it, with what was requested beside what was measured.

    Attributes:
        tempo_bpm: measured tempo (BPM); musical_key: the detected key; loudness_lufs: integrated loudness (LUFS);
            true_peak_dbtp: true peak (dBTP) from the QC metadata in the provenance document (None when absent).
        duration_ms: the track's duration (milliseconds). uri: its stored audio.
        requested: the prompt's ``genre``, ``mood``, ``tempo_bpm``, ``musical_key`` and ``duration_s``.
        qc_warnings: QC warnings the track passed with. splits: its royalty splits.
        manifest_signed: whether the provenance says a C2PA manifest was embedded (None when it does not say).
        review: the latest REVIEWS decision, None while pending.
    """

    track_id: str
    run_id: str
    request_id: str
    prompt_id: str
    isrc: str | None
    title: str
    genre: str
    mood: str
    tempo_bpm: float | None
    musical_key: str | None
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    duration_ms: int
    uri: str
    requested: dict[str, Any]
    qc_warnings: list[str]
    splits: list[Split]
    manifest_signed: bool | None
    review: Review | None


@dataclass(frozen=True)
class RejectionGroup:
    """Requests refused for one reason code: its human message, how many, and up to 5 example request ids."""

    code: str
    message: str
    count: int
    examples: list[str]


@dataclass(frozen=True)
class StatementRow:
    """One holder's royalty statement line for a period (``YYYY-MM``): ``amount`` in ``currency``."""

    period: str
    holder_id: str
    holder_name: str
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class UnallocatedRow:
    """A pool (or part of one) a royalty run could not allocate, and why."""

    period: str
    territory: str
    currency: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class RoyaltyOverview:
    """Statements per period and holder, total paid per (period, currency) oldest first, and unallocated pools."""

    statements: list[StatementRow]
    payouts: list[tuple[str, str, Decimal]]
    unallocated: list[UnallocatedRow]


def list_runs(wh: Warehouse, *, limit: int = 200) -> list[RunRow]:
    """The latest ``limit`` runs, newest first (by logical date, then start)."""
    if limit < 1:
        raise InputError("limit", f"{limit!r} must be >= 1")
    rows = wh.query_file("review/runs.sql", {"limit": int(limit)}, summary="review/run_summary.sql").to_pylist()
    return _run_rows(wh, rows)


def get_run(wh: Warehouse, run_id: str) -> RunRow | None:
    """One run, or None when no run has that id."""
    rows = wh.query_file("review/run.sql", {"run": run_id}, summary="review/run_summary.sql").to_pylist()
    found = _run_rows(wh, rows)
    return found[0] if found else None


def run_tracks(wh: Warehouse, run_id: str, *, offset: int = 0, limit: int = 50) -> tuple[list[TrackRow], int]:
    """One page of a run's tracks (ordered by track id) and the run's total track count.

    Args:
        offset: tracks to skip (>= 0). limit: page size (>= 1).
    """
    if offset < 0:
        raise InputError("offset", f"{offset!r} must be >= 0")
    if limit < 1:
        raise InputError("limit", f"{limit!r} must be >= 1")
    total = int(wh.scalar_file("pipeline/run_track_count.sql", {"run": run_id}) or 0)
    if offset >= total:
        return [], total
    rows = wh.query_file("review/run_tracks.sql", {"run": run_id, "first": offset + 1, "last": offset + limit},
                         tracks="review/track_columns.sql").to_pylist()
    return _track_rows(wh, rows), total


def get_track(wh: Warehouse, track_id: str) -> TrackRow | None:
    """One track, or None when no track has that id."""
    rows = wh.query_file("review/track.sql", {"track": track_id}, tracks="review/track_columns.sql").to_pylist()
    found = _track_rows(wh, rows)
    return found[0] if found else None


def rejections(wh: Warehouse, run_id: str | None = None) -> list[RejectionGroup]:
    """Refused requests (rejected, or failed in generation or QC) grouped by first reason code, biggest first.

    The human message of a group is the one recorded with its first example's reason (the code base keeps no
    code-to-message table: the gate and QC write each message with its code), without a repeated ``code:`` prefix.

    Args:
        run_id: one run's requests; None for every run's.
    """
    rows = wh.query_file("review/rejections.sql", {"run": run_id or ""}).to_pylist()
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:  # ordered by count, code, request id: groups come out biggest first
        groups.setdefault(str(row["CODE"]), []).append(row)
    return [RejectionGroup(code, _message(code, items[0]["MESSAGE"]), int(items[0]["REQUESTS"]),
                           [str(r["REQUEST_ID"]) for r in items][:EXAMPLES_PER_REASON])
            for code, items in groups.items()]


def royalty_overview(wh: Warehouse) -> RoyaltyOverview:
    """Every period's statements (newest first), payouts per period and currency (oldest first, for the chart)
    and the pools each royalty run left unallocated (``analytics/royalty_runs_unallocated.sql``)."""
    statements = [StatementRow(str(r["PERIOD"]), str(r["HOLDER_ID"]), str(r["HOLDER_NAME"]), str(r["CURRENCY"]),
                               _decimal(r["AMOUNT"]))
                  for r in wh.query_file("review/statements.sql").to_pylist()]
    payouts = [(str(r["PERIOD"]), str(r["CURRENCY"]), _decimal(r["PAID"]))
               for r in wh.query_file("review/payouts.sql").to_pylist()]
    unallocated = [
        UnallocatedRow(str(r["PERIOD"]), str(pool["territory"]), str(pool["currency"]), _decimal(pool["amount"]),
                       f"no paid streams in {pool['territory']} in {r['PERIOD']}: the pool stays unallocated")
        for r in wh.query_file("analytics/royalty_runs_unallocated.sql").to_pylist()
        for pool in _json(r["UNALLOCATED"], [])]
    return RoyaltyOverview(statements, payouts, unallocated)


def track_provenance(wh: Warehouse, track_id: str) -> dict[str, Any] | None:
    """The provenance document stored for a track (TRACK_PROVENANCE.PROVENANCE), or None when it has none."""
    text = wh.scalar_file("review/provenance.sql", {"track": track_id})
    document = _json(text, None)
    return document if isinstance(document, dict) else None


def record_decision(wh: Warehouse, track_ids: Sequence[str], decision: str, reviewer: str, note: str, *,
                    now: dt.datetime | None = None) -> int:
    """Records one decision on some tracks: validated first, then one MERGE into REVIEWS on TRACK_ID.

    Deciding differently replaces the track's row (who, when, why). Repeating the same decision with the same
    reviewer and note changes nothing, DECIDED_AT included (so a double-submitted form is harmless).

    Args:
        track_ids: the tracks (duplicates are dropped; at least one).
        decision: ``approved`` or ``held``.
        reviewer: who decides (1-200 characters after trimming).
        note: why (at most 2000 characters; may be empty).
        now: the decision time (UTC; default: now), stored to the second.

    Returns:
        The rows inserted or replaced (0 when every track already had this decision).

    Raises:
        InputError: naming ``decision``, ``reviewer``, ``note`` or ``track_ids`` (an unknown id); nothing written.
    """
    decision, reviewer, note = _checked(decision, reviewer, note)
    ids = list(dict.fromkeys(str(t) for t in track_ids))
    if not ids:
        raise InputError("track_ids", "no track to decide on")
    decided_at = _utc_naive(now)
    with _atomic(wh):
        runs = {r["TRACK_ID"]: r["RUN_ID"] for r in wh.query_file_for_ids("review/track_runs.sql", ids, bind="t")}
        unknown = [t for t in ids if t not in runs]
        if unknown:
            raise InputError("track_ids", f"unknown track id(s): {', '.join(unknown[:10])}"
                                          f"{' …' if len(unknown) > 10 else ''}")
        before = review_states(wh, ids)
        rows = [{"TRACK_ID": t, "RUN_ID": runs[t], "DECISION": decision, "REVIEWER": reviewer, "NOTE": note,
                 "DECIDED_AT": decided_at} for t in ids
                if t not in before or (before[t].run_id, before[t].decision, before[t].reviewer,
                                       before[t].note) != (runs[t], decision, reviewer, note)]
        if rows:
            wh.upsert("REVIEWS", rows)
    log.info("review decision", extra={"decision": decision, "reviewer": reviewer, "tracks": len(ids),
                                       "changed": len(rows)})
    return len(rows)


def decide_run(wh: Warehouse, run_id: str, decision: str, reviewer: str, note: str, *,
               now: dt.datetime | None = None) -> int:
    """:func:`record_decision` for every track of a run; returns the rows inserted or replaced.

    Raises:
        InputError: as :func:`record_decision`, or naming ``run_id`` when the run has no track.
    """
    _checked(decision, reviewer, note)
    ids = [str(r["TRACK_ID"]) for r in wh.query_file("review/run_track_ids.sql", {"run": run_id}).to_pylist()]
    if not ids:
        raise InputError("run_id", f"{run_id!r} is not a run with tracks")
    return record_decision(wh, ids, decision, reviewer, note, now=now)


def review_states(wh: Warehouse, track_ids: Sequence[str]) -> dict[str, Review]:
    """The REVIEWS row of each given track that has one (pending tracks are absent)."""
    ids = list(dict.fromkeys(str(t) for t in track_ids))
    return {r["TRACK_ID"]: _review(r) for r in wh.query_file_for_ids("review/reviews.sql", ids, bind="t")}


def approved_ids(wh: Warehouse, track_ids: Sequence[str]) -> set[str]:
    """The given tracks whose latest decision is ``approved``."""
    return {t for t, r in review_states(wh, track_ids).items() if r.decision == APPROVED}


# -- internals -----------------------------------------------------------------------------------------------------
def _checked(decision: str, reviewer: str, note: str) -> tuple[str, str, str]:
    if decision not in DECISIONS:
        raise InputError("decision", f"{decision!r} is not a decision; accepted: {', '.join(DECISIONS)}")
    who = str(reviewer or "").strip()
    if not who:
        raise InputError("reviewer", "is required: who decides")
    if len(who) > REVIEWER_MAX_CHARS:
        raise InputError("reviewer", f"has {len(who)} characters; at most {REVIEWER_MAX_CHARS}")
    why = str(note or "").strip()
    if len(why) > NOTE_MAX_CHARS:
        raise InputError("note", f"has {len(why)} characters; at most {NOTE_MAX_CHARS}")
    return decision, who, why


@contextlib.contextmanager
def _atomic(wh: Warehouse) -> Iterator[None]:
    """The check and the MERGE in one transaction where the backend allows staging inside one (DuckDB); on
    Snowflake staging is DDL, which would commit it, so there the MERGE is atomic by itself."""
    if wh.transactional_ddl:
        with wh.transaction():
            yield
    else:
        yield


def _utc_naive(now: dt.datetime | None) -> dt.datetime:
    moment = now or dt.datetime.now(dt.UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _run_rows(wh: Warehouse, rows: list[dict[str, Any]]) -> list[RunRow]:
    reasons: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    ids = [str(r["RUN_ID"]) for r in rows]
    for r in wh.query_file_for_ids("review/run_reasons.sql", ids, bind="r"):
        reasons[(r["RUN_ID"], r["STATUS"])].append((str(r["CODE"]), int(r["REQUESTS"])))
    return [RunRow(
        run_id=str(r["RUN_ID"]), dag_id=str(r["DAG_ID"]), logical_date=r["LOGICAL_DATE"], engine=str(r["ENGINE"]),
        status=str(r["STATUS"] or ""), started_at=r["STARTED_AT"], finished_at=r["FINISHED_AT"],
        reason=r.get("REASON") or None, counts={str(k): int(v) for k, v in (_json(r["COUNTS"], {}) or {}).items()},
        top_failures=reasons[(r["RUN_ID"], FAILED)][:TOP_REASONS],
        top_rejections=reasons[(r["RUN_ID"], REJECTED)][:TOP_REASONS],
        tracks=int(r["TRACKS"]), approved=int(r["APPROVED"]), held=int(r["HELD"])) for r in rows]


def _track_rows(wh: Warehouse, rows: list[dict[str, Any]]) -> list[TrackRow]:
    ids = [str(r["TRACK_ID"]) for r in rows]
    splits: dict[str, list[Split]] = defaultdict(list)
    for s in wh.query_file_for_ids("review/track_splits.sql", ids, bind="t"):
        splits[s["TRACK_ID"]].append(Split(str(s["HOLDER_ID"]), str(s["HOLDER_NAME"]), str(s["ROLE"]),
                                           int(s["SHARE_BPS"])))
    return [TrackRow(
        track_id=str(r["TRACK_ID"]), run_id=str(r["RUN_ID"]), request_id=str(r["REQUEST_ID"]),
        prompt_id=str(r["PROMPT_ID"]), isrc=r["ISRC"], title=str(r["TITLE"]), genre=str(r["GENRE"]),
        mood=str(r["MOOD"]), tempo_bpm=_float(r["TEMPO_BPM"]), musical_key=r["MUSICAL_KEY"],
        loudness_lufs=_float(r["LOUDNESS_LUFS"]), true_peak_dbtp=_float(r["TRUE_PEAK_DBTP"]),
        duration_ms=int(r["DURATION_MS"]), uri=str(r["URI"]),
        requested={"genre": r["REQUESTED_GENRE"], "mood": r["REQUESTED_MOOD"],
                   "tempo_bpm": r["REQUESTED_TEMPO_BPM"], "musical_key": r["REQUESTED_MUSICAL_KEY"],
                   "duration_s": r["REQUESTED_DURATION_S"]},
        qc_warnings=[str(w) for w in _json(r["QC_WARNINGS"], []) or []], splits=splits[str(r["TRACK_ID"])],
        manifest_signed=r["MANIFEST_SIGNED"],
        review=_review({**r, "RUN_ID": r["REVIEW_RUN_ID"]}) if r["DECISION"] is not None else None)
        for r in rows]


def _review(row: Mapping[str, Any]) -> Review:
    return Review(str(row["TRACK_ID"]), str(row["RUN_ID"]), str(row["DECISION"]), str(row["REVIEWER"]),
                  str(row["NOTE"] or ""), row["DECIDED_AT"])


def _message(code: str, message: Any) -> str:
    text = str(message or "")
    return text[len(code) + 2:] if text.startswith(f"{code}: ") else text


def _json(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return default


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _decimal(value: Any) -> Decimal:
    """Money as Decimal whatever the driver returns (fakesnow may hand back a float: go through its text)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
