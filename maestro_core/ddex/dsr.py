"""DDEX DSR usage reports: the Basic Audio Profile flat file (DSR 3.x, dsrf), written and read back.

    text = write_dsr(header, resources)      # one recipient's report: records in, text out
    name = dsr_file_name(header, resources)  # DSR_<Recipient>_<Sender>_<Service>_<Period>_<Territory>_1of1_<dt>.tsv
    report = parse_dsr(text)                 # the records by type, FOOT counts checked

Pure: no warehouse, no files. The record layouts (:data:`LAYOUTS`) follow the record type definitions of DDEX's
``BasicAudioProfile`` 1.2 XSD in ddexnet/dsrf (HEAD, SY01.01, AS01.01, SU02, FOOT), plus LI01.02 from the same
library's UgcProfile 1.2 for the recipient's allocated revenue per track; docs/dsr.md gives the mapping.

Money arrives as integer micro-units and is written as exact decimals with 6 places (no float anywhere). The
summary rows are derived from the usages, so a file's SY NetRevenue, its LI AllocatedNetRevenue and the usages it
was given always agree to the micro-unit. The text is a function of its inputs only: a rerun is byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from maestro_core.ddex import DPID
from maestro_core.royalty_rules import from_micros

MESSAGE_VERSION = "dsrf/1.1/1.4.1/1.2"  # Part 1 (architecture) / Part 2 (allowed values) / Part 8 (record types)
PROFILE = "BasicAudioProfile"
PROFILE_VERSION = "1.2"
COMMERCIAL_MODEL = "SubscriptionModel"  # our pools carry no model split: every pool is reported as one
USE_TYPE = "OnDemandStream"
RIGHTS_TYPE = "MakeAvailableRight"  # the master right our splits pay
RESOURCE_TYPE = "SoundRecording"
CELL_SEPARATOR = "\t"
VALUE_SEPARATOR = "|"  # between the values of a repeatable cell (none of ours repeats)
ESCAPE = "\\"
_ISRC = re.compile(r"[a-zA-Z]{2}[a-zA-Z0-9]{3}[0-9]{7}")
_NAME_PART = re.compile(r"[^A-Za-z0-9.\-]")  # `_` separates the file-name parts; spaces are not allowed either

# Record type -> its cells, in file order (the first is always RecordType).
LAYOUTS: dict[str, tuple[str, ...]] = {
    "HEAD": ("RecordType", "MessageVersion", "Profile", "ProfileVersion", "MessageId", "MessageCreatedDateTime",
             "FileNumber", "NumberOfFiles", "UsageStartDate", "UsageEndDate", "SenderPartyId", "SenderName",
             "ServiceDescription", "RecipientPartyId", "RecipientName", "RepresentedRepertoire"),
    "SY01.01": ("RecordType", "SummaryRecordId", "DistributionChannel", "DistributionChannelDPID",
                "CommercialModel", "UseType", "Territory", "ServiceDescription", "Usages", "Subscribers",
                "CurrencyOfReporting", "NetRevenue", "IndirectNetRevenue", "CurrencyOfTransaction", "ExchangeRate"),
    "AS01.01": ("RecordType", "BlockId", "ResourceReference", "DspResourceId", "ISRC", "Title", "SubTitle",
                "DisplayArtistName", "DisplayArtistPartyId", "Duration", "ResourceType", "IsMasterRecording"),
    "SU02": ("RecordType", "BlockId", "SummaryRecordId", "SalesTransactionId", "TransactedRelease",
             "TransactedResource", "IsRoyaltyBearing", "NumberOfStreams", "PriceConsumerPaidExcSalesTax",
             "PromotionalActivity"),
    "LI01.02": ("RecordType", "BlockId", "SummaryRecordId", "RightsController", "RightsControllerPartyId",
                "RightsControllerWorkId", "RightSharePercentage", "RightsType", "AllocatedNetRevenue",
                "AllocatedAmount", "AllocatedUsages"),
    "FOOT": ("RecordType", "NumberOfLinesInFile", "NumberOfLinesInReport", "NumberOfSummaryRecords",
             "NumberOfBlocksInFile", "NumberOfBlocksInReport"),
}
BLOCK_RECORDS = ("AS01.01", "SU02", "LI01.02")


class DsrFormatError(ValueError):
    """A DSR text does not parse, or its FOOT does not count what the file holds."""


@dataclass(frozen=True)
class DsrHeader:
    """Who reports what to whom: one recipient (a rights holder), one period, one message."""

    sender_dpid: str
    sender_name: str
    recipient_id: str  # our HOLDER_ID
    recipient_name: str
    period: str  # YYYY-MM: also the file name's MessageNotificationPeriod
    usage_start: date
    usage_end: date  # inclusive, as DSR dates are
    created: datetime  # UTC; deterministic (the caller derives it from the period), so a rerun is byte-identical
    message_id: str
    service: str = "MaestroStreaming"  # ServiceDescription: no spaces or underscores


@dataclass(frozen=True)
class DsrUsage:
    """One resource's usage in one pool (territory, currency) and the recipient's share of its revenue."""

    territory: str
    currency: str
    streams: int
    revenue_micros: int
    share_bps: int | None = None


@dataclass(frozen=True)
class DsrResource:
    """A sound recording of the recipient with its usages, one per pool it was streamed in."""

    track_id: str
    title: str
    artist: str
    isrc: str | None = None
    duration_ms: int | None = None
    usages: tuple[DsrUsage, ...] = ()


@dataclass(frozen=True)
class DsrReport:
    """A parsed file: its records in order as (type, cells by name), and its physical line count."""

    records: tuple[tuple[str, dict[str, str]], ...]
    lines: int
    blocks: int = field(default=0)

    def of(self, record_type: str) -> list[dict[str, str]]:
        return [cells for kind, cells in self.records if kind == record_type]

    @property
    def head(self) -> dict[str, str]:
        return self.of("HEAD")[0]

    @property
    def foot(self) -> dict[str, str]:
        return self.of("FOOT")[0]

    def net_revenue(self) -> dict[str, Decimal]:
        """The recipient's net revenue per currency, from the SY records (CurrencyOfReporting, NetRevenue)."""
        totals: dict[str, Decimal] = {}
        for row in self.of("SY01.01"):
            currency = row["CurrencyOfReporting"]
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(row["NetRevenue"])
        return totals

    def allocated_revenue(self) -> dict[str, Decimal]:
        """The same per currency, summed over the per-track LI records (each names its SY record's currency)."""
        currency = {row["SummaryRecordId"]: row["CurrencyOfReporting"] for row in self.of("SY01.01")}
        totals: dict[str, Decimal] = {}
        for row in self.of("LI01.02"):
            key = currency[row["SummaryRecordId"]]
            totals[key] = totals.get(key, Decimal(0)) + Decimal(row["AllocatedNetRevenue"])
        return totals

    def streams(self) -> dict[str, int]:
        """Streams per currency, summed over the SU02 records."""
        currency = {row["SummaryRecordId"]: row["CurrencyOfReporting"] for row in self.of("SY01.01")}
        totals: dict[str, int] = {}
        for row in self.of("SU02"):
            key = currency[row["SummaryRecordId"]]
            totals[key] = totals.get(key, 0) + int(row["NumberOfStreams"])
        return totals


