"""``maestro deliver --date D``: the date's tracks as DDEX ERN 4.3.2 packages, written to the store, recorded in
DELIVERIES.

Flow, per recipient (``MAESTRO_DDEX_RECIPIENT_DPID``): preflight (the DDEX settings, the warehouse, the store) ->
read the date's generated tracks and the licenses the rights gate relied on -> per track: refuse it (with
``MAESTRO_REVIEW_REQUIRED`` set, a track not approved in REVIEWS: ``review_pending`` or ``review_held``; no ISRC, a
deal the licenses cannot express, stored audio whose PCM hash no longer matches TRACKS.SHA256) or encode the audio,
build and validate the message, and store the package -> one MERGE of DELIVERIES -> the batch manifest.

Object paths are deterministic (see :func:`package_paths`)::

    deliveries/<recipient DPID>/<release id>/resources/<ISRC>.flac
    deliveries/<recipient DPID>/<release id>/<ISRC>.xml
    deliveries/<recipient DPID>/manifests/<YYYY-MM-DD>.json

Each object is written atomically; the audio goes first and the message last, so a message never points at a
missing file (a platform picks a package up by its message). A rerun writes the same bytes (a no-op in the store)
and the same rows (CREATED_AT is kept from the first run), and counts those tracks as *skipped*.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maestro_core import schema
from maestro_core.config import Settings
from maestro_core.ddex import DPID
from maestro_core.ddex.audio import encode_for_delivery
from maestro_core.ddex.deals import DealRefused, DealTerms, LicenseTerms, derive_deal_terms
from maestro_core.ddex.ern import DeliveredFile, Parties, SingleRelease, build_new_release_message, message_id
from maestro_core.ddex.validation import validate_ern
from maestro_core.errors import ConfigError, InputError, MaestroError
from maestro_core.request_status import GENERATED
from maestro_core.storage import StorageError, TrackStore, safe_segment, sha256_bytes

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)

DELIVERIES_PREFIX = "deliveries"
DELIVERED, REFUSED = "delivered", "refused"
NO_ISRC, AUDIO_MISSING, AUDIO_HASH_MISMATCH = "no_isrc", "audio_missing", "audio_hash_mismatch"
REVIEW_PENDING, REVIEW_HELD = "review_pending", "review_held"
# Setting -> what it is, for the one-line error that names it. Every one is required: no invented defaults.
REQUIRED_SETTINGS = {
    "ddex_sender_dpid": "our DDEX Party ID, PADPIDA followed by letters or digits",
    "ddex_sender_name": "our party name on DDEX messages",
    "ddex_recipient_dpid": "the receiving platform's DDEX Party ID, PADPIDA followed by letters or digits",
    "ddex_recipient_name": "the receiving platform's party name",
    "artist_name": "the display artist of delivered releases",
    "label_name": "the label on delivered releases and the P-line",
}


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver`` did: ``delivered`` packages written or changed, ``skipped`` ones already delivered and
    unchanged, ``refused`` tracks (each with its reason), and the batch manifest's URI."""

    day: dt.date
    recipient: str
    delivered: int
    skipped: int
    refused: int
    refusals: list[dict[str, str]] = field(default_factory=list)
    manifest_uri: str = ""
    changed_rows: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "recipient": self.recipient, "delivered": self.delivered,
                "skipped": self.skipped, "refused": self.refused, "refusals": self.refusals,
                "manifest_uri": self.manifest_uri, "changed_rows": self.changed_rows, "seconds": self.seconds}


def delivery_parties(settings: Settings) -> Parties:
    """The message parties from settings, every required one present and each DPID well-formed.

    Raises:
        ConfigError: naming the first setting at fault (``MAESTRO_DDEX_SENDER_DPID``, ...).
    """
    problems = setting_problems(settings)
    if problems:
        raise problems[0]
    return Parties(str(settings.ddex_sender_dpid), str(settings.ddex_sender_name).strip(),
                   str(settings.ddex_recipient_dpid), str(settings.ddex_recipient_name).strip())


