"""The pure royalty rule: largest-remainder allocation in micro-units, amounts and periods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_core.errors import InputError
from maestro_core.royalty_rules import (
    allocate_pool,
    bad_split_tracks,
    from_micros,
    period_bounds,
    previous_period,
    to_micros,
)


@st.composite
def pools(draw: st.DrawFn) -> tuple[int, dict[str, int], dict[str, dict[str, int]]]:
    """A pool in micro-units, streams per track and splits per track summing to 10000 bps."""
    n_tracks = draw(st.integers(1, 8))
    tracks = [f"t{i}" for i in range(n_tracks)]
    splits = {}
    for t in tracks:
        n = draw(st.integers(1, 4))
        cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=n - 1, max_size=n - 1)))
        splits[t] = {f"h{j}": hi - lo for j, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, 10_000], strict=True))}
    streams = {t: draw(st.integers(0, 10**9)) for t in tracks}
    return draw(st.integers(0, 10**18)), streams, splits


@given(pools())
@settings(max_examples=300, deadline=None)
def test_lines_of_a_pool_sum_exactly_to_the_pool(case: tuple) -> None:
    pool, streams, splits = case
    lines = allocate_pool(pool, streams, splits)
    assert sum(lines.values()) == (pool if any(streams.values()) else 0)


@given(pools())
@settings(max_examples=300, deadline=None)
def test_each_line_is_within_one_micro_unit_below_or_above_its_exact_share(case: tuple) -> None:
    pool, streams, splits = case
    total = sum(streams.values())
    for (track, holder), micros in allocate_pool(pool, streams, splits).items():
        exact = Fraction(pool * streams[track] * splits[track][holder], total * 10_000)
        assert exact - 1 < micros < exact + 1
        assert micros in (int(exact), int(exact) + 1)


@given(pools(), st.randoms())
@settings(max_examples=100, deadline=None)
def test_allocation_does_not_depend_on_input_order(case: tuple, rnd: object) -> None:
    pool, streams, splits = case
    items = list(streams.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    assert allocate_pool(pool, dict(items), splits) == allocate_pool(pool, streams, splits)


def test_ties_go_to_the_smallest_track_then_holder() -> None:
    # 1 micro-unit over four lines of 0.25 each: it goes to (a, x).
    halves = {"y": 5000, "x": 5000}
    lines = allocate_pool(1, {"b": 1, "a": 1}, {"a": halves, "b": halves})
    assert lines == {("a", "x"): 1, ("a", "y"): 0, ("b", "x"): 0, ("b", "y"): 0}
    # A larger remainder wins over a smaller id: b's single holder has 0.5, a's holders 0.25 each.
    lines = allocate_pool(1, {"b": 1, "a": 1}, {"a": halves, "b": {"x": 10_000}})
    assert lines == {("a", "x"): 0, ("a", "y"): 0, ("b", "x"): 1}
    lines = allocate_pool(2, {"b": 1, "a": 1, "c": 1}, {t: {"h": 10_000} for t in "abc"})
    assert lines == {("a", "h"): 1, ("b", "h"): 1, ("c", "h"): 0}


def test_single_holder_track_takes_the_whole_pool() -> None:
    assert allocate_pool(to_micros(Decimal("123.456789")), {"t": 7}, {"t": {"h": 10_000}}) == {("t", "h"): 123456789}


def test_pool_without_qualifying_streams_allocates_nothing() -> None:
    assert allocate_pool(5_000_000, {"t": 0}, {"t": {"h": 10_000}}) == {}


@pytest.mark.parametrize("amount", ["1.0000001", "-1", "NaN", "abc", None, 1.5])
def test_malformed_pool_amounts_are_refused_naming_the_field(amount: object) -> None:
    with pytest.raises(InputError) as err:
        to_micros(amount)  # type: ignore[arg-type]
    assert err.value.field == "REVENUE_POOLS.AMOUNT"


def test_amounts_round_trip_through_micro_units() -> None:
    assert to_micros(Decimal("12.340000000")) == 12_340_000
    assert from_micros(12_340_001) == Decimal("12.340001")
    assert str(from_micros(5)) == "0.000005"


def test_bad_splits_are_named_with_their_totals() -> None:
    splits = [("a", "h1", 6000), ("a", "h2", 4000), ("b", "h1", 9999), ("c", "h1", 10_001), ("c", "h2", -1)]
    assert bad_split_tracks(splits) == {"b": 9999, "c": 10_000}


def test_periods_are_utc_calendar_months() -> None:
    assert period_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert previous_period(datetime(2026, 1, 1, tzinfo=UTC)) == "2025-12"
    for bad in ("2026-13", "2026-3", "26-03", ""):
        with pytest.raises(InputError, match="YYYY-MM"):
            period_bounds(bad)
