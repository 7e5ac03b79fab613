"""Royalty splits: integer bps, one row per holder, platform takes the remainder, always exactly 10000."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_core.errors import InputError
from maestro_core.rights import ReliedLicense
from maestro_core.splits import TOTAL_BPS, Split, compute_splits, split_rows

PLATFORM = "holder_platform"
ROLES = ("seed_owner", "model_licensor", "style_licensor")
holders = st.sampled_from(["h_ana", "h_bo", "h_cy", "h_dee", PLATFORM])


@st.composite
def license_sets(draw: st.DrawFn) -> list[ReliedLicense]:
    """Random licenses whose integer shares together stay within 10000 bps."""
    count = draw(st.integers(0, 8))
    budget = TOTAL_BPS
    out = []
    for i in range(count):
        share = draw(st.integers(0, budget))
        budget -= share
        out.append(ReliedLicense(f"lic_{i}", f"asset_{i}", draw(holders), draw(st.sampled_from(ROLES)), share))
    return out


@given(license_sets())
@settings(max_examples=300, deadline=None)
def test_splits_sum_to_exactly_10000_with_one_row_per_holder(licenses):
    splits = compute_splits(licenses, PLATFORM)
    assert sum(s.share_bps for s in splits) == TOTAL_BPS
    assert len({s.holder_id for s in splits}) == len(splits)
    assert all(isinstance(s.share_bps, int) and s.share_bps > 0 for s in splits)
    claimed = {}
    for lic in licenses:
        claimed[lic.holder_id] = claimed.get(lic.holder_id, 0) + lic.share_bps
    by_holder = {s.holder_id: s.share_bps for s in splits}
    for holder, share in claimed.items():
        if holder != PLATFORM:
            assert by_holder.get(holder, 0) == share  # integer shares are never rounded
    assert by_holder.get(PLATFORM, 0) == TOTAL_BPS - sum(s for h, s in claimed.items() if h != PLATFORM)


@given(license_sets(), st.randoms())
@settings(max_examples=100, deadline=None)
def test_splits_do_not_depend_on_license_order(licenses, rnd):
    shuffled = list(licenses)
    rnd.shuffle(shuffled)
    assert compute_splits(shuffled, PLATFORM) == compute_splits(licenses, PLATFORM)


@given(st.lists(st.tuples(holders, st.fractions(min_value=0, max_value=2500, max_denominator=7)), max_size=4))
@settings(max_examples=300, deadline=None)
def test_fractional_shares_round_by_largest_remainder_to_exactly_10000(claims):
    licenses = [ReliedLicense(f"l{i}", f"a{i}", h, "seed_owner", share) for i, (h, share) in enumerate(claims)]
    splits = compute_splits(licenses, PLATFORM)
    assert sum(s.share_bps for s in splits) == TOTAL_BPS
    exact: dict[str, Fraction] = {}
    for h, share in claims:
        exact[h] = exact.get(h, Fraction(0)) + share
    exact[PLATFORM] = exact.get(PLATFORM, Fraction(0)) + TOTAL_BPS - sum(share for _, share in claims)
    for s in splits:
        assert abs(s.share_bps - exact[s.holder_id]) < 1  # never more than one unit from the exact share


def test_largest_remainder_gives_leftover_units_to_the_biggest_fractions_then_holder_order():
    thirds = [ReliedLicense(f"l{h}", f"a{h}", h, "seed_owner", Decimal("3333.3333")) for h in ("h_b", "h_a", "h_c")]
    splits = compute_splits(thirds, PLATFORM)
    # Exact remainders: each holder .3333, the platform .0001; one unit is left -> h_a (ties by id);
    # the platform's row rounds to 0 and is omitted.
    assert [(s.holder_id, s.share_bps) for s in splits] == [("h_a", 3334), ("h_b", 3333), ("h_c", 3333)]


def test_same_holder_is_combined_and_keeps_its_largest_role():
    licenses = [ReliedLicense("l1", "seed", "h_ana", "seed_owner", 2000),
                ReliedLicense("l2", "style", "h_ana", "style_licensor", 500),
                ReliedLicense("l3", "sf", "h_sf", "model_licensor", 100)]
    assert compute_splits(licenses, PLATFORM) == [Split("h_ana", "seed_owner", 2500), Split("h_sf", "model_licensor",
                                                                                              100),
                                                  Split(PLATFORM, "platform", 7400)]


def test_platform_takes_everything_when_nothing_is_claimed_and_rows_are_warehouse_ready():
    splits = compute_splits([], PLATFORM)
    assert splits == [Split(PLATFORM, "platform", 10000)]
    assert split_rows("t1", splits) == [{"TRACK_ID": "t1", "HOLDER_ID": PLATFORM, "ROLE": "platform",
                                         "SHARE_BPS": 10000}]


def test_claims_over_10000_are_split_overflow():
    licenses = [ReliedLicense("l1", "a", "h_a", "seed_owner", 6000), ReliedLicense("l2", "b", "h_b", "seed_owner",
                                                                                      4001)]
    with pytest.raises(InputError, match="split_overflow"):
        compute_splits(licenses, PLATFORM)


@pytest.mark.parametrize("share", [-1, 12.5, "100", True])
def test_negative_or_inexact_shares_are_refused(share):
    with pytest.raises(InputError) as err:
        compute_splits([ReliedLicense("l", "a", "h", "seed_owner", share)], PLATFORM)
    assert err.value.field == "share_bps"


def test_unknown_role_is_refused():
    with pytest.raises(InputError, match="role"):
        compute_splits([ReliedLicense("l", "a", "h", "producer", 10)], PLATFORM)


def test_splits_are_deterministic_across_many_random_orders():
    rng = random.Random(7)
    licenses = [ReliedLicense(f"l{i}", f"a{i}", f"h{i % 3}", ROLES[i % 3], Fraction(1000, 3)) for i in range(9)]
    first = compute_splits(licenses, PLATFORM)
    for _ in range(20):
        rng.shuffle(licenses)
        assert compute_splits(licenses, PLATFORM) == first