def setting_problems(settings: Settings) -> list[ConfigError]:
    """One ConfigError per DDEX setting that is missing or malformed (empty when all are fine)."""
    problems = []
    for name, what in REQUIRED_SETTINGS.items():
        value = getattr(settings, name)
        if value is None or not str(value).strip():
            problems.append(ConfigError(f"MAESTRO_{name.upper()}", "is required to deliver", what))
        elif name.endswith("_dpid") and not DPID.fullmatch(str(value)):
            problems.append(ConfigError(f"MAESTRO_{name.upper()}", f"{value!r} is not a DDEX Party ID", what))
    return problems


def delivery_preflight(settings: Settings) -> Parties:
    """Checks everything a delivery needs before it reads or writes anything: the DDEX settings, the warehouse
    (migrated, so DELIVERIES exists) and the store (a probe write).

    Raises:
        PreflightFailed: listing every problem, each naming its setting.
    """
    from maestro_pipeline.preflight import PreflightFailed, check_store, check_warehouse

    problems: list[MaestroError] = list(setting_problems(settings))
    for check in (lambda: check_warehouse(settings), lambda: check_store(settings.storage_url)):
        try:
            check()
        except MaestroError as exc:
            problems.extend(getattr(exc, "problems", [exc]))
    if problems:
        raise PreflightFailed(problems)
    return delivery_parties(settings)


def release_id(track_id: str) -> str:
    """Our proprietary release id of a track's single (the message namespaces it by our DPID)."""
    return f"MAE-{safe_segment(track_id, 'track_id')}"


def package_paths(recipient: str, release: str, isrc: str, audio_format: str) -> dict[str, str]:
    """The store keys of one package: ``audio``, ``message`` (and the message's relative ``audio_uri``)."""
    base = f"{DELIVERIES_PREFIX}/{safe_segment(recipient, 'recipient')}/{safe_segment(release, 'release_id')}"
    audio_name = f"{safe_segment(isrc, 'isrc')}.{audio_format}"
    return {"audio": f"{base}/resources/{audio_name}", "message": f"{base}/{safe_segment(isrc, 'isrc')}.xml",
            "audio_uri": f"resources/{audio_name}"}


def manifest_key(recipient: str, day: dt.date) -> str:
    return f"{DELIVERIES_PREFIX}/{safe_segment(recipient, 'recipient')}/manifests/{day.isoformat()}.json"


def run_delivery(settings: Settings, day: dt.date) -> DeliveryReport:
    """Delivers every generated track of ``day``'s runs to the configured recipient (see the module docstring).

    Returns:
        The report; refusals are results, recorded in DELIVERIES with their reason, not errors.

    Raises:
        PreflightFailed: bad DDEX settings, a warehouse not migrated, an unwritable store (nothing written).
        WarehouseError, StorageError: the warehouse or the store failed mid-way; a rerun completes the batch.
    """
    from maestro_pipeline.context import warehouse

    started = time.perf_counter()
    parties = delivery_preflight(settings)
    store = TrackStore(settings.storage_url)
    with warehouse(settings) as wh:
        binds = {"day": day.isoformat(), "generated": GENERATED}
        tracks = wh.query_file("delivery/date_tracks.sql", binds).to_pylist()
        license_ids = sorted({lid for t in tracks for lid in _json_list(t["LICENSE_IDS"])})
        licenses = _licenses(wh, license_ids)
        recorded = _recorded(wh, parties.recipient_dpid, [t["TRACK_ID"] for t in tracks])
        gate = _review_gate(wh, [t["TRACK_ID"] for t in tracks]) if settings.review_required else None
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        rows: list[dict[str, Any]] = []
        manifest: list[dict[str, Any]] = []
        skipped = 0
        for track in tracks:
            refusal = gate.get(track["TRACK_ID"]) if gate is not None else None
            row, entry, wrote = _deliver_track(track, licenses, parties, settings, store, day, refusal)
            before = recorded.get(track["TRACK_ID"])
            row["CREATED_AT"] = before["CREATED_AT"] if before else now
            rows.append(schema.table("DELIVERIES").row(**row))
            manifest.append(entry)
            skipped += row["STATUS"] == DELIVERED and not wrote and _same(before, row)
        result = wh.upsert("DELIVERIES", rows) if rows else None
    refusals = [{"track_id": str(r["TRACK_ID"]), "isrc": str(r.get("ISRC") or ""), "reason": str(r["REASON"])}
                for r in rows if r["STATUS"] == REFUSED]
    stored = store.put_bytes(manifest_key(parties.recipient_dpid, day), _manifest_bytes(day, parties, manifest))
    report = DeliveryReport(day, parties.recipient_dpid, sum(1 for r in rows if r["STATUS"] == DELIVERED) - skipped,
                            skipped, len(refusals), refusals, stored.uri, result.changed if result else 0,
                            round(time.perf_counter() - started, 3))
    log.info("delivery", extra={k: v for k, v in report.to_dict().items() if k != "refusals"})
    return report


