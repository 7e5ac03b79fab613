"""``maestro verify AUDIO_PATH``: do a delivered file, its Content Credentials and the warehouse all agree?

Checks, in order (each reported with a reason; the file verifies only when every one holds):

1. ``manifest``: a readable C2PA manifest is embedded and names its signer (an empty, truncated or unparseable
   file fails here).
2. ``signature``: it validates, chained to the configured CA (validation state ``Trusted``, no failures). A
   changed byte anywhere outside the manifest breaks C2PA's data hash.
3. ``assertion``: the ``org.maestro.track`` assertion names a track id, a well-formed ISRC and a provenance hash.
4. ``track``: TRACKS has the track.
5. ``isrc``: the manifest's ISRC equals TRACKS.ISRC and ISRC_REGISTRY's code for the track (and the code is
   registered to no other track).
6. ``audio_hash``: the PCM hash of the file (:func:`maestro_core.provenance.audio_sha256`) equals TRACKS.SHA256 and
   TRACK_PROVENANCE.AUDIO_SHA256: a changed sample fails here too.
7. ``provenance``: TRACK_PROVENANCE has the record, its canonical sha256 equals PROVENANCE_SHA256 and the
   manifest's hash, and the record names this track and this audio hash.
8. ``sidecar`` (when a sidecar file exists): its bytes hash to the provenance hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maestro_core.credentials import Credentials, describe_failures, read_credentials
from maestro_core.errors import InputError, WarehouseError
from maestro_core.isrc import parse_isrc
from maestro_core.provenance import audio_sha256, provenance_sha256, sidecar_path
from maestro_core.signing_keys import KeyConfig

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_track`. ``ok`` only when every check holds."""

    path: Path
    checks: tuple[Check, ...]
    track_id: str | None = None
    isrc: str | None = None
    provenance: dict[str, Any] | None = field(default=None)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)


def verify_track(audio_path: str | Path, settings: Any, key_config: KeyConfig | None = None,
                 wh: Warehouse | None = None) -> VerifyReport:
    """Verifies one delivered file against its manifest and the warehouse.

    Args:
        audio_path: the signed WAV or FLAC.
        settings: Settings (warehouse URL; key paths via :meth:`KeyConfig.from_settings`).
        key_config: overrides the trust anchor and key paths.
        wh: an open warehouse to use instead of connecting with ``settings``.

    Raises:
        InputError: the file does not exist, is a directory or is not WAV/FLAC.
        ConfigError: the trust anchor is missing or unreadable.
    """
    path = Path(audio_path)
    keys = key_config or KeyConfig.from_settings(settings)
    creds = read_credentials(path, keys)
    checks: list[Check] = []
    if not creds.present:
        return VerifyReport(path, (Check("manifest", False, describe_failures(creds)),))
    signer = _signer(creds)
    checks.append(Check("manifest", True, f"C2PA manifest signed by {signer}") if signer else
                  Check("manifest", False, "the C2PA manifest names no signer (no signature info)"))
    checks.append(Check("signature", creds.trusted,
                        "valid, chained to the configured CA" if creds.trusted else describe_failures(creds)))
    track = dict(creds.track or {})
    track_id, isrc, claimed_hash = track.get("track_id"), track.get("isrc"), track.get("provenance_sha256")
    problems = [k for k in ("track_id", "isrc", "provenance_sha256") if not track.get(k)]
    try:
        if isrc:
            parse_isrc(isrc)
    except InputError as exc:
        problems.append(str(exc))
    checks.append(Check("assertion", not problems,
                        f"org.maestro.track names track {track_id}, ISRC {isrc}" if not problems
                        else f"org.maestro.track assertion missing or malformed: {', '.join(problems)}"))
    if not track_id:
        return VerifyReport(path, tuple(checks))
    try:
        pcm_hash: str | None = audio_sha256(path)
    except InputError as exc:
        pcm_hash = None
        checks.append(Check("audio_hash", False, f"the audio cannot be decoded: {exc}"))
    try:
        if wh is None:
            from maestro_core.warehouse import connect

            with connect(settings) as conn:
                rows, owners = _lookup(conn, track_id, isrc)
        else:
            rows, owners = _lookup(wh, track_id, isrc)
    except WarehouseError as exc:
        checks.append(Check("track", False, f"the warehouse lookup failed: {exc}"))
        return VerifyReport(path, tuple(checks), track_id, isrc)
    record = _db_checks(checks, rows, owners, track_id, isrc, claimed_hash, pcm_hash)
    sidecar = sidecar_path(path)
    if sidecar.is_file() and claimed_hash:
        digest = hashlib.sha256(sidecar.read_bytes()).hexdigest()
        checks.append(Check("sidecar", digest == claimed_hash, f"{sidecar.name} matches the manifest's provenance hash"
                            if digest == claimed_hash else f"{sidecar.name} hashes to {digest[:12]}…, the manifest "
                            f"says {claimed_hash[:12]}…"))
    return VerifyReport(path, tuple(checks), track_id, isrc, record)


