"""ISRC format and minting: unique across concurrent processes, stable per track across reruns."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from maestro_core.errors import ConfigError, InputError
from maestro_core.isrc import format_isrc, isrc_of, isrc_prefix, mint_isrc, parse_isrc


def test_isrc_is_stored_as_12_characters_and_displayed_with_hyphens():
    code = format_isrc("ZZ", "MAE", 2026, 42)
    assert code == "ZZMAE2600042" and len(code) == 12
    parsed = parse_isrc("ZZ-MAE-26-00042")
    assert parsed.code == code and parsed.display == "ZZ-MAE-26-00042"
    assert parse_isrc(code) == parsed


@pytest.mark.parametrize("bad", ["ZZMAE260004", "zz-mae-26-00042", "Z1-MAE-26-00042", "ZZ-MA_-26-00042",
                                 "ZZ-MAE-26-00000", "ZZ-MAE-2X-00042", "", "ZZMAE26000421"])
def test_malformed_isrcs_are_refused_naming_the_field(bad):
    with pytest.raises(InputError) as err:
        parse_isrc(bad)
    assert err.value.field == "isrc"


@pytest.mark.parametrize(("country", "registrant", "setting"), [("Z", "MAE", "MAESTRO_ISRC_COUNTRY"),
                                                                ("zz", "MAE", "MAESTRO_ISRC_COUNTRY"),
                                                                ("ZZ", "MA", "MAESTRO_ISRC_REGISTRANT"),
                                                                ("ZZ", "ma-", "MAESTRO_ISRC_REGISTRANT")])
def test_invalid_isrc_configuration_names_the_setting(country, registrant, setting):
    with pytest.raises(ConfigError) as err:
        isrc_prefix(country, registrant, 2026)
    assert err.value.field == setting


def test_designation_and_year_are_range_checked():
    with pytest.raises(InputError, match="designation"):
        format_isrc("ZZ", "MAE", 2026, 100000)
    with pytest.raises(InputError, match="year"):
        isrc_prefix("ZZ", "MAE", 26)


def test_minting_numbers_tracks_in_order_and_a_rerun_keeps_every_code(rights_settings):
    first = mint_isrc(rights_settings, ["t-b", "t-a", "t-c"], 2026)
    assert first == {"t-a": "ZZMAE2600001", "t-b": "ZZMAE2600002", "t-c": "ZZMAE2600003"}
    again = mint_isrc(rights_settings, ["t-c", "t-a", "t-b", "t-d"], 2027)  # rerun, even in another year
    assert {k: again[k] for k in first} == first
    assert again["t-d"] == "ZZMAE2700001"


def test_minting_inside_an_open_warehouse_uses_the_given_codes(open_warehouse):
    with open_warehouse() as wh:
        codes = mint_isrc(wh, ["x1", "x2"], 2026, country="US", registrant="AB1")
        assert isrc_of(wh, "x1") == codes["x1"] == "USAB12600001"
        assert isrc_of(wh, "nope") is None


def test_exhausted_prefix_is_refused_and_nothing_is_written(open_warehouse):
    from maestro_core.errors import WarehouseError

    with open_warehouse() as wh:
        wh.execute("INSERT INTO ISRC_COUNTER (PREFIX, LAST_DESIGNATION) VALUES ('ZZMAE26', 99999)")
        with pytest.raises(WarehouseError, match="no designation numbers left"):
            mint_isrc(wh, ["late"], 2026)
        assert isrc_of(wh, "late") is None
        assert wh.scalar("SELECT LAST_DESIGNATION FROM ISRC_COUNTER WHERE PREFIX = 'ZZMAE26'") == 99999


def _mint_worker(home: str, track_ids: list[str], batch: int, out: mp.Queue) -> None:
    from maestro_core.config import load_settings

    settings = load_settings(home=home)
    result: dict[str, str] = {}
    for start in range(0, len(track_ids), batch):
        result.update(mint_isrc(settings, track_ids[start:start + batch], 2026))
    out.put(result)


def test_two_processes_minting_at_once_never_share_an_isrc(rights_settings):
    ids = [f"track-{i:03d}" for i in range(120)]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    # Overlapping work: both processes mint tracks 40..79, in small batches that interleave.
    workers = [ctx.Process(target=_mint_worker, args=(str(rights_settings.home), ids[:80], 8, queue)),
               ctx.Process(target=_mint_worker, args=(str(rights_settings.home), ids[40:][::-1], 8, queue))]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    a, b = results
    assert all(a[t] == b[t] for t in ids[40:80])  # the same track got the same code in both processes
    merged = {**a, **b}
    assert len(merged) == 120 and len(set(merged.values())) == 120
    from maestro_core.warehouse import connect

    with connect(rights_settings) as wh:
        rows = wh.query("SELECT TRACK_ID, ISRC, DESIGNATION FROM ISRC_REGISTRY").to_pylist()
    assert {r["TRACK_ID"]: r["ISRC"] for r in rows} == merged
    assert sorted(r["DESIGNATION"] for r in rows) == list(range(1, 121))  # no gaps, no duplicates
