"""A computed period's royalty statements, exported: DDEX DSR files per rights holder, or one CSV / Parquet file.

    result = export_royalties(settings, "2026-03", "dsr", out_dir)      # DSR_<holder>_<sender>_..._1of1_<dt>.tsv each
    result = export_royalties(settings, "2026-03", "parquet", out_dir)  # ROYALTY_STATEMENTS_2026-03.parquet

The period must have been computed (``maestro royalties --period P``): the money comes from ROYALTY_LEDGER and
ROYALTY_STATEMENTS as stored, never recomputed. Each DSR file is parsed back and its net revenue checked against
the holder's statements to the micro-unit before anything is written; all of a period's DSR files are then written
together, atomically (all or none). Their content is a function of the warehouse's rows and the settings only, so
a rerun writes byte-identical files. The writer and the record layout are in maestro_core.ddex.dsr (docs/dsr.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from maestro_core.atomic import write_files_atomic
from maestro_core.config import Settings
from maestro_core.ddex import DPID
from maestro_core.ddex.dsr import DsrHeader, DsrResource, DsrUsage, dsr_file_name, parse_dsr, write_dsr
from maestro_core.errors import ConfigError, InputError
from maestro_core.royalty_rules import from_micros, period_bounds, to_micros
from maestro_core.warehouse import Warehouse, connect, read_sql
from maestro_pipeline.royalty_run import period_params

log = logging.getLogger(__name__)

FORMATS = ("dsr", "csv", "parquet")
SENDER_DPID_SETTING = "MAESTRO_DDEX_SENDER_DPID"
SENDER_NAME_SETTING = "MAESTRO_DDEX_SENDER_NAME"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the files (sorted) and how many statement rows they carry."""

    period: str
    format: str
    files: tuple[Path, ...]
    statements: int


def check_dsr_settings(settings: Settings) -> tuple[str, str]:
    """The sender's DPID and name, which every DSR's HEAD carries.

    Raises:
        ConfigError: naming MAESTRO_DDEX_SENDER_DPID when it is unset or not a DPID, or MAESTRO_DDEX_SENDER_NAME.
    """
    dpid = (settings.ddex_sender_dpid or "").strip()
    if not dpid:
        raise ConfigError(SENDER_DPID_SETTING, "is not set; a DSR names its sender by DDEX Party ID",
                          "a DPID such as PADPIDA2014120301H")
    if not DPID.fullmatch(dpid):
        raise ConfigError(SENDER_DPID_SETTING, f"{dpid!r} is not a DDEX Party ID", "PADPIDA followed by letters "
                          "and digits, e.g. PADPIDA2014120301H")
    name = (settings.ddex_sender_name or "").strip()
    if not name:
        raise ConfigError(SENDER_NAME_SETTING, "is not set; a DSR's HEAD carries the sender's name")
    return dpid, name


def export_royalties(settings: Settings, period: str, fmt: str, out_dir: Path,
                     period_field: str = "period") -> ExportResult:
    """Exports ``period``'s statements as ``fmt`` (dsr, csv or parquet) under ``out_dir`` (created if missing).

    Raises:
        ConfigError: a DSR export without the sender's DPID or name (checked before the warehouse is opened).
        InputError: naming ``format`` for an unknown format, ``out`` when ``out_dir`` is a file, and
            ``period_field`` when the period is malformed or has no ROYALTY_STATEMENTS.
    """
    if fmt not in FORMATS:
        raise InputError("format", f"{fmt!r}; accepted: {', '.join(FORMATS)}")
    try:
        period_bounds(period)
    except InputError as exc:
        raise InputError(period_field, str(exc).removeprefix("period: ")) from exc
    sender = check_dsr_settings(settings) if fmt == "dsr" else None
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("out", f"{out_dir} is a file, not a directory")
    with connect(settings) as wh:
        statements = wh.query_file("royalties/dsr_statements.sql", {"period": period}).to_pylist()
        if not statements:
            raise InputError(period_field, f"{period} has no ROYALTY_STATEMENTS: load its REVENUE_POOLS and run "
                                           f"`maestro royalties --period {period}` first")
        out_dir.mkdir(parents=True, exist_ok=True)
        if sender is not None:
            lines = wh.query_file("royalties/dsr_lines.sql", period_params(period)).to_pylist()
            files = _write_dsr_files(settings, sender, period, statements, lines, out_dir)
        else:
            files = (_write_table(wh, period, fmt, out_dir),)
    log.info("exported royalties %s as %s: %d files, %d statements", period, fmt, len(files), len(statements))
    return ExportResult(period, fmt, files, len(statements))


