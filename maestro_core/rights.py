"""The rights gate: may this request be generated and published, given the rights snapshot on a date?

Pure functions over frozen records. The gate checks every asset a request relies on (melody seed, engine model,
SoundFont, style references) against the LICENSES in a :class:`RightsSnapshot`, and the prompt's key phrases
against BLOCKED_TERMS. It returns a :class:`GateDecision` whose reasons carry a machine-readable ``code`` and a
human ``message``:

* ``license_missing``: the asset is unknown, or no license names it.
* ``license_expired``: licenses grant the usage, but none is valid on the date (ended, or not yet started).
* ``territory_not_covered``: valid licenses do not cover every target territory; ``territories`` names the gaps.
* ``usage_not_granted``: licenses exist, but none grants the usage (e.g. CC-BY-NC weights for streaming).
* ``blocked_term``: a key phrase contains a blocked term (case- and accent-width-insensitive); ``term`` names it.
  A term is waived when the request relies on a licensed ``style`` asset whose title appears in the term.
* ``split_overflow``: the shares claimed by the licenses relied on exceed 10000 bps (100 %).
* ``license_invalid`` / ``license_conflict``: the snapshot itself is broken for an asset relied on (see
  :func:`validate_snapshot`); the request is denied rather than generated on doubtful rights.

Key phrases and terms are plain data compared in Python; nothing here builds SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from maestro_core.errors import InputError
from maestro_core.units import TERRITORY_CODE, TOTAL_BPS

WORLDWIDE = "WW"
DEFAULT_USAGE = "commercial_streaming"
HOLDER_KINDS = ("artist", "publisher", "label", "platform", "model_licensor")
ASSET_KINDS = ("melody_seed", "model", "soundfont", "style", "synth")
# Royalty role of the holder of a license, by the kind of asset licensed.
ROLE_BY_ASSET_KIND = {"melody_seed": "seed_owner", "model": "model_licensor", "soundfont": "model_licensor",
                      "style": "style_licensor"}

# Usages a model's published licence grants by itself (SPDX id -> usages), for weights registered from their licence
# alone (``maestro_pipeline.model_assets``). Non-commercial weights (MusicGen's CC-BY-NC-4.0) grant no commercial
# usage; the Stability AI Community License allows commercial use only to organisations under its revenue limit,
# which the platform must attest, so it too grants none by itself. A commercial use of either needs a LICENSES row
# of its own (a licence bought from the model's owner, or the attestation).
NON_COMMERCIAL_USAGES = ("non_commercial", "research")
SPDX_USAGES: dict[str, tuple[str, ...]] = {
    "CC-BY-NC-4.0": NON_COMMERCIAL_USAGES,
    "LicenseRef-Stability-AI-Community": NON_COMMERCIAL_USAGES,
    "Apache-2.0": ("commercial_streaming", "download", "sync", *NON_COMMERCIAL_USAGES),
    "MIT": ("commercial_streaming", "download", "sync", *NON_COMMERCIAL_USAGES),
}

LICENSE_MISSING = "license_missing"
LICENSE_EXPIRED = "license_expired"
TERRITORY_NOT_COVERED = "territory_not_covered"
USAGE_NOT_GRANTED = "usage_not_granted"
BLOCKED_TERM = "blocked_term"
SPLIT_OVERFLOW = "split_overflow"
LICENSE_INVALID = "license_invalid"
LICENSE_CONFLICT = "license_conflict"
REASON_CODES = (LICENSE_MISSING, LICENSE_EXPIRED, TERRITORY_NOT_COVERED, USAGE_NOT_GRANTED, BLOCKED_TERM,
                SPLIT_OVERFLOW, LICENSE_INVALID, LICENSE_CONFLICT)


@dataclass(frozen=True)
class Holder:
    """A RIGHTS_HOLDERS row."""

    holder_id: str
    name: str
    kind: str


@dataclass(frozen=True)
class Asset:
    """An ASSETS row: something a track is made from (melody seed, model, SoundFont, style reference)."""

    asset_id: str
    kind: str
    holder_id: str
    sha256: str = ""
    uri: str = ""
    title: str = ""
    spdx_license: str = ""  # the licence it is used under, as an SPDX id (ASSETS.SPDX_LICENSE)


@dataclass(frozen=True)
class License:
    """A LICENSES row. ``valid_to`` is inclusive; None means open-ended. ``share_bps`` is in basis points."""

    license_id: str
    asset_id: str
    holder_id: str
    territories: frozenset[str]
    usages: frozenset[str]
    valid_from: dt.date
    valid_to: dt.date | None
    share_bps: int

    def valid_on(self, day: dt.date) -> bool:
        """True when ``day`` lies in [valid_from, valid_to] (both inclusive)."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def covers(self, territory: str) -> bool:
        return WORLDWIDE in self.territories or territory in self.territories