def money(micros: int) -> str:
    """Integer micro-units as an exact decimal with 6 places, e.g. ``1234567`` -> ``1.234567``."""
    return f"{from_micros(micros):f}"


def iso_duration(duration_ms: int | None) -> str:
    """``PT[nH][nM]n[.fff]S`` (ISO 8601), or empty when unknown."""
    if duration_ms is None or duration_ms < 0:
        return ""
    hours, rest = divmod(int(duration_ms), 3_600_000)
    minutes, ms = divmod(rest, 60_000)
    seconds = f"{Decimal(ms).scaleb(-3).normalize():f}"
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes or hours else "") + f"{seconds}S"


def summary_keys(resources: Iterable[DsrResource]) -> list[tuple[str, str]]:
    """The (territory, currency) pools the resources were used in, sorted: SummaryRecordId S<n> is the n-th."""
    return sorted({(u.territory, u.currency) for r in resources for u in r.usages})


def dsr_file_name(header: DsrHeader, resources: Sequence[DsrResource]) -> str:
    """``DSR_<Recipient>_<Sender>_<Service>_<Period>_<Territory>_1of1_<DateTime>.tsv`` (dsrf's file-name rule).

    Territory is the one ISO code when every usage is in one territory, else ``multi``. Characters the name
    cannot hold (``_`` separates its parts) become ``-`` in the recipient id.
    """
    territories = {t for t, _ in summary_keys(resources)}
    territory = next(iter(territories)) if len(territories) == 1 else "multi"
    parts = ("DSR", _name_part(header.recipient_id), _name_part(header.sender_dpid), _name_part(header.service),
             header.period, territory, "1of1", header.created.strftime("%Y%m%dT%H%M%S"))
    return "_".join(parts) + ".tsv"


