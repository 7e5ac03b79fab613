"""The pure ERN 4.3.2 builder and deal derivation: deals are what every license allows together, durations are
ISO 8601, message ids are deterministic, and every message built validates against the vendored XSD."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from maestro_core.ddex import deals as d
from maestro_core.ddex.ern import (
    DeliveredFile,
    Parties,
    SingleRelease,
    build_new_release_message,
    iso_duration,
    message_id,
)
from maestro_core.ddex.validation import ERN432_XSD, ern432_schema, ern_errors, validate_ern
from maestro_core.errors import InputError

DAY = dt.date(2026, 11, 15)
STREAMING = frozenset({"commercial_streaming"})
PARTIES = Parties("PADPIDA2026MAESTRO01", "Maestro Label", "PADPIDA2026PLATFORM1", "Platform")


def lic(lid: str, territories=("WW",), usages=STREAMING, start=dt.date(2026, 1, 1), end=None) -> d.LicenseTerms:
    return d.LicenseTerms(lid, frozenset(territories), frozenset(usages), start, end)


def release(**changes) -> SingleRelease:
    deal = d.derive_deal_terms([lic("a", ("US", "GB"), end=dt.date(2027, 6, 30)), lic("b")], DAY)
    base = SingleRelease(
        release_id="MAE-0f6c", isrc="ZZMAE2600001", title="Rain on Glass", artist_name="Maestro Ensemble",
        label_name="Maestro Label", genre="lofi-chill", duration_ms=210_000, p_line_year=2026,
        created_at=dt.datetime(2026, 11, 15, 3, 4, 5),
        audio=DeliveredFile("resources/ZZMAE2600001.flac", "ab" * 32, 12345, "flac", 2, 44100, 16), deal=deal)
    return dataclasses.replace(base, **changes)


# --- deals ---------------------------------------------------------------------------------------------------------
def test_territories_are_the_intersection_of_every_license_with_worldwide_as_identity():
    licenses = [lic("a", ("US", "GB", "DE")), lic("b", ("WW",)), lic("c", ("GB", "DE", "FR"))]
    assert d.intersect_territories(licenses) == ("DE", "GB")
    assert d.intersect_territories([lic("a"), lic("b")]) == ("WW",)
    terms = d.derive_deal_terms([lic("a"), lic("b")], DAY)
    assert terms.ddex_territories == ("Worldwide",)


def test_territories_that_intersect_to_nothing_are_refused():
    with pytest.raises(d.DealRefused) as exc:
        d.derive_deal_terms([lic("a", ("US", "CA")), lic("b", ("GB", "DE"))], DAY)
    assert exc.value.code == d.TERRITORIES_EMPTY and "a, b" in str(exc.value)


def test_the_window_is_the_latest_start_to_the_earliest_end():
    terms = d.derive_deal_terms([lic("a", start=dt.date(2026, 3, 1), end=dt.date(2027, 1, 31)),
                                 lic("b", start=dt.date(2025, 1, 1), end=dt.date(2026, 12, 31)), lic("c")], DAY)
    assert (terms.start, terms.end) == (dt.date(2026, 3, 1), dt.date(2026, 12, 31))
    assert d.derive_deal_terms([lic("a"), lic("b")], DAY).end is None


def test_a_window_that_ended_before_the_delivery_date_is_refused_and_one_ending_on_it_is_not():
    with pytest.raises(d.DealRefused) as exc:
        d.derive_deal_terms([lic("a", end=DAY - dt.timedelta(days=1)), lic("b")], DAY)
    assert exc.value.code == d.WINDOW_ENDED
    assert d.derive_deal_terms([lic("a", end=DAY)], DAY).end == DAY  # VALID_TO is inclusive


def test_licenses_never_valid_on_the_same_day_are_refused():
    with pytest.raises(d.DealRefused) as exc:
        d.derive_deal_terms([lic("a", start=dt.date(2027, 1, 1)), lic("b", end=dt.date(2026, 12, 31))], DAY)
    assert exc.value.code == d.WINDOW_EMPTY


def test_commercial_streaming_maps_to_subscription_and_ad_supported_on_demand_streams():
    terms = d.derive_deal_terms([lic("a", usages={"commercial_streaming", "download", "sync"})], DAY)
    assert [(c.commercial_model, c.use_types) for c in terms.deals] == [
        ("SubscriptionModel", ("OnDemandStream",)), ("AdvertisementSupportedModel", ("OnDemandStream",)),
        ("PayAsYouGoModel", ("PermanentDownload",))]


def test_usages_are_those_every_license_grants():
    terms = d.derive_deal_terms([lic("a", usages={"commercial_streaming", "download"}), lic("b")], DAY)
    assert [c.commercial_model for c in terms.deals] == ["SubscriptionModel", "AdvertisementSupportedModel"]


def test_a_usage_that_maps_to_no_deal_is_refused_and_sync_alone_offers_nothing():
    with pytest.raises(d.DealRefused) as unknown:
        d.derive_deal_terms([lic("a", usages={"commercial_streaming", "hologram_tour"})], DAY)
    assert unknown.value.code == d.USAGE_UNMAPPED and "hologram_tour" in str(unknown.value)
    with pytest.raises(d.DealRefused) as sync_only:
        d.derive_deal_terms([lic("a", usages={"sync"})], DAY)
    assert sync_only.value.code == d.NO_DEAL
    with pytest.raises(d.DealRefused) as none:
        d.derive_deal_terms([], DAY)
    assert none.value.code == d.NO_LICENSES


CODES = st.sampled_from(["US", "GB", "DE", "FR", "JP", "WW"])


@given(st.lists(st.frozensets(CODES, min_size=1, max_size=4), min_size=1, max_size=5))
def test_every_offered_territory_is_covered_by_every_license(territory_sets):
    licenses = [lic(f"l{i}", t) for i, t in enumerate(territory_sets)]
    offered = d.intersect_territories(licenses)
    for code in offered:
        assert all(code in t or "WW" in t for t in territory_sets)
    named = [t for t in territory_sets if "WW" not in t]
    assert set(offered) == (frozenset.intersection(*named) if named else {"WW"})


# --- durations and ids ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ms", "text"), [(210_000, "PT3M30S"), (5_000, "PT5S"), (0, "PT0S"), (3_723_500, "PT1H2M3.5S"),
                                          (3_600_000, "PT1H"), (61_005, "PT1M1.005S"), (999, "PT0.999S")])
def test_iso_durations(ms, text):
    assert iso_duration(ms) == text


@pytest.mark.parametrize("bad", [-1, 1.5, "30", True])
def test_a_bad_duration_names_the_field(bad):
    with pytest.raises(InputError, match="duration_ms"):
        iso_duration(bad)


def test_the_message_id_is_deterministic_and_changes_with_the_recipient_or_the_content():
    assert message_id(release(), PARTIES) == message_id(release(), PARTIES)
    assert message_id(release(), PARTIES).startswith("MAE-0f6c-")
    other = dataclasses.replace(PARTIES, recipient_dpid="PADPIDA2026OTHER0001")
    assert message_id(release(), other) != message_id(release(), PARTIES)
    changed_audio = release(audio=dataclasses.replace(release().audio, sha256="cd" * 32))
    assert message_id(changed_audio, PARTIES) != message_id(release(), PARTIES)


def test_building_twice_gives_the_same_bytes():
    assert build_new_release_message(release(), PARTIES) == build_new_release_message(release(), PARTIES)


# --- the message ---------------------------------------------------------------------------------------------------
def test_the_message_validates_against_the_ern_432_xsd_and_says_what_issue_14_asks():
    xml = build_new_release_message(release(), PARTIES)
    assert ern_errors(xml) == []
    doc = etree.fromstring(xml)
    assert doc.get("ReleaseProfileVersionId") == "SimpleAudioSingle"
    assert doc.findtext("MessageHeader/MessageCreatedDateTime") == "2026-11-15T03:04:05Z"
    rec = doc.find("ResourceList/SoundRecording")
    assert rec.findtext("SoundRecordingEdition/ResourceId/ISRC") == "ZZMAE2600001"
    assert rec.findtext("Duration") == "PT3M30S" and rec.findtext("ContainsAI") == "All"
    assert rec.findtext("Contributor/SpecialContributor") == "GenerativeAI"
    assert rec.findtext("SoundRecordingEdition/PLine/PLineText") == "(P) 2026 Maestro Label"
    hash_sum = rec.find("SoundRecordingEdition/TechnicalDetails/DeliveryFile/File/HashSum")
    assert (hash_sum.findtext("Algorithm"), hash_sum.findtext("HashSumValue")) == ("SHA-256", "ab" * 32)
    rel = doc.find("ReleaseList/Release")
    proprietary = rel.find("ReleaseId/ProprietaryId")
    assert (proprietary.text, proprietary.get("Namespace")) == ("MAE-0f6c", f"DPID:{PARTIES.sender_dpid}")
    assert rel.findtext("DisplayGenre/GenreText") == "lofi-chill" and rel.findtext("ContainsAI") == "All"
    terms = doc.findall("DealList/ReleaseDeal/Deal/DealTerms")
    assert [t.findtext("CommercialModelType") for t in terms] == ["SubscriptionModel", "AdvertisementSupportedModel"]
    assert [c.text for c in terms[0].findall("TerritoryCode")] == ["GB", "US"]
    assert terms[0].findtext("ValidityPeriod/EndDate") == "2027-06-30"


def test_a_wav_delivery_and_an_open_ended_worldwide_deal_validate_too():
    xml = build_new_release_message(release(audio=dataclasses.replace(release().audio, audio_format="wav"),
                                            deal=d.derive_deal_terms([lic("a")], DAY)), PARTIES)
    validate_ern(xml)
    assert b"<AudioCodecType>PCM</AudioCodecType>" in xml and b"<TerritoryCode>Worldwide</TerritoryCode>" in xml
    assert b"EndDate" not in xml


@pytest.mark.parametrize(("old", "new"), [
    (b"<ContainsAI>All</ContainsAI>", b"<ContainsAI>Mostly</ContainsAI>"),
    (b"PADPIDA2026PLATFORM1", b"SPOTIFY"),
    (b"<Duration>PT3M30S</Duration>", b"<Duration>3:30</Duration>"),
    (b"http://ddex.net/xml/ern/432", b"http://ddex.net/xml/ern/43"),
])
def test_the_validator_rejects_a_broken_message(old, new):
    xml = build_new_release_message(release(), PARTIES)
    assert old in xml
    assert ern_errors(xml.replace(old, new))


def test_the_vendored_schemas_keep_ddex_layout_and_notice():
    assert (ERN432_XSD.parent.parent / "allowed-value-sets.xsd").is_file()
    for path in (ERN432_XSD, ERN432_XSD.parent.parent / "allowed-value-sets.xsd"):
        assert "Digital Data Exchange, LLC (DDEX)" in path.read_text()[:3000]
    assert ern432_schema() is ern432_schema()
