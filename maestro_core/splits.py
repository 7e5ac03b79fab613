"""Royalty splits of one track: integer basis points that always sum to exactly 10000.

Each license relied on gives its ``share_bps`` to its holder, in the role its asset earns (``seed_owner``,
``model_licensor``, ``style_licensor``). Shares of one holder are combined into one row (ROYALTY_SPLITS is keyed
on TRACK_ID, HOLDER_ID); the platform holder receives the remainder. Shares may be given as int, Decimal or
Fraction bps; when any is fractional the rows are rounded by the largest-remainder method with a deterministic
tie-break (larger remainder, then holder id), so the total is exactly 10000 and reruns agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from maestro_core.errors import InputError
from maestro_core.units import TOTAL_BPS

PLATFORM_ROLE = "platform"
ROLES = ("seed_owner", "model_licensor", "style_licensor", PLATFORM_ROLE)


class ShareClaim(Protocol):
    """Anything with a holder, a role and a share in bps (e.g. :class:`maestro_core.rights.ReliedLicense`)."""

    @property
    def holder_id(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def share_bps(self) -> int | Decimal | Fraction: ...


@dataclass(frozen=True)
class Split:
    """One ROYALTY_SPLITS row of a track: ``share_bps`` in basis points (10000 = 100 %)."""

    holder_id: str
    role: str
    share_bps: int


def compute_splits(licenses_relied_on: Iterable[ShareClaim], platform_holder_id: str) -> list[Split]:
    """Splits for one track from the licenses it relies on.

    Args:
        licenses_relied_on: claims with ``holder_id``, ``role`` and ``share_bps`` (int, Decimal or Fraction bps).
        platform_holder_id: the holder that receives what the licenses leave (role ``platform``).

    Returns:
        Splits sorted by holder id, each holder once, no zero rows, shares summing to exactly 10000 bps.

    Raises:
        InputError: a share is negative or not a number, a role is unknown, or the claims exceed 10000 bps
            (``split_overflow``; the rights gate denies such requests before they get here).
    """
    if not isinstance(platform_holder_id, str) or not platform_holder_id:
        raise InputError("platform_holder_id", "must name the platform holder")
    exact: dict[str, Fraction] = {}
    by_role: dict[str, dict[str, Fraction]] = {}
    for claim in licenses_relied_on:
        share = _as_fraction(claim.share_bps)
        if claim.role not in ROLES:
            raise InputError("role", f"{claim.role!r} is not one of {', '.join(ROLES)}")
        exact[claim.holder_id] = exact.get(claim.holder_id, Fraction(0)) + share
        roles = by_role.setdefault(claim.holder_id, {})
        roles[claim.role] = roles.get(claim.role, Fraction(0)) + share
    claimed = sum(exact.values(), Fraction(0))
    if claimed > TOTAL_BPS:
        raise InputError("share_bps",
                         f"split_overflow: licenses claim {_exact_text(claimed)} bps, more than {TOTAL_BPS}")
    exact[platform_holder_id] = exact.get(platform_holder_id, Fraction(0)) + (TOTAL_BPS - claimed)
    rounded = _largest_remainder(exact, TOTAL_BPS)
    splits = []
    for holder_id in sorted(rounded):
        if rounded[holder_id] == 0:
            continue
        role = PLATFORM_ROLE if holder_id == platform_holder_id else _main_role(by_role[holder_id])
        splits.append(Split(holder_id, role, rounded[holder_id]))
    return splits


def split_rows(track_id: str, splits: Iterable[Split]) -> list[dict[str, Any]]:
    """ROYALTY_SPLITS rows (UPPER-case columns) for ``track_id``."""
    return [{"TRACK_ID": track_id, "HOLDER_ID": s.holder_id, "ROLE": s.role, "SHARE_BPS": s.share_bps}
            for s in splits]


def _as_fraction(value: Any) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | Fraction):
        raise InputError("share_bps", f"{value!r} is not an exact number of basis points (int or Decimal)")
    share = Fraction(value)
    if share < 0:
        raise InputError("share_bps", f"{value} is negative")
    return share


def _exact_text(value: Fraction) -> str:
    """A share as exact text: '10500' or '10500.5' (six decimals at most, rounded down), never via a float."""
    if value.denominator == 1:
        return str(value.numerator)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.000001"),
                                                                                rounding="ROUND_DOWN"))


def _largest_remainder(exact: Mapping[str, Fraction], total: int) -> dict[str, int]:
    """Floors every share, then hands the missing units to the largest remainders (ties: holder id order)."""
    floors = {k: math.floor(v) for k, v in exact.items()}
    missing = total - sum(floors.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))
    for key in order[:missing]:
        floors[key] += 1
    return floors


def _main_role(roles: Mapping[str, Fraction]) -> str:
    """The role a combined holder row carries: the one with the largest share (ties: ROLES order)."""
    return min(roles, key=lambda r: (-roles[r], ROLES.index(r)))