def _deliver_track(track: Mapping[str, Any], licenses: Mapping[str, LicenseTerms], parties: Parties,
                   settings: Settings, store: TrackStore, day: dt.date, refusal: _Refused | None = None,
                   ) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(DELIVERIES row without CREATED_AT, manifest entry, whether an object was written) of one track: its package
    stored, or its refusal (``refusal``, when the review gate already refused it, before anything is encoded)."""
    release = release_id(track["TRACK_ID"])
    row: dict[str, Any] = {"TRACK_ID": track["TRACK_ID"], "RECIPIENT": parties.recipient_dpid, "RELEASE_ID": release,
                           "ISRC": track["ISRC"], "DELIVERY_DATE": day, "MESSAGE_ID": None, "PACKAGE_URI": None,
                           "PACKAGE_SHA256": None, "AUDIO_URI": None, "AUDIO_SHA256": None}
    wrote = False
    try:
        if refusal is not None:
            raise refusal
        package, wrote = _package(track, licenses, parties, settings, store, day, release)
        row.update(package)
    except (DealRefused, _Refused) as exc:  # every column is set, so a refusal replaces an earlier delivery's row
        row.update(STATUS=REFUSED, REASON=str(exc))
    if row["STATUS"] == REFUSED:
        log.warning("delivery of %s refused: %s", track["TRACK_ID"], row["REASON"],
                    extra={"track": track["TRACK_ID"], "reason": row["REASON"]})
    entry = {k.lower(): (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}
    return row, entry, wrote


class _Refused(MaestroError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")


def _package(track: Mapping[str, Any], licenses: Mapping[str, LicenseTerms], parties: Parties, settings: Settings,
             store: TrackStore, day: dt.date, release: str) -> tuple[dict[str, Any], bool]:
    if not track["ISRC"]:
        raise _Refused(NO_ISRC, "the track has no ISRC; a platform cannot ingest a recording without one")
    deal = _deal(track, licenses, day)
    wav = _stored_audio(track, store)
    audio = encode_for_delivery(wav, settings.delivery_format)
    keys = package_paths(parties.recipient_dpid, release, track["ISRC"], audio.audio_format)
    audio_sha = sha256_bytes(audio.data)
    created = track["CREATED_AT"]
    single = SingleRelease(
        release_id=release, isrc=track["ISRC"], title=track["TITLE"], artist_name=str(settings.artist_name).strip(),
        label_name=str(settings.label_name).strip(), genre=track["GENRE"], duration_ms=int(track["DURATION_MS"]),
        p_line_year=created.year, created_at=created,
        audio=DeliveredFile(keys["audio_uri"], audio_sha, len(audio.data), audio.audio_format, audio.channels,
                            audio.sample_rate_hz, audio.bits_per_sample),
        deal=deal)
    xml = build_new_release_message(single, parties)
    validate_ern(xml)  # a message we built that fails the XSD is our bug: the run fails, nothing is delivered
    stored_audio = store.put_bytes(keys["audio"], audio.data)
    stored_message = store.put_bytes(keys["message"], xml)
    return ({"MESSAGE_ID": message_id(single, parties), "PACKAGE_URI": stored_message.uri,
             "PACKAGE_SHA256": stored_message.sha256, "AUDIO_URI": stored_audio.uri, "AUDIO_SHA256": audio_sha,
             "STATUS": DELIVERED, "REASON": None}, stored_audio.written or stored_message.written)


def _review_gate(wh: Warehouse, track_ids: list[str]) -> dict[str, _Refused]:
    """The review gate (``MAESTRO_REVIEW_REQUIRED``): a refusal for each track REVIEWS has not approved, naming who
    held it and why, or that nobody has decided yet."""
    from maestro_pipeline.review import APPROVED, review_states

    states = review_states(wh, track_ids) if track_ids else {}
    refusals = {}
    for track_id in track_ids:
        review = states.get(track_id)
        if review is None:
            refusals[track_id] = _Refused(REVIEW_PENDING, "no reviewer has decided on the track; with "
                                                          "MAESTRO_REVIEW_REQUIRED only approved tracks are "
                                                          "delivered (maestro review serve)")
        elif review.decision != APPROVED:
            note = f": {review.note}" if review.note else " (no note)"
            refusals[track_id] = _Refused(REVIEW_HELD, f"held by {review.reviewer} on "
                                                       f"{review.decided_at:%Y-%m-%d %H:%M} UTC{note}")
    return refusals


def _deal(track: Mapping[str, Any], licenses: Mapping[str, LicenseTerms], day: dt.date) -> DealTerms:
    ids = _json_list(track["LICENSE_IDS"])
    missing = sorted(set(ids) - set(licenses))
    if missing:
        raise _Refused("license_missing", f"license(s) {', '.join(missing)} relied on are not in LICENSES")
    return derive_deal_terms([licenses[i] for i in ids], day)


def _stored_audio(track: Mapping[str, Any], store: TrackStore) -> bytes:
    """The stored WAV, checked against TRACKS.SHA256 (the PCM hash the pipeline recorded)."""
    from maestro_core.provenance import audio_sha256

    try:
        wav = store.read_bytes(store.key_of(track["URI"]))
    except (StorageError, InputError) as exc:
        raise _Refused(AUDIO_MISSING, f"the stored audio cannot be read: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="maestro-deliver-") as tmp:
        path = Path(tmp) / "audio.wav"
        path.write_bytes(wav)
        try:
            pcm = audio_sha256(path)
        except InputError:
            pcm = ""
    if pcm != track["SHA256"]:
        raise _Refused(AUDIO_HASH_MISMATCH, f"the stored audio's PCM sha256 {pcm[:12] or 'unreadable'}… no longer "
                                            f"matches TRACKS.SHA256 {str(track['SHA256'])[:12]}…")
    return wav


def _licenses(wh: Warehouse, ids: list[str]) -> dict[str, LicenseTerms]:
    if not ids:
        return {}
    rows = wh.query_file_for_ids("delivery/licenses.sql", ids, bind="l")
    return {r["LICENSE_ID"]: LicenseTerms(r["LICENSE_ID"], frozenset(_json_list(r["TERRITORIES"])),
                                          frozenset(_json_list(r["USAGES"])), r["VALID_FROM"], r["VALID_TO"])
            for r in rows}


def _recorded(wh: Warehouse, recipient: str, track_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not track_ids:
        return {}
    binds: dict[str, Any] = {f"t{i}": tid for i, tid in enumerate(track_ids)}
    binds["recipient"] = recipient
    rows = wh.query_file("delivery/recorded.sql", binds, ids=len(track_ids)).to_pylist()
    return {r["TRACK_ID"]: r for r in rows}


def _same(before: Mapping[str, Any] | None, row: Mapping[str, Any]) -> bool:
    return before is not None and all(before.get(k) == v for k, v in row.items())


def _json_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = json.loads(value) if isinstance(value, str) else value
    return [str(x) for x in items or []]


def _manifest_bytes(day: dt.date, parties: Parties, entries: list[dict[str, Any]]) -> bytes:
    """The batch manifest: every package and refusal of the date, canonical JSON (no clock: reruns are identical)."""
    body = {"date": day.isoformat(), "sender": parties.sender_dpid, "recipient": parties.recipient_dpid,
            "profile": "ERN 4.3.2 SimpleAudioSingle", "packages": sorted(entries, key=lambda e: e["track_id"])}
    return (json.dumps(body, sort_keys=True, indent=1) + "\n").encode()


def deliver_logical_date(settings: Settings, logical_date: dt.date | dt.datetime | str) -> dict[str, Any]:
    """The DAG task: :func:`run_delivery` for the UTC day of a logical date, as a plain dict (for XCom)."""
    from maestro_core.identity import logical_day

    return run_delivery(settings, logical_day(logical_date)).to_dict()
