"""The rights gate: every rejection reason, snapshot defects, and blocked terms as data (never SQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys

import pytest

from maestro_core.errors import InputError
from maestro_core.rights import (
    Asset,
    Holder,
    RightsRequest,
    RightsSnapshot,
    gate_request,
)
from tests.plugins.rights import DAY, PLATFORM, base_records, license, load_base_records, snapshot

ENGINE_ASSETS = ("asset_engine_composer", "asset_model_minilm_l6_v2", "asset_soundfont_timgm6mb")
ALL = (*ENGINE_ASSETS, "asset_seed_001")


def request(territories: tuple[str, ...] = ("US", "DE"), phrases: tuple[str, ...] = ("rainy city lights",),
            usage: str = "commercial_streaming") -> RightsRequest:
    return RightsRequest("req-1", "p1", phrases, territories, usage)


def test_clean_request_is_allowed_and_lists_the_licenses_it_relies_on():
    decision = gate_request(request(), ALL, snapshot(), DAY)
    assert decision.allowed and decision.reasons == ()
    relied = {r.license_id: (r.holder_id, r.role, r.share_bps) for r in decision.relied_on}
    assert relied == {"lic_engine": (PLATFORM, "model_licensor", 0),
                      "lic_minilm": ("holder_minilm", "model_licensor", 0),
                      "lic_sf": ("holder_sf", "model_licensor", 100), "lic_seed": ("holder_ana", "seed_owner", 2500)}


def test_unregistered_asset_is_license_missing():
    decision = gate_request(request(), (*ALL, "asset_seed_404"), snapshot(), DAY)
    assert not decision.allowed
    assert decision.codes == ("license_missing",)
    assert decision.reasons[0].asset_id == "asset_seed_404"


def test_asset_without_any_license_is_license_missing():
    holders, assets, licenses, terms = base_records()
    snap = RightsSnapshot.of(holders, assets, [lic for lic in licenses if lic.license_id != "lic_seed"], terms)
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.codes == ("license_missing",)
    assert "asset_seed_001" in decision.reasons[0].message


def test_license_that_ended_is_license_expired():
    snap = snapshot((license("lic_seed", "asset_seed_001", "holder_ana", valid_to=dt.date(2026, 2, 28),
                             share_bps=2500),), replace=True)
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.codes == ("license_expired",)
    assert "ended 2026-02-28" in decision.reasons[0].message


def test_license_not_yet_started_is_license_expired():
    snap = snapshot((license("lic_seed", "asset_seed_001", "holder_ana", valid_from=dt.date(2026, 3, 2),
                             share_bps=2500),), replace=True)
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.codes == ("license_expired",)
    assert "starts 2026-03-02" in decision.reasons[0].message


def test_validity_window_bounds_are_inclusive():
    snap = snapshot((license("lic_seed", "asset_seed_001", "holder_ana", valid_from=DAY, valid_to=DAY,
                             share_bps=2500),), replace=True)
    assert gate_request(request(), ALL, snap, DAY).allowed


def test_missing_territories_are_named():
    snap = snapshot((license("lic_seed", "asset_seed_001", "holder_ana", territories=("US", "CA"),
                             share_bps=2500),), replace=True)
    decision = gate_request(request(territories=("US", "DE", "FR")), ALL, snap, DAY)
    assert decision.codes == ("territory_not_covered",)
    assert decision.reasons[0].territories == ("DE", "FR")
    assert "DE, FR" in decision.reasons[0].message


def test_worldwide_request_needs_a_worldwide_license():
    snap = snapshot((license("lic_seed", "asset_seed_001", "holder_ana", territories=("US",), share_bps=2500),),
                    replace=True)
    decision = gate_request(request(territories=("WW",)), ALL, snap, DAY)
    assert decision.codes == ("territory_not_covered",)
    assert decision.reasons[0].territories == ("WW",)


def test_non_commercial_model_weights_are_usage_not_granted():
    # e.g. MusicGen's CC-BY-NC weights: licensed, but not for commercial streaming.
    snap = snapshot((license("lic_minilm", "asset_model_minilm_l6_v2", "holder_minilm", usages=("non_commercial",)),),
                    replace=True)
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.codes == ("usage_not_granted",)
    assert "commercial_streaming" in decision.reasons[0].message and "non_commercial" in decision.reasons[0].message


@pytest.mark.parametrize("phrase", ["In The Style Of aurora   VALE please", "in the style of Aurora Vale"])
def test_blocked_term_matches_case_insensitively_and_names_the_term(phrase):
    decision = gate_request(request(phrases=("calm", phrase)), ALL, snapshot(), DAY)
    assert decision.codes == ("blocked_term",)
    assert decision.reasons[0].term == "in the style of Aurora Vale"


def test_blocked_term_is_waived_by_a_licensed_style_asset():
    decision = gate_request(request(phrases=("in the style of Aurora Vale",)), (*ALL, "asset_style_vale"),
                            snapshot(), DAY)
    assert decision.allowed
    assert {r.role for r in decision.relied_on if r.asset_id == "asset_style_vale"} == {"style_licensor"}


def test_blocked_term_needs_word_boundaries():
    # "Björk-esque" must not fire inside an unrelated longer word.
    assert gate_request(request(phrases=("xbjörk-esquely",)), ALL, snapshot(), DAY).allowed
    assert gate_request(request(phrases=("BJÖRK-ESQUE vocals",)), ALL, snapshot(), DAY).codes == ("blocked_term",)


def test_key_phrases_with_quotes_semicolons_and_unicode_are_plain_data():
    hostile = ("o'brien; drop table licenses;-- remix", 'say "hi"; DELETE FROM X', "夜の街 🌧️", "\\'; --")
    decision = gate_request(request(phrases=hostile), ALL, snapshot(), DAY)
    assert decision.codes == ("blocked_term",)
    assert decision.reasons[0].term == "O'Brien; DROP TABLE LICENSES;--"
    assert json.loads(decision.reasons_json())[0]["term"] == "O'Brien; DROP TABLE LICENSES;--"


def test_shares_over_100_percent_are_split_overflow():
    snap = snapshot((license("lic_seed", "asset_seed_001", "holder_ana", share_bps=9000),
                     license("lic_sf", "asset_soundfont_timgm6mb", "holder_sf", share_bps=1500)), replace=True)
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.codes == ("split_overflow",)
    assert "10500 bps" in decision.reasons[0].message


def test_every_problem_is_reported_not_only_the_first():
    snap = snapshot((license("lic_seed", "asset_seed_001", "holder_ana", valid_to=dt.date(2025, 6, 1)),
                     license("lic_minilm", "asset_model_minilm_l6_v2", "holder_minilm", usages=("research",))),
                    replace=True)
    decision = gate_request(request(phrases=("in the style of aurora vale",)), ALL, snap, DAY)
    assert set(decision.codes) == {"license_expired", "usage_not_granted", "blocked_term"}
    stored = json.loads(decision.reasons_json())
    assert all({"code", "message"} <= set(r) for r in stored)


@pytest.mark.parametrize(("bad", "fragment"), [
    (license("lic_seed", "asset_seed_001", "holder_ana", valid_from=dt.date(2026, 5, 1),
             valid_to=dt.date(2026, 1, 1)), "VALID_TO 2026-01-01 is before VALID_FROM"),
    (license("lic_seed", "asset_seed_001", "holder_ana", share_bps=-5), "SHARE_BPS -5 is outside"),
    (license("lic_seed", "asset_seed_001", "holder_ana", share_bps=10001), "SHARE_BPS 10001 is outside"),
    (license("lic_seed", "asset_seed_001", "holder_ghost"), "unknown holder 'holder_ghost'"),
])
def test_malformed_license_denies_only_requests_relying_on_its_asset(bad, fragment):
    snap = snapshot((bad,), replace=True)
    assert any(fragment in issue.message for issue in snap.issues)
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.codes == ("license_invalid",)
    assert fragment in decision.reasons[0].message
    # A request that does not use the seed is unaffected: one bad row never sinks a batch.
    assert gate_request(request(), ENGINE_ASSETS, snap, DAY).allowed
    with pytest.raises(InputError, match="LICENSES"):
        snap.check()


def test_overlapping_licenses_for_one_asset_and_territory_are_a_conflict():
    snap = snapshot((license("lic_seed_b", "asset_seed_001", "holder_ana", territories=("DE", "FR"),
                             valid_from=dt.date(2025, 12, 1), valid_to=dt.date(2026, 12, 31), share_bps=3000),))
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.codes == ("license_conflict",)
    assert "lic_seed" in decision.reasons[0].message and "DE, FR" in decision.reasons[0].message


def test_co_owners_licensing_one_asset_share_it_and_are_not_in_conflict():
    publisher = license("lic_seed_pub", "asset_seed_001", "holder_vale", share_bps=1000)
    snap = snapshot((publisher,))
    assert snap.issues == ()
    decision = gate_request(request(), ALL, snap, DAY)
    assert decision.allowed
    assert {r.license_id for r in decision.relied_on} >= {"lic_seed", "lic_seed_pub"}
    too_much = snapshot((license("lic_seed_pub", "asset_seed_001", "holder_vale", share_bps=9000),))
    assert gate_request(request(), ALL, too_much, DAY).codes == ("split_overflow",)


def test_licenses_that_do_not_overlap_are_complementary_not_conflicting():
    records = base_records()
    seeds = [license("lic_seed_us", "asset_seed_001", "holder_ana", territories=("US",), share_bps=2000),
             license("lic_seed_de", "asset_seed_001", "holder_ana", territories=("DE",), share_bps=2000),
             license("lic_seed_old", "asset_seed_001", "holder_ana", valid_from=dt.date(2023, 1, 1),
                     valid_to=dt.date(2024, 12, 31))]
    snap = RightsSnapshot.of(records[0], records[1], [lic for lic in records[2] if lic.license_id != "lic_seed"]
                             + seeds, records[3])
    assert snap.issues == ()
    decision = gate_request(request(("US", "DE")), ALL, snap, DAY)
    assert decision.allowed
    assert {r.license_id for r in decision.relied_on} >= {"lic_seed_us", "lic_seed_de"}


def test_asset_owned_by_unknown_holder_is_denied():
    holders, assets, licenses, terms = base_records()
    assets = [dataclasses.replace(a, holder_id="nobody") if a.asset_id == "asset_seed_001" else a for a in assets]
    decision = gate_request(request(), ALL, RightsSnapshot.of(holders, assets, licenses, terms), DAY)
    assert decision.codes == ("license_invalid",)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"territories": ("usa",)}, "territories"), ({"territories": ()}, "territories"), ({"usage": " "}, "usage"),
])
def test_malformed_request_names_the_field(kwargs, field):
    base = {"request_id": "r", "prompt_id": "p", "key_phrases": (), "territories": ("US",)}
    with pytest.raises(InputError) as err:
        RightsRequest(**{**base, **kwargs})
    assert err.value.field == field


def test_request_from_a_prompt_row_reads_variant_json():
    row = {"PROMPT_ID": "p9", "KEY_PHRASES": '["a; b", "c\'d"]', "TERRITORIES": '["US","GB"]'}
    req = RightsRequest.from_prompt_row("r9", row)
    assert req.key_phrases == ("a; b", "c'd") and req.territories == ("US", "GB")
    with pytest.raises(InputError, match="TERRITORIES"):
        RightsRequest.from_prompt_row("r9", {**row, "TERRITORIES": "US,GB"})


def test_gate_wants_a_date_not_a_datetime():
    with pytest.raises(InputError, match="on_date"):
        gate_request(request(), ALL, snapshot(), dt.datetime(2026, 3, 1))


def test_domain_modules_do_not_import_heavy_frameworks():
    import subprocess

    code = ("import sys, maestro_core.rights, maestro_core.splits, maestro_core.identity; "
            "print([m for m in ('ray','pyspark','airflow','torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_snapshot_round_trips_through_the_warehouse_and_hostile_terms_stay_data(open_warehouse):
    from maestro_core.rights_snapshot import gate_prompt, load_snapshot

    _, _, licenses, terms = base_records()
    with open_warehouse() as wh:
        load_base_records(wh)
        wh.upsert("PROMPT_CATALOG", [{
            "PROMPT_ID": "p'; DROP TABLE PROMPT_CATALOG;--", "GENRE": "lofi", "MOOD": "calm",
            "KEY_PHRASES": ["O'BRIEN; drop table licenses;-- remix", "夜の街"], "TEMPO_BPM": 80, "DURATION_S": 30,
            "MELODY_SEED_ASSET_ID": "asset_seed_001", "TERRITORIES": ["US", "DE"], "TARGET_COUNT": 1, "PRIORITY": 1,
            "ACTIVE": True}])
        loaded = load_snapshot(wh)
        decision = gate_prompt(wh, "p'; DROP TABLE PROMPT_CATALOG;--", DAY, ())
        assert wh.table_exists("LICENSES") and wh.table_exists("PROMPT_CATALOG")
    assert set(loaded.licenses) == set(licenses) and set(loaded.blocked_terms) == set(terms)
    assert decision.codes == ("blocked_term",)
    assert decision.reasons[0].term == "O'Brien; DROP TABLE LICENSES;--"


def test_unparseable_license_row_becomes_an_issue_not_a_crash(open_warehouse):
    from maestro_core.rights_snapshot import load_snapshot

    with open_warehouse() as wh:
        wh.upsert("RIGHTS_HOLDERS", [{"HOLDER_ID": "h", "NAME": "H", "KIND": "artist"}])
        wh.upsert("ASSETS", [{"ASSET_ID": "a", "KIND": "melody_seed", "URI": "u", "SHA256": "0", "HOLDER_ID": "h"}])
        wh.upsert("LICENSES", [{"LICENSE_ID": "l", "ASSET_ID": "a", "HOLDER_ID": "h", "TERRITORIES": {"US": True},
                                "USAGES": ["commercial_streaming"], "VALID_FROM": DAY, "SHARE_BPS": 1}])
        snap = load_snapshot(wh)
    assert [i.code for i in snap.issues] == ["license_invalid"]
    decision = gate_request(request(), ("a",), snap, DAY)
    assert decision.codes == ("license_invalid",) and "TERRITORIES" in decision.reasons[0].message


def test_holder_records_are_typed():
    assert Holder("h", "n", "artist") == Holder("h", "n", "artist")
    assert Asset("a", "style", "h").title == ""


def test_cli_rights_check_prints_reasons_and_exits_1_when_denied(open_warehouse, capsys):
    from maestro_ai.cli import main

    with open_warehouse() as wh:
        wh.upsert("PROMPT_CATALOG", [{"PROMPT_ID": "p-denied", "GENRE": "lofi", "MOOD": "calm",
                                      "KEY_PHRASES": ["calm"], "TEMPO_BPM": 80, "DURATION_S": 30,
                                      "MELODY_SEED_ASSET_ID": "asset_seed_404", "TERRITORIES": ["US"],
                                      "TARGET_COUNT": 1, "PRIORITY": 1, "ACTIVE": True}])
    with pytest.raises(SystemExit) as exit_info:
        main(["rights", "check", "p-denied", "--date", "2026-03-01"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 1 and "license_missing" in out and "asset_seed_404" in out