def _lookup(wh: Warehouse, track_id: str, isrc: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    rows = wh.query_file("queries/verify_track.sql", {"track_id": track_id}).to_pylist()
    owners = [r["TRACK_ID"] for r in wh.query_file("queries/isrc_owner.sql", {"isrc": isrc}).to_pylist()] \
        if isrc else []
    return rows, owners


def _db_checks(checks: list[Check], rows: list[dict[str, Any]], owners: list[str], track_id: str,
               isrc: str | None, claimed_hash: str | None, pcm_hash: str | None) -> dict[str, Any] | None:
    if not rows:
        checks.append(Check("track", False, f"no TRACKS row for track {track_id}"))
        return None
    row = rows[0]
    checks.append(Check("track", True, f"TRACKS has {track_id} ({row['TITLE']})"))
    isrc_ok = isrc == row["ISRC"] == row["REGISTRY_ISRC"] and set(owners) == {track_id}
    checks.append(Check("isrc", isrc_ok, f"ISRC {isrc} is registered to this track" if isrc_ok else
                        f"ISRC disagrees: manifest {isrc}, TRACKS {row['ISRC']}, registry {row['REGISTRY_ISRC']}, "
                        f"registered to {owners or 'no track'}"))
    if pcm_hash is not None:
        hash_ok = pcm_hash == row["SHA256"] == row["AUDIO_SHA256"]
        checks.append(Check("audio_hash", hash_ok, "PCM sha256 matches TRACKS and TRACK_PROVENANCE" if hash_ok else
                            f"the audio changed: file PCM sha256 {pcm_hash[:12]}…, TRACKS {str(row['SHA256'])[:12]}…, "
                            f"TRACK_PROVENANCE {str(row['AUDIO_SHA256'])[:12]}…"))
    if row["PROVENANCE_TRACK_ID"] is None or not row["PROVENANCE"]:
        checks.append(Check("provenance", False, f"no TRACK_PROVENANCE record for track {track_id}"))
        return None
    record = json.loads(row["PROVENANCE"])
    if isinstance(record, str):  # a JSON string holding the JSON text
        record = json.loads(record)
    recomputed = provenance_sha256(record)
    problems = []
    if not recomputed == row["PROVENANCE_SHA256"] == claimed_hash:
        problems.append(f"hash of the stored record {recomputed[:12]}…, PROVENANCE_SHA256 "
                        f"{str(row['PROVENANCE_SHA256'])[:12]}…, manifest {str(claimed_hash)[:12]}…")
    if record.get("track_id") != track_id:
        problems.append(f"record names track {record.get('track_id')}")
    if pcm_hash is not None and (record.get("audio") or {}).get("sha256") != pcm_hash:
        problems.append("record's audio sha256 differs from the file's")
    checks.append(Check("provenance", not problems, "record matches the manifest's provenance hash" if not problems
                        else "provenance disagrees: " + "; ".join(problems)))
    return record


def _signer(creds: Credentials) -> str | None:
    """The signing certificate as 'common name (issuer ...)', or None when the manifest does not say."""
    info = creds.signer or {}
    name, issuer = info.get("common_name"), info.get("issuer")
    if not name:
        return None
    return f"{name} (issuer {issuer})" if issuer else str(name)


def format_report(report: VerifyReport) -> str:
    """The report as lines for people: one per check, then the provenance record."""
    lines = [f"{'OK  ' if c.ok else 'FAIL'} {c.name:<11} {c.detail}" for c in report.checks]
    lines.append(f"{report.path.name}: " + ("verified" if report.ok else
                                             f"NOT verified ({', '.join(c.name for c in report.failures)})"))
    if report.provenance is not None:
        lines.append("provenance:")
        lines.append(json.dumps(report.provenance, indent=2, ensure_ascii=False, sort_keys=True))
    return "\n".join(lines)
