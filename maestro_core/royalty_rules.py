"""The royalty rule as pure functions on integers and Decimal, plus the records a royalty run returns.

The rule (the contract; see docs/royalties.md):

1. A stream qualifies when ``MS_PLAYED >= 30000`` (milliseconds) and its ``EVENT_TS`` (UTC) falls in the period,
   a UTC calendar month ``YYYY-MM``.
2. For each (period, territory, currency) pool, a track's gross is
   ``pool.amount * track_qualifying / all_qualifying_in_territory``.
3. A holder's exact share is ``track_gross * share_bps / 10000``; splits of a track sum to exactly 10000 bps.
4. Ledger lines are rounded to 6 decimal places (micro-units) by the largest-remainder method within each pool,
   ties broken by ``(TRACK_ID, HOLDER_ID)`` ascending, so the lines of a pool sum exactly to the pool amount.
5. A pool without qualifying streams carries nothing out and is reported as unallocated.

Everything is computed on integers: with ``P`` the pool in micro-units, ``s`` a track's qualifying streams,
``b`` a holder's bps and ``T`` the territory's qualifying streams, a line's exact value in micro-units is
``P*s*b / (T*10000)``; its floor and remainder are integer division, and the sum of all lines' numerators is
exactly ``P*T*10000``, so ``P - sum(floors)`` lines receive one extra micro-unit.

That is the ``pro_rata`` policy, the default. The others (docs/royalties.md, "Royalty policies") change which
streams earn and how a pool is split, with the same integer largest-remainder allocation:

* ``streaming_2024`` (:func:`allocate_pool_streaming_2024`): pro-rata over the tracks that earn
  (:func:`streaming_2024_eligible`: >= 1000 qualifying streams in the trailing 12 months; a functional-genre track
  must last >= 120 s); the others' shares are reallocated within the pool.
* ``user_centric`` (:func:`allocate_pool_user_centric`): the pool split equally over the listeners active in it
  (:func:`split_equally`), each listener's share pro-rata over only that listener's streams.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from maestro_core.errors import InputError
from maestro_core.units import TOTAL_BPS

QUALIFYING_MS = 30_000
MICROS_PER_UNIT = 1_000_000
AMOUNT_SCALE = 6
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

# Royalty policies (docs/royalties.md): which streams of a pool earn, and how the pool is split over them.
POLICIES = ("pro_rata", "streaming_2024", "user_centric")
DEFAULT_POLICY = "pro_rata"
# streaming_2024 (Spotify, announced 2023-11-21, live 2024-04-01).
MIN_TRAILING_STREAMS = 1_000  # qualifying streams of a track in the trailing 12 months, all territories
TRAILING_MONTHS = 12  # the period and the 11 months before it
FUNCTIONAL_MIN_MS = 120_000  # a functional-genre track shorter than this earns nothing
DEFAULT_FUNCTIONAL_GENRES = ("ambient-noise", "sleep")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The half-open UTC interval ``[start, end)`` of a ``YYYY-MM`` period.

    Raises:
        InputError: naming ``period`` when it is not ``YYYY-MM``.
    """
    match = _PERIOD.fullmatch(period or "")
    if not match:
        raise InputError("period", f"{period!r} is not a month; accepted: YYYY-MM, e.g. 2026-03")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def check_policy(policy: str, field_name: str = "royalty_policy") -> str:
    """``policy`` when it is one of :data:`POLICIES`.

    Raises:
        InputError: naming ``field_name`` (the setting, the CLI flag or the DAG param) when it is not.
    """
    if policy not in POLICIES:
        raise InputError(field_name, f"{policy!r} is not a royalty policy; accepted: {', '.join(POLICIES)}")
    return policy


