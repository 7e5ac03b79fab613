"""``maestro simulate-streams``: deterministic synthetic stream events for the tracks that exist.

Events are generated in vectorised chunks (numpy -> Arrow) and loaded in bulk. They are spread over the ``months``
latest periods that have revenue pools and over those pools' territories; track popularity follows a Zipf-like
law; about a fifth of plays are skips under 30 s (and some sit exactly at 30 000 ms, the qualifying threshold).
Event ids derive from the seed and the event's ordinal, so the same call twice loads the same rows.

Each event has a LISTENER_ID (for the user_centric royalty policy): ``lst<seed>-<n>``, one of about one listener per
:data:`EVENTS_PER_LISTENER` events, drawn from a heavy-tailed law so a few listeners play far more than the rest. It
is drawn after every other column, so the other columns are what they were before listeners existed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from maestro_core.errors import InputError
from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)
CHUNK = 1_000_000
EVENTS_PER_LISTENER = 25


@dataclass(frozen=True)
class StreamPlan:
    """What to simulate: track ids, (period, territory) cells, how many events, and the RNG seed."""

    track_ids: tuple[str, ...]
    periods: tuple[str, ...]
    territories: tuple[str, ...]
    events: int
    seed: int


def plan_streams(wh: Warehouse, events: int, months: int, seed: int = 0) -> StreamPlan:
    """Reads the tracks and the latest ``months`` pool periods. Raises InputError naming the bad argument."""
    if events < 0:
        raise InputError("events", f"must be >= 0, got {events}")
    if months < 1:
        raise InputError("months", f"must be >= 1, got {months}")
    tracks = wh.query_file("streams/track_ids.sql").column("TRACK_ID").to_pylist()
    if not tracks:
        raise InputError("tracks", "there are no tracks yet: generate a catalog first (maestro run catalog)")
    periods = wh.query_file("streams/latest_pool_periods.sql", {"m": months}).column("PERIOD").to_pylist()
    if not periods:
        raise InputError("months", "there are no revenue pools: seed the warehouse first (maestro seed)")
    territories = wh.query_file("streams/latest_pool_territories.sql",
                                {"m": months}).column("TERRITORY").to_pylist()
    return StreamPlan(tuple(tracks), tuple(sorted(periods)), tuple(territories), events, seed)


def _period_bounds_us(period: str) -> tuple[int, int]:
    year, month = int(period[:4]), int(period[5:7])
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=calendar.monthrange(year, month)[1])
    return int(start.timestamp() * 1_000_000), int(end.timestamp() * 1_000_000)


def generate_events(plan: StreamPlan, chunk: int = CHUNK) -> Iterator[pa.Table]:
    """Yields STREAM_EVENTS chunks. Deterministic in (plan, chunk index), whatever the chunk size."""
    n_tracks = len(plan.track_ids)
    popularity = 1.0 / np.arange(1, n_tracks + 1) ** 0.9
    popularity /= popularity.sum()
    # Shuffle which track is popular, deterministically, so popularity is not alphabetical.
    order = np.random.default_rng(plan.seed).permutation(n_tracks)
    track_ids = pa.array(plan.track_ids, pa.string())
    territory_ids = pa.array(plan.territories, pa.string())
    bounds = np.array([_period_bounds_us(p) for p in plan.periods], dtype=np.int64)
    n_listeners = max(1, plan.events // EVENTS_PER_LISTENER)
    for start in range(0, plan.events, chunk):
        size = min(chunk, plan.events - start)
        rng = np.random.default_rng([plan.seed, start // chunk, chunk])
        track_idx = order[rng.choice(n_tracks, size=size, p=popularity)]
        terr_idx = rng.integers(0, len(plan.territories), size=size)
        period_idx = rng.integers(0, len(plan.periods), size=size)
        lo, hi = bounds[period_idx, 0], bounds[period_idx, 1]
        ts = lo + (rng.random(size) * (hi - lo)).astype(np.int64)
        skip = rng.random(size) < 0.2
        ms = np.where(skip, rng.integers(1_000, 30_000, size=size), rng.integers(30_000, 240_000, size=size))
        ms[rng.random(size) < 0.01] = 30_000  # the threshold itself qualifies
        # Heavy-tailed listener activity (Lomax): low indices are the heavy listeners.
        listener_idx = np.minimum(rng.pareto(1.5, size) * (n_listeners / 20), n_listeners - 1).astype(np.int64)
        ordinals = np.arange(start, start + size, dtype=np.int64)
        event_ids = pc.binary_join_element_wise(f"ev{plan.seed}", pc.cast(pa.array(ordinals), pa.string()), "-")
        yield pa.table({
            "EVENT_ID": event_ids,
            "TRACK_ID": track_ids.take(pa.array(track_idx)),
            "TERRITORY": territory_ids.take(pa.array(terr_idx)),
            "EVENT_TS": pa.array(ts, pa.timestamp("us")),
            "MS_PLAYED": pa.array(ms.astype(np.int64)),
            "LISTENER_ID": pc.binary_join_element_wise(f"lst{plan.seed}", pc.cast(pa.array(listener_idx), pa.string()),
                                                       "-"),
        })


def simulate_streams(wh: Warehouse, events: int, months: int, seed: int = 0,
                     progress: Callable[[int], None] | None = None) -> int:
    """Generates and loads ``events`` stream events; returns how many rows were new."""
    plan = plan_streams(wh, events, months, seed)
    new = 0
    for table in generate_events(plan):
        result = wh.upsert("STREAM_EVENTS", table)
        new += result.inserted
        if progress:
            progress(table.num_rows)
    log.info("streams simulated", extra={"events": events, "new": new, "periods": plan.periods})
    return new