@dataclass(frozen=True)
class BlockedTerm:
    """A BLOCKED_TERMS row: a phrase no prompt may use (e.g. "in the style of <artist>" without a license)."""

    term: str
    reason: str = ""


@dataclass(frozen=True)
class SnapshotIssue:
    """A defect in the rights data itself, tied to the asset (and license) it makes doubtful."""

    code: str
    message: str
    asset_id: str | None = None
    license_id: str | None = None


@dataclass(frozen=True)
class RightsSnapshot:
    """Every rights record the gate needs, read at one moment. Build with :meth:`of`."""

    holders: Mapping[str, Holder]
    assets: Mapping[str, Asset]
    licenses: tuple[License, ...]
    blocked_terms: tuple[BlockedTerm, ...]
    issues: tuple[SnapshotIssue, ...] = ()

    @classmethod
    def of(cls, holders: Iterable[Holder], assets: Iterable[Asset], licenses: Iterable[License],
           blocked_terms: Iterable[BlockedTerm] = ()) -> RightsSnapshot:
        """Indexes the records and validates them; defects land in ``issues`` instead of raising."""
        snap = cls(holders={h.holder_id: h for h in holders}, assets={a.asset_id: a for a in assets},
                   licenses=tuple(sorted(licenses, key=lambda lic: lic.license_id)),
                   blocked_terms=tuple(blocked_terms))
        return cls(snap.holders, snap.assets, snap.licenses, snap.blocked_terms, tuple(validate_snapshot(snap)))

    def licenses_for(self, asset_id: str) -> tuple[License, ...]:
        return tuple(lic for lic in self.licenses if lic.asset_id == asset_id)

    def check(self) -> None:
        """Raises InputError naming the first defect, for callers that want the whole snapshot sound."""
        if self.issues:
            first = self.issues[0]
            raise InputError(f"LICENSES[{first.license_id or first.asset_id}]", first.message)


@dataclass(frozen=True)
class RightsRequest:
    """A planned request as the gate sees it.

    Args:
        request_id: the deterministic request id (see :mod:`maestro_core.identity`).
        prompt_id: PROMPT_CATALOG.PROMPT_ID.
        key_phrases: the prompt's key phrases, matched against BLOCKED_TERMS.
        territories: target territories, ISO 3166-1 alpha-2 upper case, or "WW" for worldwide.
        usage: the usage the output needs, e.g. ``commercial_streaming``.
    """

    request_id: str
    prompt_id: str
    key_phrases: tuple[str, ...]
    territories: tuple[str, ...]
    usage: str = DEFAULT_USAGE

    def __post_init__(self) -> None:
        if not self.territories:
            raise InputError("territories", "at least one target territory is required (or 'WW')")
        for territory in self.territories:
            if not isinstance(territory, str) or not TERRITORY_CODE.fullmatch(territory):
                raise InputError("territories", f"{territory!r} is not an ISO 3166-1 alpha-2 code or 'WW'")
        if not isinstance(self.usage, str) or not self.usage.strip():
            raise InputError("usage", "must be a non-empty usage name such as 'commercial_streaming'")
        for phrase in self.key_phrases:
            if not isinstance(phrase, str):
                raise InputError("key_phrases", f"{phrase!r} is not text")

    @classmethod
    def from_prompt_row(cls, request_id: str, row: Mapping[str, Any], usage: str = DEFAULT_USAGE) -> RightsRequest:
        """Builds the request from a PROMPT_CATALOG row (VARIANT columns may be JSON text or lists)."""
        return cls(request_id=request_id, prompt_id=str(row["PROMPT_ID"]),
                   key_phrases=tuple(_json_list(row.get("KEY_PHRASES"), "KEY_PHRASES")),
                   territories=tuple(_json_list(row.get("TERRITORIES"), "TERRITORIES")), usage=usage)