def trailing_start(period: str, months: int = TRAILING_MONTHS) -> datetime:
    """The UTC start of the trailing window of ``months`` months that ends with ``period`` (inclusive)."""
    start, _end = period_bounds(period)
    index = start.year * 12 + start.month - 1 - (months - 1)
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def previous_period(day: datetime) -> str:
    """The ``YYYY-MM`` month before the one containing ``day`` (a monthly run pays the month just closed)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def to_micros(amount: Decimal | int | str, field_name: str = "REVENUE_POOLS.AMOUNT") -> int:
    """An amount in currency units as integer micro-units (10**-6 units).

    Raises:
        InputError: naming ``field_name`` when the amount is missing, not finite, negative or has more than
            6 decimal places (it would have to be rounded, and money is never rounded silently).
    """
    if amount is None or isinstance(amount, float | bool):
        raise InputError(field_name, f"{amount!r} is not a decimal amount (floats are never money)")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except InvalidOperation:
        raise InputError(field_name, f"{amount!r} is not a decimal number") from None
    if not value.is_finite():
        raise InputError(field_name, f"{amount!r} is not a finite decimal amount")
    if value < 0:
        raise InputError(field_name, f"{value} is negative; pool amounts are >= 0")
    scaled = value.scaleb(AMOUNT_SCALE)
    if scaled != scaled.to_integral_value():
        raise InputError(field_name, f"{value} has more than {AMOUNT_SCALE} decimal places; round it upstream")
    return int(scaled)


def from_micros(micros: int) -> Decimal:
    """Integer micro-units as a Decimal with exactly 6 decimal places."""
    return Decimal(micros).scaleb(-AMOUNT_SCALE)


def bad_split_tracks(splits: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """Tracks whose splits do not sum to exactly 10000 bps (or hold a negative share), with their sum in bps."""
    totals: dict[str, int] = {}
    negative: set[str] = set()
    for track_id, _holder_id, share_bps in splits:
        totals[track_id] = totals.get(track_id, 0) + int(share_bps)
        if share_bps < 0:
            negative.add(track_id)
    return {t: s for t, s in sorted(totals.items()) if s != TOTAL_BPS or t in negative}


def allocate_pool(
    pool_micros: int, track_streams: Mapping[str, int], splits: Mapping[str, Mapping[str, int]]
) -> dict[tuple[str, str], int]:
    """Splits one pool over (track, holder) lines by the rule, in integer micro-units.

    Args:
        pool_micros: the pool amount in micro-units (>= 0).
        track_streams: qualifying streams per track in the pool's territory and period (tracks with 0 are ignored).
        splits: holder bps per track; each track's shares sum to 10000.

    Returns:
        Micro-units per ``(track_id, holder_id)``; the values sum exactly to ``pool_micros`` unless no track has
        a qualifying stream, in which case the result is empty (the pool is unallocated).
    """
    total = sum(s for s in track_streams.values() if s > 0)
    if total == 0:
        return {}
    denominator = total * TOTAL_BPS
    floors: dict[tuple[str, str], int] = {}
    remainders: list[tuple[int, str, str]] = []
    for track_id, streams in track_streams.items():
        if streams <= 0:
            continue
        for holder_id, share_bps in splits[track_id].items():
            quotient, remainder = divmod(pool_micros * streams * share_bps, denominator)
            floors[(track_id, holder_id)] = quotient
            remainders.append((-remainder, track_id, holder_id))
    leftover = pool_micros - sum(floors.values())
    assert 0 <= leftover <= len(remainders), "sum of numerators must equal pool * denominator"
    for _neg_remainder, track_id, holder_id in sorted(remainders)[:leftover]:
        floors[(track_id, holder_id)] += 1
    return floors


def streaming_2024_eligible(trailing_streams: int, genre: str | None, duration_ms: int | None,
                            functional_genres: Collection[str]) -> bool:
    """Whether a track earns under ``streaming_2024``.

    It needs at least :data:`MIN_TRAILING_STREAMS` qualifying streams in the trailing 12 months, and a track of a
    functional genre must last at least :data:`FUNCTIONAL_MIN_MS`. A track with no genre is not functional; one with
    no duration is not short.
    """
    if trailing_streams < MIN_TRAILING_STREAMS:
        return False
    return not (genre is not None and genre in functional_genres and duration_ms is not None
                and duration_ms < FUNCTIONAL_MIN_MS)


def allocate_pool_streaming_2024(pool_micros: int, track_streams: Mapping[str, int],
                                 splits: Mapping[str, Mapping[str, int]],
                                 eligible: Collection[str]) -> dict[tuple[str, str], int]:
    """``streaming_2024``: :func:`allocate_pool` over the eligible tracks only, so an ineligible track's share is
    reallocated pro-rata within the pool; empty (the pool is unallocated) when no eligible track has a stream."""
    return allocate_pool(pool_micros, {t: s for t, s in track_streams.items() if t in eligible}, splits)


def split_equally(pool_micros: int, members: Iterable[str]) -> dict[str, int]:
    """``pool_micros`` split equally over ``members`` in integer micro-units, summing exactly to the pool.

    Each gets the floor of the equal share; the micro-units left over go one each to the first members in id order
    (largest remainder with all remainders equal, as :func:`allocate_pool` breaks ties). Empty without members.
    """
    unique = sorted(set(members))
    allocated = allocate_pool(pool_micros, {m: 1 for m in unique}, {m: {"": TOTAL_BPS} for m in unique})
    return {member: micros for (member, _holder), micros in allocated.items()}


def allocate_pool_user_centric(pool_micros: int, listener_streams: Mapping[str, Mapping[str, int]],
                               splits: Mapping[str, Mapping[str, int]]) -> dict[tuple[str, str], int]:
    """``user_centric``: the pool split equally over its active listeners, then each listener's share pro-rata over
    only the tracks that listener played (:func:`allocate_pool` per listener), summed per (track, holder).

    Args:
        pool_micros: the pool amount in micro-units (>= 0).
        listener_streams: per listener id, that listener's qualifying streams per track in the pool's territory
            (listeners with no stream are not active and get nothing).
        splits: holder bps per track.

    Returns:
        Micro-units per ``(track_id, holder_id)``, summing exactly to ``pool_micros``; empty (unallocated) when no
        listener has a qualifying stream.
    """
    active = [listener for listener, tracks in listener_streams.items() if any(s > 0 for s in tracks.values())]
    lines: dict[tuple[str, str], int] = {}
    for listener, micros in split_equally(pool_micros, active).items():
        for key, value in allocate_pool(micros, listener_streams[listener], splits).items():
            lines[key] = lines.get(key, 0) + value
    return lines


@dataclass(frozen=True)
class UnallocatedPool:
    """A pool with no qualifying (matched) streams in its territory: its amount stays unpaid and is reported."""

    territory: str
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class RoyaltyReport:
    """What a royalty run saw besides the money: every figure is a count of stream events unless named otherwise.

    Attributes:
        input_events: rows read, duplicates included.
        duplicate_events: rows dropped because their EVENT_ID was already seen (each event counts once).
        invalid_events: events with a negative or missing MS_PLAYED or a missing EVENT_TS (never qualify).
        out_of_period_events: valid events outside the period's UTC month.
        short_events: in-period events under 30000 ms.
        qualifying_events: in-period events of >= 30000 ms, matched or not.
        unmatched_events: in-period events of tracks without splits (unknown tracks).
        unmatched_streams: qualifying events among ``unmatched_events``: excluded from every pool's denominator.
        unpooled_streams: qualifying matched streams in territories without a pool in the period.
        paid_streams: qualifying matched streams in territories with a pool.
        unallocated: pools without paid streams.
    """

    period: str
    input_events: int = 0
    duplicate_events: int = 0
    invalid_events: int = 0
    out_of_period_events: int = 0
    short_events: int = 0
    qualifying_events: int = 0
    unmatched_events: int = 0
    unmatched_streams: int = 0
    unpooled_streams: int = 0
    paid_streams: int = 0
    unallocated: tuple[UnallocatedPool, ...] = field(default_factory=tuple)

    def as_row(self) -> dict[str, object]:
        """The report as one flat dict (unallocated pools as a list of plain dicts, amounts as text)."""
        row: dict[str, object] = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "unallocated"}
        row["unallocated"] = [
            {"territory": u.territory, "currency": u.currency, "amount": str(u.amount)} for u in self.unallocated
        ]
        return row


@dataclass(frozen=True)
class RoyaltyResult:
    """The output of one royalty computation: Parquet files with ROYALTY_LEDGER and ROYALTY_STATEMENTS columns.

    ``ledger_path`` rows: PERIOD, TERRITORY, TRACK_ID, HOLDER_ID, CURRENCY, AMOUNT decimal(38,6), STREAMS.
    ``statements_path`` rows: PERIOD, HOLDER_ID, CURRENCY, STREAMS, AMOUNT decimal(38,6).
    """

    period: str
    ledger_path: str
    statements_path: str
    report: RoyaltyReport
    engine: str = "spark"
    policy: str = DEFAULT_POLICY