def build_dsr_reports(settings: Settings, sender: tuple[str, str], period: str, statements: list[dict[str, Any]],
                      lines: list[dict[str, Any]]) -> dict[str, str]:
    """File name -> text of each holder's DSR, checked against the holder's statements.

    ``statements`` are rows of sql/royalties/dsr_statements.sql, ``lines`` of sql/royalties/dsr_lines.sql.

    Raises:
        AssertionError: a file's net revenue differs from the holder's ROYALTY_STATEMENTS (a bug, never written).
        InputError: two holder ids map to the same file name.
    """
    start, end = period_bounds(period)
    dpid, sender_name = sender
    artist = settings.artist_name or sender_name
    by_holder: dict[str, dict[str, list[DsrUsage]]] = {}
    tracks: dict[str, dict[str, Any]] = {}
    for row in lines:
        usage = DsrUsage(row["TERRITORY"], row["CURRENCY"], int(row["STREAMS"]),
                         to_micros(row["AMOUNT"], "ROYALTY_LEDGER.AMOUNT"),
                         None if row["SHARE_BPS"] is None else int(row["SHARE_BPS"]))
        by_holder.setdefault(row["HOLDER_ID"], {}).setdefault(row["TRACK_ID"], []).append(usage)
        tracks[row["TRACK_ID"]] = row
    stated: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    for row in statements:
        stated.setdefault(row["HOLDER_ID"], {})[row["CURRENCY"]] = to_micros(row["AMOUNT"], "ROYALTY_STATEMENTS")
        names[row["HOLDER_ID"]] = row["HOLDER_NAME"]
    reports: dict[str, str] = {}
    for holder_id in sorted(stated):
        resources = [DsrResource(track_id, tracks[track_id]["TITLE"] or track_id, artist, tracks[track_id]["ISRC"],
                                 tracks[track_id]["DURATION_MS"], tuple(usages))
                     for track_id, usages in sorted(by_holder.get(holder_id, {}).items())]
        header = DsrHeader(sender_dpid=dpid, sender_name=sender_name, recipient_id=holder_id,
                           recipient_name=names[holder_id], period=period, usage_start=start.date(),
                           usage_end=(end - timedelta(days=1)).date(), created=end,
                           message_id=f"DSR-{period}-{holder_id}")
        text = write_dsr(header, resources)
        got = parse_dsr(text).net_revenue()
        want = {currency: from_micros(micros) for currency, micros in stated[holder_id].items()}
        if got != want:
            raise AssertionError(f"DSR of {holder_id} {period}: net revenue {got} differs from its statements {want}")
        name = dsr_file_name(header, resources)
        if name in reports:
            raise InputError("HOLDER_ID", f"{holder_id} gives the same DSR file name as another holder: {name}")
        reports[name] = text
    return reports


def _write_dsr_files(settings: Settings, sender: tuple[str, str], period: str, statements: list[dict[str, Any]],
                     lines: list[dict[str, Any]], out_dir: Path) -> tuple[Path, ...]:
    reports = build_dsr_reports(settings, sender, period, statements, lines)
    files = {out_dir / name: text.encode() for name, text in sorted(reports.items())}
    write_files_atomic(files)
    return tuple(files)


def _write_table(wh: Warehouse, period: str, fmt: str, out_dir: Path) -> Path:
    path = out_dir / f"ROYALTY_STATEMENTS_{period}.{fmt}"
    params = {"period": period}
    if fmt == "parquet":
        wh.export_parquet(read_sql("royalties/dsr_export_statements.sql"), path, params)
    else:
        from maestro_core.analytics import write_result

        write_result(wh.query_file("royalties/dsr_export_statements.sql", params), "csv", path, field="out")
    return path
