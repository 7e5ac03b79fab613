"""ERN 4.3.2 ``NewReleaseMessage`` for one AI-generated single (``SimpleAudioSingle`` profile): dataclasses in, XML
bytes out, deterministic to the byte.

The same inputs always give the same message: the MessageId is derived from the release id, the recipient and a
digest of everything the message says (:func:`content_digest`), and MessageCreatedDateTime is given by the caller
(the track's CREATED_AT), never the clock. The SoundRecording and the Release both carry ``ContainsAI=All`` and the
SoundRecording names a ``GenerativeAI`` special contributor with ``AiContribution=All`` (ERN 4.3.2 only; 4.3
rejects these elements). Validate with :func:`maestro_core.ddex.validation.validate_ern`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from decimal import Decimal

from lxml import etree

from maestro_core.ddex.deals import DealTerms
from maestro_core.errors import InputError

ERN_NAMESPACE = "http://ddex.net/xml/ern/432"
AVS_VERSION_ID = "9"  # the AvsVersionId of the vendored allowed-value-sets.xsd
PROFILE = "SimpleAudioSingle"
LANGUAGE = "en"
RELEASE_REF, RESOURCE_REF, TECHNICAL_REF = "R0", "A1", "T1"
ARTIST_REF, LABEL_REF = "PArtist", "PLabel"
CODECS = {"flac": "FLAC", "wav": "PCM"}


@dataclass(frozen=True)
class Parties:
    """Who sends the message to whom: DDEX Party IDs (``PADPIDA...``) and names."""

    sender_dpid: str
    sender_name: str
    recipient_dpid: str
    recipient_name: str


@dataclass(frozen=True)
class DeliveredFile:
    """The audio file delivered with the message.

    Attributes:
        uri: its path relative to the message (``resources/<ISRC>.flac``).
        sha256: hex SHA-256 of the file's bytes, as delivered.
        size: bytes.
        audio_format: ``flac`` or ``wav`` (see :data:`CODECS`).
        channels: number of channels.
        sample_rate_hz: sampling rate, Hz.
        bits_per_sample: sample width, bits.
    """

    uri: str
    sha256: str
    size: int
    audio_format: str
    channels: int
    sample_rate_hz: int
    bits_per_sample: int


@dataclass(frozen=True)
class SingleRelease:
    """One track released as a single.

    Attributes:
        release_id: our proprietary release id (namespaced by the sender's DPID in the message).
        isrc: the recording's ISRC, 12 characters.
        title: display title of the recording and the release.
        artist_name: display artist.
        label_name: the label, also the P-line company.
        genre: display genre.
        duration_ms: duration in milliseconds (> 0).
        p_line_year: year of the P-line (the year the recording was made).
        created_at: MessageCreatedDateTime (UTC; naive values are read as UTC).
        audio: the delivered file.
        deal: the deal terms (:func:`maestro_core.ddex.deals.derive_deal_terms`).
    """

    release_id: str
    isrc: str
    title: str
    artist_name: str
    label_name: str
    genre: str
    duration_ms: int
    p_line_year: int
    created_at: dt.datetime
    audio: DeliveredFile
    deal: DealTerms


def iso_duration(duration_ms: int) -> str:
    """ISO 8601 duration of a length in milliseconds: 210000 -> ``PT3M30S``, 3723500 -> ``PT1H2M3.5S``."""
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or duration_ms < 0:
        raise InputError("duration_ms", f"must be a non-negative integer of milliseconds, got {duration_ms!r}")
    hours, rest = divmod(duration_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = Decimal(rest) / 1000
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if rest or not (hours or minutes):
        text += f"{seconds.normalize():f}S"
    return text


def content_digest(release: SingleRelease, parties: Parties) -> str:
    """Hex sha256 of everything the message says (canonical JSON of the inputs), so a change changes the id."""
    payload = {"release": asdict(release), "parties": asdict(parties)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def message_id(release: SingleRelease, parties: Parties) -> str:
    """The deterministic MessageId: ``<release id>-`` plus 20 hex digits of sha256(release id | recipient | content)."""
    seed = f"{release.release_id}|{parties.recipient_dpid}|{content_digest(release, parties)}"
    return f"{release.release_id}-{hashlib.sha256(seed.encode()).hexdigest()[:20]}"


def build_new_release_message(release: SingleRelease, parties: Parties) -> bytes:
    """The NewReleaseMessage as UTF-8 XML bytes (with declaration), deterministic in its inputs."""
    if release.audio.audio_format not in CODECS:
        raise InputError("delivery_format", f"{release.audio.audio_format!r} is not one of {', '.join(CODECS)}")
    root = etree.Element(f"{{{ERN_NAMESPACE}}}NewReleaseMessage", nsmap={"ern": ERN_NAMESPACE})
    root.set("ReleaseProfileVersionId", PROFILE)
    root.set("AvsVersionId", AVS_VERSION_ID)
    root.set("LanguageAndScriptCode", LANGUAGE)
    _header(root, release, parties)
    party_list = _sub(root, "PartyList")
    for ref, name in ((ARTIST_REF, release.artist_name), (LABEL_REF, release.label_name)):
        party = _sub(party_list, "Party")
        _sub(party, "PartyReference", ref)
        _sub(_sub(party, "PartyName"), "FullName", name)
    _sound_recording(_sub(root, "ResourceList"), release)
    _release(_sub(root, "ReleaseList"), release, parties)
    _deals(_sub(root, "DealList"), release.deal)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def _utc_text(when: dt.datetime) -> str:
    aware = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    return aware.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _header(root: etree._Element, release: SingleRelease, parties: Parties) -> None:
    header = _sub(root, "MessageHeader")
    _sub(header, "MessageId", message_id(release, parties))
    for tag, dpid, name in (("MessageSender", parties.sender_dpid, parties.sender_name),
                            ("MessageRecipient", parties.recipient_dpid, parties.recipient_name)):
        party = _sub(header, tag)
        _sub(party, "PartyId", dpid)
        _sub(_sub(party, "PartyName"), "FullName", name)
    _sub(header, "MessageCreatedDateTime", _utc_text(release.created_at))


def _titles_and_artist(parent: etree._Element, release: SingleRelease) -> None:
    _sub(parent, "DisplayTitleText", release.title)
    _sub(_sub(parent, "DisplayTitle"), "TitleText", release.title)
    _sub(parent, "DisplayArtistName", release.artist_name)
    artist = _sub(parent, "DisplayArtist", SequenceNumber="1")
    _sub(artist, "ArtistPartyReference", ARTIST_REF)
    _sub(artist, "DisplayArtistRole", "MainArtist")


def _p_line(parent: etree._Element, release: SingleRelease) -> None:
    line = _sub(parent, "PLine")
    _sub(line, "Year", str(release.p_line_year))
    _sub(line, "PLineCompany", release.label_name)
    _sub(line, "PLineText", f"(P) {release.p_line_year} {release.label_name}")


def _sound_recording(resources: etree._Element, release: SingleRelease) -> None:
    rec = _sub(resources, "SoundRecording")
    _sub(rec, "ResourceReference", RESOURCE_REF)
    _sub(rec, "Type", "MusicalWorkSoundRecording")
    edition = _sub(rec, "SoundRecordingEdition")
    _sub(_sub(edition, "ResourceId"), "ISRC", release.isrc)
    _p_line(edition, release)
    technical = _sub(edition, "TechnicalDetails")
    _sub(technical, "TechnicalResourceDetailsReference", TECHNICAL_REF)
    delivery = _sub(technical, "DeliveryFile")
    audio = release.audio
    _sub(delivery, "Type", "AudioFile")
    _sub(delivery, "AudioCodecType", CODECS[audio.audio_format])
    _sub(delivery, "NumberOfChannels", str(audio.channels))
    _sub(delivery, "SamplingRate", str(audio.sample_rate_hz), UnitOfMeasure="Hz")
    _sub(delivery, "BitsPerSample", str(audio.bits_per_sample))
    file = _sub(delivery, "File")
    _sub(file, "URI", audio.uri)
    hash_sum = _sub(file, "HashSum")
    _sub(hash_sum, "Algorithm", "SHA-256")
    _sub(hash_sum, "HashSumValue", audio.sha256)
    _sub(file, "FileSize", str(audio.size))
    _titles_and_artist(rec, release)
    contributor = _sub(rec, "Contributor", SequenceNumber="1")
    _sub(contributor, "SpecialContributor", "GenerativeAI")
    _sub(contributor, "AiContribution", "All")
    _sub(rec, "Duration", iso_duration(release.duration_ms))
    _sub(rec, "ContainsAI", "All")


def _release(releases: etree._Element, release: SingleRelease, parties: Parties) -> None:
    rel = _sub(releases, "Release")
    _sub(rel, "ReleaseReference", RELEASE_REF)
    _sub(rel, "ReleaseType", "Single")
    _sub(_sub(rel, "ReleaseId"), "ProprietaryId", release.release_id, Namespace=f"DPID:{parties.sender_dpid}")
    _titles_and_artist(rel, release)
    _sub(rel, "ReleaseLabelReference", LABEL_REF)
    _p_line(rel, release)
    _sub(rel, "Duration", iso_duration(release.duration_ms))
    _sub(_sub(rel, "DisplayGenre"), "GenreText", release.genre)
    group = _sub(rel, "ResourceGroup")
    item = _sub(group, "ResourceGroupContentItem")
    _sub(item, "SequenceNumber", "1")
    _sub(item, "ReleaseResourceReference", RESOURCE_REF)
    _sub(rel, "ContainsAI", "All")


def _deals(deal_list: etree._Element, terms: DealTerms) -> None:
    release_deal = _sub(deal_list, "ReleaseDeal")
    _sub(release_deal, "DealReleaseReference", RELEASE_REF)
    for commercial in terms.deals:
        deal_terms = _sub(_sub(release_deal, "Deal"), "DealTerms")
        for code in terms.ddex_territories:
            _sub(deal_terms, "TerritoryCode", code)
        period = _sub(deal_terms, "ValidityPeriod")
        _sub(period, "StartDate", terms.start.isoformat())
        if terms.end is not None:
            _sub(period, "EndDate", terms.end.isoformat())
        _sub(deal_terms, "CommercialModelType", commercial.commercial_model)
        for use_type in commercial.use_types:
            _sub(deal_terms, "UseType", use_type)
