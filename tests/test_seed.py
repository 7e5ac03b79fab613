"""The sample catalog: big and varied enough to exercise every path, deterministic, and idempotent to load."""

from __future__ import annotations

import datetime as dt
import json

import pretty_midi

from maestro_core import assets, sample_catalog
from maestro_core.seed import seed_warehouse
from maestro_core.warehouse import Warehouse


def test_reseeding_changes_nothing(warehouse: Warehouse) -> None:
    before = {t: warehouse.scalar(f"SELECT COUNT(*) FROM {t}") for t in ("PROMPT_CATALOG", "LICENSES", "ASSETS")}
    results = seed_warehouse(warehouse)
    assert all(r.inserted == 0 and r.updated == 0 for r in results), results
    assert before == {t: warehouse.scalar(f"SELECT COUNT(*) FROM {t}") for t in before}


def test_seed_runs_on_snowflake_too(wh_backend: Warehouse) -> None:
    first = {r.table: r.inserted for r in seed_warehouse(wh_backend)}
    assert first["PROMPT_CATALOG"] == 48 and first["LICENSES"] == len(sample_catalog.LICENSES)
    assert all(r.changed == 0 for r in seed_warehouse(wh_backend))


def test_sample_is_as_large_and_varied_as_promised(warehouse: Warehouse) -> None:
    prompts = warehouse.query("SELECT * FROM PROMPT_CATALOG").to_pylist()
    assert len(prompts) >= 40
    assert len({p["GENRE"] for p in prompts}) >= 10 and len({p["MOOD"] for p in prompts}) >= 8
    assert all(json.loads(p["KEY_PHRASES"]) for p in prompts)
    assert warehouse.scalar("SELECT COUNT(*) FROM RIGHTS_HOLDERS") >= 12
    assert warehouse.scalar("SELECT COUNT(*) FROM PLAYLISTS") >= 15
    assert warehouse.scalar("SELECT COUNT(DISTINCT PERIOD) FROM REVENUE_POOLS") >= 3
    assert warehouse.scalar("SELECT COUNT(*) FROM BLOCKED_TERMS") >= 5


def test_licenses_include_expired_future_and_territory_limited_ones() -> None:
    today = dt.date(2026, 11, 25)
    lic = sample_catalog.LICENSES
    assert any(r["valid_to"] and r["valid_to"] < today for r in lic)
    assert any(r["valid_from"] > today for r in lic)
    assert any(r["territories"] != ["WW"] for r in lic)
    assert any("commercial_streaming" not in r["usages"] for r in lic)
    assert len({r["share_bps"] for r in lic}) > 5
    assert all(0 <= r["share_bps"] <= 10000 for r in lic)


def test_every_referenced_holder_and_asset_exists(warehouse: Warehouse) -> None:
    orphans = warehouse.query(
        "SELECT L.LICENSE_ID FROM LICENSES L LEFT JOIN ASSETS A ON A.ASSET_ID = L.ASSET_ID "
        "LEFT JOIN RIGHTS_HOLDERS H ON H.HOLDER_ID = L.HOLDER_ID WHERE A.ASSET_ID IS NULL OR H.HOLDER_ID IS NULL")
    assert orphans.num_rows == 0
    seeds = warehouse.query("SELECT DISTINCT MELODY_SEED_ASSET_ID AS A FROM PROMPT_CATALOG "
                            "WHERE MELODY_SEED_ASSET_ID IS NOT NULL AND MELODY_SEED_ASSET_ID NOT IN "
                            "(SELECT ASSET_ID FROM ASSETS)")
    assert seeds.num_rows == 0


def test_melody_seed_midi_files_ship_in_the_repo_and_match_their_recorded_hash(warehouse: Warehouse) -> None:
    files = assets.melody_seed_files()
    assert len(files) >= 8
    recorded = {r["ASSET_ID"]: r["SHA256"] for r in
                warehouse.query("SELECT ASSET_ID, SHA256 FROM ASSETS WHERE KIND = 'melody_seed'").to_pylist()}
    for asset_id, path in files.items():
        midi = pretty_midi.PrettyMIDI(str(path))
        assert len(midi.instruments[0].notes) >= 8, path
        assert recorded[asset_id] == assets.sha256_file(path)


def test_engine_assets_are_hashed_from_the_installed_files(warehouse: Warehouse) -> None:
    rows = {r["ASSET_ID"]: r["SHA256"] for r in warehouse.query("SELECT ASSET_ID, SHA256 FROM ASSETS").to_pylist()}
    installed = [bank for bank in assets.known_soundfonts() if bank.path.is_file()]
    assert installed, "neither FluidR3_GM nor TimGM6mb is installed"
    for bank in installed:
        assert rows[bank.asset_id] == assets.sha256_file(bank.path) == \
            assets.sha256_file(assets.engine_asset_files()[bank.asset_id])
    assert len(rows[assets.MODEL_ASSET_ID]) == 64