def write_dsr(header: DsrHeader, resources: Sequence[DsrResource]) -> str:
    """One recipient's Basic Audio Profile report as text (one file: FileNumber 1 of 1).

    Records: HEAD; one SY01.01 per (territory, currency) pool; then one block per resource (by track id): its
    AS01.01, an SU02 per pool with its streams and an LI01.02 per pool with the recipient's revenue; FOOT.
    The first record of each type is preceded by a ``#`` line naming its cells (HEAD's follows it, as the file
    starts with HEAD); FOOT counts those lines too, as the dsrf definition of NumberOfLinesInFile says.

    Raises:
        ValueError: the sender DPID is malformed, a usage is negative, or a resource is listed twice.
    """
    if not DPID.fullmatch(header.sender_dpid):
        raise ValueError(f"sender DPID {header.sender_dpid!r} is not a DDEX Party ID (PADPIDA...)")
    ordered = sorted(resources, key=lambda r: r.track_id)
    if len({r.track_id for r in ordered}) != len(ordered):
        raise ValueError("a resource is listed twice")
    keys = summary_keys(ordered)
    summary_id = {key: f"S{i}" for i, key in enumerate(keys, start=1)}
    streams = dict.fromkeys(keys, 0)
    revenue = dict.fromkeys(keys, 0)
    for resource in ordered:
        for usage in resource.usages:
            if usage.streams < 0 or usage.revenue_micros < 0:
                raise ValueError(f"{resource.track_id}: negative usage or revenue in {usage.territory}")
            streams[(usage.territory, usage.currency)] += usage.streams
            revenue[(usage.territory, usage.currency)] += usage.revenue_micros

    lines: list[str] = []
    seen: set[str] = set()

    def emit(kind: str, *cells: object) -> None:
        layout = LAYOUTS[kind]
        assert len(cells) == len(layout) - 1, f"{kind} takes {len(layout) - 1} cells"
        record = CELL_SEPARATOR.join((kind, *(_cell(c) for c in cells)))
        if kind == "HEAD":  # a file starts with its HEAD record: the comment naming its cells follows it
            lines.append(record)
        if kind not in seen:
            seen.add(kind)
            lines.append(CELL_SEPARATOR.join(("#" + kind, *layout[1:])))
        if kind != "HEAD":
            lines.append(record)

    emit("HEAD", MESSAGE_VERSION, PROFILE, PROFILE_VERSION, header.message_id,
         header.created.strftime("%Y-%m-%dT%H:%M:%SZ"), 1, 1, header.usage_start.isoformat(),
         header.usage_end.isoformat(), header.sender_dpid, header.sender_name, header.service, "",
         header.recipient_name, "")
    for key in keys:
        emit("SY01.01", summary_id[key], "", "", COMMERCIAL_MODEL, USE_TYPE, key[0], header.service, streams[key],
             "", key[1], money(revenue[key]), "", key[1], "")
    party_id = f"{header.sender_dpid}::{header.recipient_id}"
    for block, resource in enumerate(ordered, start=1):
        isrc = (resource.isrc or "").replace("-", "")
        emit("AS01.01", block, "R1", resource.track_id, isrc if _ISRC.fullmatch(isrc) else "", resource.title, "",
             resource.artist, "", iso_duration(resource.duration_ms), RESOURCE_TYPE, "")
        usages = sorted(resource.usages, key=lambda u: (u.territory, u.currency))
        for n, usage in enumerate(usages, start=1):
            emit("SU02", block, summary_id[(usage.territory, usage.currency)], f"T{block}.{n}", "", "R1", "TRUE",
                 usage.streams, "", "")
        for usage in usages:
            share = "" if usage.share_bps is None else f"{Decimal(usage.share_bps).scaleb(-2):f}"
            emit("LI01.02", block, summary_id[(usage.territory, usage.currency)], header.recipient_name, party_id,
                 "", share, RIGHTS_TYPE, money(usage.revenue_micros), money(usage.revenue_micros), "")
    total = len(lines) + 2  # the #FOOT line and FOOT itself
    emit("FOOT", total, total, len(keys), len(ordered), len(ordered))
    assert len(lines) == total
    return "\n".join(lines) + "\n"