@dataclass(frozen=True)
class Reason:
    """Why a request was denied: a stable ``code`` plus a message for people, and the facts behind it."""

    code: str
    message: str
    asset_id: str | None = None
    license_id: str | None = None
    term: str | None = None
    territories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("asset_id", "license_id", "term"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.territories:
            out["territories"] = list(self.territories)
        return out


@dataclass(frozen=True)
class ReliedLicense:
    """A license a request relies on, with the royalty role its holder earns (seed_owner, model_licensor, ...)."""

    license_id: str
    asset_id: str
    holder_id: str
    role: str
    share_bps: int


@dataclass(frozen=True)
class GateDecision:
    """The gate's answer. ``relied_on`` lists the licenses that make the request lawful (feed it to splits)."""

    allowed: bool
    reasons: tuple[Reason, ...] = ()
    relied_on: tuple[ReliedLicense, ...] = field(default=())

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def reasons_json(self) -> str:
        """The reasons as JSON text, for GENERATION_REQUESTS.REASONS."""
        return json.dumps([r.to_dict() for r in self.reasons], ensure_ascii=False, sort_keys=True)


def gate_request(request: RightsRequest, assets: Sequence[str], snapshot: RightsSnapshot,
                 on_date: dt.date) -> GateDecision:
    """Decides whether ``request`` may be generated on ``on_date``.

    Args:
        request: the planned request (territories, usage, key phrases).
        assets: ASSET_IDs the request relies on: melody seed, engine model(s), SoundFont, style references.
        snapshot: the rights snapshot.
        on_date: the date the rights must hold (the run's logical date).

    Returns:
        GateDecision with every reason found (not only the first), and the licenses relied on.
    """
    if isinstance(on_date, dt.datetime) or not isinstance(on_date, dt.date):
        raise InputError("on_date", f"must be a datetime.date, got {type(on_date).__name__}")
    reasons: list[Reason] = []
    relied: list[ReliedLicense] = []
    for asset_id in dict.fromkeys(assets):  # ordered, de-duplicated
        asset_reasons, asset_relied = _check_asset(asset_id, request, snapshot, on_date)
        reasons.extend(asset_reasons)
        relied.extend(asset_relied)
    licensed_styles = tuple(snapshot.assets[r.asset_id].title for r in relied
                            if snapshot.assets[r.asset_id].kind == "style" and snapshot.assets[r.asset_id].title)
    reasons.extend(find_blocked_terms(request.key_phrases, snapshot.blocked_terms, licensed_styles))
    claimed = sum(r.share_bps for r in relied)
    if claimed > TOTAL_BPS:
        reasons.append(Reason(SPLIT_OVERFLOW, f"licenses relied on claim {claimed} bps, more than {TOTAL_BPS} "
                                              f"(100%): {', '.join(r.license_id for r in relied)}"))
    return GateDecision(allowed=not reasons, reasons=tuple(reasons), relied_on=tuple(relied))


def _check_asset(asset_id: str, request: RightsRequest, snapshot: RightsSnapshot,
                 on_date: dt.date) -> tuple[list[Reason], list[ReliedLicense]]:
    asset = snapshot.assets.get(asset_id)
    if asset is None:
        return [Reason(LICENSE_MISSING, f"asset {asset_id!r} is not registered in ASSETS", asset_id=asset_id)], []
    issues = [i for i in snapshot.issues if i.asset_id == asset_id]
    if issues:
        return [Reason(i.code, i.message, asset_id=asset_id, license_id=i.license_id) for i in issues], []
    licenses = snapshot.licenses_for(asset_id)
    if not licenses:
        return [Reason(LICENSE_MISSING, f"no license covers asset {asset_id!r} ({asset.kind})", asset_id=asset_id)], []
    for_usage = [lic for lic in licenses if request.usage in lic.usages]
    if not for_usage:
        granted = sorted({u for lic in licenses for u in lic.usages})
        return [Reason(USAGE_NOT_GRANTED, f"no license of {_asset_text(asset)} grants usage {request.usage!r} "
                                          f"(granted: {', '.join(granted) or 'none'})", asset_id=asset_id)], []
    current = [lic for lic in for_usage if lic.valid_on(on_date)]
    if not current:
        return [Reason(LICENSE_EXPIRED, f"no license of asset {asset_id!r} is valid on {on_date.isoformat()} "
                                        f"({'; '.join(_window_text(lic, on_date) for lic in for_usage)})",
                       asset_id=asset_id, license_id=for_usage[0].license_id)], []
    missing = tuple(sorted(t for t in set(request.territories) if not any(lic.covers(t) for lic in current)))
    if WORLDWIDE in request.territories and not any(WORLDWIDE in lic.territories for lic in current):
        missing = tuple(sorted(set(missing) | {WORLDWIDE}))
    if missing:
        return [Reason(TERRITORY_NOT_COVERED, f"licenses of asset {asset_id!r} do not cover territories "
                                              f"{', '.join(missing)}", asset_id=asset_id, territories=missing)], []
    needed = [lic for lic in current if any(lic.covers(t) for t in request.territories)]
    role = ROLE_BY_ASSET_KIND.get(asset.kind, "model_licensor")
    return [], [ReliedLicense(lic.license_id, asset_id, lic.holder_id, role, lic.share_bps) for lic in needed]


def spdx_usages(spdx_license: str) -> tuple[str, ...]:
    """The usages a published licence grants by itself (``SPDX_USAGES``); none for a licence not listed there."""
    return SPDX_USAGES.get(spdx_license, ())


def _asset_text(asset: Asset) -> str:
    """How a reason names an asset: a model by its id and title (which model, under which licence)."""
    if asset.kind == "model" and asset.title:
        return f"model {asset.asset_id!r} ({asset.title})"
    return f"asset {asset.asset_id!r}"


def _window_text(lic: License, day: dt.date) -> str:
    if day < lic.valid_from:
        return f"{lic.license_id} starts {lic.valid_from.isoformat()}"
    return f"{lic.license_id} ended {lic.valid_to.isoformat() if lic.valid_to else '?'}"


def normalize_text(text: str) -> str:
    """Case-folded NFKC text with runs of whitespace collapsed: the form phrases and terms are compared in."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def find_blocked_terms(key_phrases: Iterable[str], blocked_terms: Iterable[BlockedTerm],
                       licensed_styles: Iterable[str] = ()) -> list[Reason]:
    """Reasons for every blocked term contained in a key phrase, matched on word boundaries, case-insensitively.

    A term is waived when one of ``licensed_styles`` (titles of licensed style assets) appears in it.
    """
    phrases = [normalize_text(p) for p in key_phrases]
    styles = [normalize_text(s) for s in licensed_styles if normalize_text(s)]
    reasons = []
    for blocked in blocked_terms:
        term = normalize_text(blocked.term)
        if not term or any(style in term for style in styles):
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)")
        hit = next((p for p in phrases if pattern.search(p)), None)
        if hit is not None:
            why = f" ({blocked.reason})" if blocked.reason else ""
            reasons.append(Reason(BLOCKED_TERM, f"key phrase {hit!r} uses blocked term {blocked.term!r}{why}",
                                  term=blocked.term))
    return reasons


def validate_snapshot(snapshot: RightsSnapshot) -> list[SnapshotIssue]:
    """Finds defects in the rights data: bad windows, shares out of [0, 10000], unknown holders or assets,
    and overlapping licenses: the same holder licensing the same asset twice for a shared territory and usage over
    overlapping windows, so which share applies is ambiguous.

    Licenses of *different* holders for one asset are co-ownership (an artist and a publisher each granting their
    share), not a conflict; if their shares add up to more than 10000 bps the gate says ``split_overflow``.
    """
    issues: list[SnapshotIssue] = []
    for asset in snapshot.assets.values():
        if asset.holder_id not in snapshot.holders:
            issues.append(SnapshotIssue(LICENSE_INVALID, f"asset {asset.asset_id!r} names unknown holder "
                                                         f"{asset.holder_id!r}", asset.asset_id))
    for lic in snapshot.licenses:
        if lic.valid_to is not None and lic.valid_to < lic.valid_from:
            issues.append(SnapshotIssue(LICENSE_INVALID, f"license {lic.license_id!r}: VALID_TO {lic.valid_to} is "
                                                         f"before VALID_FROM {lic.valid_from}", lic.asset_id,
                                        lic.license_id))
        if not isinstance(lic.share_bps, int) or not 0 <= lic.share_bps <= TOTAL_BPS:
            issues.append(SnapshotIssue(LICENSE_INVALID, f"license {lic.license_id!r}: SHARE_BPS {lic.share_bps} is "
                                                         f"outside 0..{TOTAL_BPS}", lic.asset_id, lic.license_id))
        if lic.holder_id not in snapshot.holders:
            issues.append(SnapshotIssue(LICENSE_INVALID, f"license {lic.license_id!r} names unknown holder "
                                                         f"{lic.holder_id!r}", lic.asset_id, lic.license_id))
        if lic.asset_id not in snapshot.assets:
            issues.append(SnapshotIssue(LICENSE_INVALID, f"license {lic.license_id!r} names unknown asset "
                                                         f"{lic.asset_id!r}", lic.asset_id, lic.license_id))
        if not lic.territories:
            issues.append(SnapshotIssue(LICENSE_INVALID, f"license {lic.license_id!r} lists no territories",
                                        lic.asset_id, lic.license_id))
    for a, b in combinations(snapshot.licenses, 2):
        if a.asset_id == b.asset_id and a.holder_id == b.holder_id and _overlap(a, b):
            shared = sorted(_shared_territories(a, b))
            issues.append(SnapshotIssue(LICENSE_CONFLICT, f"licenses {a.license_id!r} and {b.license_id!r} of "
                                                          f"holder {a.holder_id!r} both license asset "
                                                          f"{a.asset_id!r} for "
                                                          f"{', '.join(sorted(a.usages & b.usages))} in "
                                                          f"{', '.join(shared)} over overlapping dates",
                                        a.asset_id, b.license_id))
    return issues


def _shared_territories(a: License, b: License) -> set[str]:
    if WORLDWIDE in a.territories:
        return set(b.territories)
    if WORLDWIDE in b.territories:
        return set(a.territories)
    return set(a.territories & b.territories)


def _overlap(a: License, b: License) -> bool:
    if not (a.usages & b.usages) or not _shared_territories(a, b):
        return False
    a_end = a.valid_to or dt.date.max
    b_end = b.valid_to or dt.date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def _json_list(value: Any, column: str) -> list[str]:
    """A VARIANT array that may arrive as JSON text, a list, or NULL."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(column, f"is not a JSON array: {value[:60]!r}") from None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InputError(column, "must be an array of strings")
    return list(value)
