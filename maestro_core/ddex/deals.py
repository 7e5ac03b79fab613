"""Deal terms for an ERN DealList, derived from the licenses the rights gate relied on (pure functions).

A track may be offered only where, when and how *every* license it relies on allows:

* territories: the intersection of every license's territories (``WW`` is worldwide, the identity of the
  intersection); an empty intersection cannot be expressed as a deal;
* validity: from the latest ``VALID_FROM`` to the earliest ``VALID_TO`` (inclusive; None is open-ended); a window
  that ended before the delivery date, or that is empty, cannot be offered;
* usages: the intersection of every license's usages, each mapped through :data:`USAGE_DEALS` to DDEX commercial
  models and use types (docs/delivery.md). A usage with no entry is refused: we cannot tell whether it is a use a
  platform makes. Usages mapped to no deal on purpose (``sync``) are dropped; when nothing is left, nothing can
  be offered.

Each refusal is a :class:`DealRefused` carrying a reason code (``REFUSAL_CODES``) and a message for people.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from maestro_core.errors import MaestroError

WORLDWIDE = "WW"
DDEX_WORLDWIDE = "Worldwide"

#: Our usage -> ((DDEX CommercialModelType, (DDEX UseType, ...)), ...). An empty tuple: no ERN deal on purpose.
USAGE_DEALS: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "commercial_streaming": (("SubscriptionModel", ("OnDemandStream",)),
                             ("AdvertisementSupportedModel", ("OnDemandStream",))),
    "download": (("PayAsYouGoModel", ("PermanentDownload",)),),
    # Synchronisation (film, TV, ads) is licensed to a producer, not offered by a platform: no ERN deal.
    "sync": (),
}

NO_LICENSES = "no_licenses"
TERRITORIES_EMPTY = "territories_empty"
WINDOW_ENDED = "window_ended"
WINDOW_EMPTY = "window_empty"
USAGE_UNMAPPED = "usage_unmapped"
NO_DEAL = "no_deal"
REFUSAL_CODES = (NO_LICENSES, TERRITORIES_EMPTY, WINDOW_ENDED, WINDOW_EMPTY, USAGE_UNMAPPED, NO_DEAL)


class DealRefused(MaestroError):
    """The licenses cannot be expressed as a deal; ``code`` is one of :data:`REFUSAL_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class LicenseTerms:
    """The parts of a LICENSES row a deal is made of. ``valid_to`` is inclusive; None means open-ended."""

    license_id: str
    territories: frozenset[str]
    usages: frozenset[str]
    valid_from: dt.date
    valid_to: dt.date | None


@dataclass(frozen=True)
class CommercialTerms:
    """One DDEX Deal: a commercial model and the use types offered under it."""

    commercial_model: str
    use_types: tuple[str, ...]


@dataclass(frozen=True)
class DealTerms:
    """What every relied-on license allows together.

    Attributes:
        territories: ISO 3166-1 alpha-2 codes, sorted, or ``("WW",)`` for worldwide.
        start: first day of the validity window.
        end: last day (inclusive), or None when open-ended.
        deals: one entry per commercial model, in :data:`USAGE_DEALS` order.
        license_ids: the licenses the terms come from, sorted.
    """

    territories: tuple[str, ...]
    start: dt.date
    end: dt.date | None
    deals: tuple[CommercialTerms, ...]
    license_ids: tuple[str, ...]

    @property
    def ddex_territories(self) -> tuple[str, ...]:
        """The territories as DDEX TerritoryCode values (``Worldwide`` for WW)."""
        return (DDEX_WORLDWIDE,) if self.territories == (WORLDWIDE,) else self.territories


def intersect_territories(licenses: Iterable[LicenseTerms]) -> tuple[str, ...]:
    """The territories every license covers: sorted codes, ``("WW",)`` when all are worldwide, () when none."""
    common: set[str] | None = None
    for lic in licenses:
        if WORLDWIDE in lic.territories:
            continue
        common = set(lic.territories) if common is None else common & lic.territories
    if common is None:
        return (WORLDWIDE,)
    return tuple(sorted(common))


def intersect_window(licenses: Iterable[LicenseTerms]) -> tuple[dt.date, dt.date | None]:
    """(latest valid_from, earliest valid_to or None): the days every license is valid on (may be empty)."""
    items = list(licenses)
    start = max(lic.valid_from for lic in items)
    ends = [lic.valid_to for lic in items if lic.valid_to is not None]
    return start, (min(ends) if ends else None)


def map_usages(usages: Iterable[str]) -> tuple[CommercialTerms, ...]:
    """DDEX commercial terms for our usages, merged per commercial model, in :data:`USAGE_DEALS` order.

    Raises:
        DealRefused: ``usage_unmapped`` naming a usage with no entry in :data:`USAGE_DEALS`.
    """
    wanted = set(usages)
    unknown = sorted(wanted - set(USAGE_DEALS))
    if unknown:
        raise DealRefused(USAGE_UNMAPPED, f"usage(s) {', '.join(unknown)} map to no DDEX deal (known: "
                                          f"{', '.join(USAGE_DEALS)}); extend the mapping in docs/delivery.md")
    merged: dict[str, list[str]] = {}
    for usage, terms in USAGE_DEALS.items():
        if usage not in wanted:
            continue
        for model, use_types in terms:
            merged.setdefault(model, [])
            merged[model].extend(u for u in use_types if u not in merged[model])
    return tuple(CommercialTerms(model, tuple(uses)) for model, uses in merged.items())


def derive_deal_terms(licenses: Iterable[LicenseTerms], on_date: dt.date) -> DealTerms:
    """The deal every license allows together, for a delivery made on ``on_date``.

    Raises:
        DealRefused: with the first reason the licenses cannot be offered (see the module docstring).
    """
    items = sorted(licenses, key=lambda lic: lic.license_id)
    if not items:
        raise DealRefused(NO_LICENSES, "the track records no license the rights gate relied on")
    ids = tuple(lic.license_id for lic in items)
    territories = intersect_territories(items)
    if not territories:
        raise DealRefused(TERRITORIES_EMPTY, f"the territories of {', '.join(ids)} have no territory in common")
    start, end = intersect_window(items)
    if end is not None and end < start:
        raise DealRefused(WINDOW_EMPTY, f"the licenses {', '.join(ids)} are never valid on the same day "
                                        f"(latest start {start.isoformat()}, earliest end {end.isoformat()})")
    if end is not None and end < on_date:
        raise DealRefused(WINDOW_ENDED, f"the common validity window ended {end.isoformat()}, before the delivery "
                                        f"date {on_date.isoformat()}")
    usages = frozenset.intersection(*(lic.usages for lic in items))
    deals = map_usages(usages)
    if not deals:
        granted = ", ".join(sorted(usages)) or "none"
        raise DealRefused(NO_DEAL, f"no usage every license grants maps to a platform deal (common usages: {granted})")
    return DealTerms(territories, start, end, deals, ids)