def parse_dsr(text: str) -> DsrReport:
    """Reads a flat file written by :func:`write_dsr` (or any with these record types) and checks its FOOT.

    Raises:
        DsrFormatError: an unknown record type, a record with the wrong number of cells, no HEAD or FOOT, or a
            FOOT whose line, summary or block counts differ from what the file holds.
    """
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()
    records: list[tuple[str, dict[str, str]]] = []
    for number, line in enumerate(physical, start=1):
        if not line or line.startswith("#"):
            continue
        cells = [_unescape(c) for c in _split(line)]
        layout = LAYOUTS.get(cells[0])
        if layout is None:
            raise DsrFormatError(f"line {number}: unknown record type {cells[0]!r}")
        if len(cells) > len(layout) and not any(cells[len(layout):]):
            cells = cells[:len(layout)]  # trailing empty cells, as some senders pad records
        if len(cells) != len(layout):
            raise DsrFormatError(f"line {number}: {cells[0]} has {len(cells)} cells, its layout {len(layout)}")
        records.append((cells[0], dict(zip(layout, cells, strict=True))))
    kinds = [kind for kind, _ in records]
    if not kinds or kinds[0] != "HEAD" or kinds[-1] != "FOOT" or kinds.count("HEAD") != 1 or kinds.count("FOOT") != 1:
        raise DsrFormatError("a DSR file starts with one HEAD record and ends with one FOOT record")
    blocks = len({cells["BlockId"] for kind, cells in records if kind in BLOCK_RECORDS})
    report = DsrReport(tuple(records), len(physical), blocks)
    foot = report.foot
    expected = {"NumberOfLinesInFile": len(physical), "NumberOfSummaryRecords": kinds.count("SY01.01"),
                "NumberOfBlocksInFile": blocks}
    for name, value in expected.items():
        if foot[name] != str(value):
            raise DsrFormatError(f"FOOT {name} is {foot[name]}, the file holds {value}")
    return report


def _cell(value: object) -> str:
    """A cell's text: ``\\`` and ``|`` escaped with ``\\`` (dsrf's escaper); tabs and line breaks become spaces."""
    text = "" if value is None else str(value)
    text = re.sub(r"[\t\r\n]", " ", text)
    return text.replace(ESCAPE, ESCAPE * 2).replace(VALUE_SEPARATOR, ESCAPE + VALUE_SEPARATOR)


def _split(line: str) -> list[str]:
    return line.split(CELL_SEPARATOR)  # tabs never survive into a cell (see _cell)


def _unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell)


def _name_part(value: str) -> str:
    return _NAME_PART.sub("-", value) or "-"
