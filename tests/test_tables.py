"""The fan-out's stage contract (maestro_pipeline.tables) and the DDL-checked warehouse row (schema.Table.row)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest

from maestro_core import schema
from maestro_core.provenance import AssetUse
from maestro_core.rights import ReliedLicense
from maestro_pipeline.tables import (
    REQUEST_TABLE,
    RESULT_TABLE,
    WORK_TABLE,
    dump_assets,
    dump_relied,
    dump_row,
    empty_row,
    load_assets,
    load_relied,
    load_row,
    request_row,
)

ASSETS = [
    AssetUse(asset_id="asset_minilm", kind="model", sha256="a" * 64, license_id="lic_minilm", uri="hf://minilm"),
    AssetUse(asset_id="asset_seed_001", kind="melody_seed", sha256="b" * 64, license_id=None),
]
RELIED = [
    ReliedLicense(license_id="lic_seed_001", asset_id="asset_seed_001", holder_id="holder_ada_lune",
                  role="seed_owner", share_bps=2500),
    ReliedLicense(license_id="lic_minilm", asset_id="asset_minilm", holder_id="holder_minilm_authors",
                  role="model_licensor", share_bps=500),
]


def _keys_in_order(text: str) -> list[list[str]]:
    """The key order of every JSON object in ``text``, as written (not as a dict would re-order them)."""
    orders: list[list[str]] = []
    json.loads(text, object_pairs_hook=lambda pairs: orders.append([k for k, _ in pairs]) or dict(pairs))
    return orders


# --- the table schemas ----------------------------------------------------------------------------------------

def test_work_table_fields_are_request_table_fields_of_the_same_name_and_type() -> None:
    assert len(WORK_TABLE) > 0
    assert len(set(WORK_TABLE.names)) == len(WORK_TABLE.names)
    for field in WORK_TABLE:
        assert field.name in REQUEST_TABLE.names, field.name
        assert REQUEST_TABLE.field(field.name).equals(field), field.name


def test_work_table_carries_what_a_worker_needs_to_render_and_record_a_request() -> None:
    needed = {"REQUEST_ID", "RUN_ID", "TRACK_ID", "ISRC", "SEED", "GENRE", "MOOD", "KEY_PHRASES", "TEMPO_BPM",
              "MUSICAL_KEY", "DURATION_S", "MELODY_URI", "ASSETS", "LICENSE_IDS", "RUN_CONTEXT", "DESCRIPTORS"}
    assert needed <= set(WORK_TABLE.names)


def test_request_and_result_tables_have_unique_column_names() -> None:
    for table in (REQUEST_TABLE, RESULT_TABLE):
        assert len(set(table.names)) == len(table.names)


def test_result_table_carries_warehouse_rows_and_record_lists_as_json_text() -> None:
    for name in ("TRACK_ROW", "PROVENANCE_ROW", "REASONS"):
        assert RESULT_TABLE.field(name).type == pa.string()
    for name in ("KEY_PHRASES", "TERRITORIES", "ASSETS", "LICENSE_IDS", "RELIED", "RUN_CONTEXT", "REASONS",
                 "DESCRIPTORS"):
        assert REQUEST_TABLE.field(name).type == pa.string()


# --- rows -------------------------------------------------------------------------------------------------------

def test_request_row_fills_every_other_column_with_none_in_table_order() -> None:
    row = request_row(REQUEST_ID="req_1", SEED=42, STATUS="planned")
    assert list(row) == REQUEST_TABLE.names
    assert (row["REQUEST_ID"], row["SEED"], row["STATUS"]) == ("req_1", 42, "planned")
    others = {k: v for k, v in row.items() if k not in ("REQUEST_ID", "SEED", "STATUS")}
    assert others and set(others.values()) == {None}


def test_request_row_builds_a_valid_request_table() -> None:
    table = pa.Table.from_pylist([request_row(REQUEST_ID="req_1", ORDINAL=3), request_row(REQUEST_ID="req_2")],
                                 schema=REQUEST_TABLE)
    assert table.schema.equals(REQUEST_TABLE)
    assert table["ORDINAL"].to_pylist() == [3, None]


def test_request_row_refuses_an_unknown_column_naming_it() -> None:
    with pytest.raises(KeyError, match="REQUEST_IDD"):
        request_row(REQUEST_IDD="req_1")
    with pytest.raises(KeyError):
        request_row(request_id="req_1")  # column names are upper case: a lower-case typo must not vanish


def test_empty_row_has_every_column_of_the_schema_null() -> None:
    row = empty_row(RESULT_TABLE)
    assert list(row) == RESULT_TABLE.names
    assert set(row.values()) == {None}
    assert pa.Table.from_pylist([row], schema=RESULT_TABLE).num_rows == 1


def test_empty_rows_are_independent_of_each_other() -> None:
    first = empty_row(RESULT_TABLE)
    first["STATUS"] = "generated"
    assert empty_row(RESULT_TABLE)["STATUS"] is None


# --- JSON record columns ----------------------------------------------------------------------------------------

def test_assets_round_trip_through_dump_and_load() -> None:
    loaded = load_assets(dump_assets(ASSETS))
    assert loaded == ASSETS
    assert all(isinstance(a, AssetUse) for a in loaded)


def test_relied_licenses_round_trip_through_dump_and_load() -> None:
    loaded = load_relied(dump_relied(RELIED))
    assert loaded == RELIED
    assert all(isinstance(r, ReliedLicense) for r in loaded)


def test_record_lists_are_dumped_with_sorted_keys() -> None:
    for text in (dump_assets(ASSETS), dump_relied(RELIED)):
        orders = _keys_in_order(text)
        assert orders and all(keys == sorted(keys) for keys in orders)


def test_record_lists_keep_their_order() -> None:
    assert [a.asset_id for a in load_assets(dump_assets(reversed(ASSETS)))] == ["asset_seed_001", "asset_minilm"]


@pytest.mark.parametrize("cell", [None, ""])
def test_a_null_or_empty_cell_holds_no_records(cell: str | None) -> None:
    assert load_assets(cell) == []
    assert load_relied(cell) == []


def test_dumping_no_records_gives_an_empty_json_array() -> None:
    assert json.loads(dump_assets([])) == []
    assert json.loads(dump_relied(())) == []


# --- warehouse rows as JSON ---------------------------------------------------------------------------------------

def test_dump_row_is_deterministic_whatever_the_dict_insertion_order() -> None:
    forward = {"TRACK_ID": "trk_1", "TITLE": "Rain", "DURATION_MS": 5000, "TEMPO_BPM": 92.5}
    backward = dict(reversed(list(forward.items())))
    assert list(forward) != list(backward)
    assert dump_row(forward) == dump_row(backward)
    assert _keys_in_order(dump_row(backward)) == [sorted(forward)]


def test_dump_row_writes_datetimes_and_dates_as_iso_text() -> None:
    row = {"CREATED_AT": dt.datetime(2026, 11, 15, 12, 30, 5), "DAY": dt.date(2026, 11, 15),
           "AWARE": dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))}
    data = json.loads(dump_row(row))
    assert data == {"CREATED_AT": "2026-11-15T12:30:05", "DAY": "2026-11-15", "AWARE": "2026-11-15T12:00:00+02:00"}


def test_dump_row_writes_numpy_scalars_as_json_numbers() -> None:
    data = json.loads(dump_row({"DURATION_MS": np.int64(5000), "TEMPO_BPM": np.float64(92.5),
                                "SIGNED": np.bool_(True), "SEED": np.int32(-7)}))
    assert data == {"DURATION_MS": 5000, "TEMPO_BPM": 92.5, "SIGNED": True, "SEED": -7}
    assert type(data["DURATION_MS"]) is int and type(data["TEMPO_BPM"]) is float and type(data["SIGNED"]) is bool


def test_load_row_turns_an_aware_created_at_into_naive_utc() -> None:
    aware = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    row = load_row(dump_row({"TRACK_ID": "trk_1", "CREATED_AT": aware}))
    assert row["CREATED_AT"] == dt.datetime(2026, 11, 15, 10, 0)
    assert row["CREATED_AT"].tzinfo is None


def test_load_row_reads_a_z_suffix_as_utc() -> None:
    row = load_row('{"CREATED_AT": "2026-11-15T23:59:59Z"}')
    assert row["CREATED_AT"] == dt.datetime(2026, 11, 15, 23, 59, 59)
    assert row["CREATED_AT"].tzinfo is None


def test_load_row_crosses_the_date_line_when_converting_to_utc() -> None:
    row = load_row('{"CREATED_AT": "2026-11-15T01:00:00+05:00"}')
    assert row["CREATED_AT"] == dt.datetime(2026, 11, 14, 20, 0)


def test_load_row_leaves_a_naive_created_at_as_it_is() -> None:
    row = load_row(dump_row({"CREATED_AT": dt.datetime(2026, 11, 15, 12, 0, 0, 250000)}))
    assert row["CREATED_AT"] == dt.datetime(2026, 11, 15, 12, 0, 0, 250000)
    assert row["CREATED_AT"].tzinfo is None


def test_load_row_converts_only_created_at() -> None:
    row = load_row(dump_row({"CREATED_AT": dt.datetime(2026, 1, 1), "UPDATED_AT": dt.datetime(2026, 1, 2),
                             "SEED": 7, "PARAMS": '{"genre": "house"}'}))
    assert row["UPDATED_AT"] == "2026-01-02T00:00:00"
    assert row["SEED"] == 7 and row["PARAMS"] == '{"genre": "house"}'


def test_load_row_accepts_a_row_without_created_at_or_with_a_null_one() -> None:
    assert load_row(dump_row({"TRACK_ID": "trk_1"})) == {"TRACK_ID": "trk_1"}
    assert load_row(dump_row({"TRACK_ID": "trk_1", "CREATED_AT": None})) == {"TRACK_ID": "trk_1", "CREATED_AT": None}


def test_a_tracks_row_round_trips_through_dump_row_and_load_row() -> None:
    row = schema.table("TRACKS").row(
        TRACK_ID="trk_1", REQUEST_ID="req_1", ISRC="ZZMAE2600001", TITLE="Rain on Glass", URI="file:///t/trk_1.wav",
        SHA256="c" * 64, DURATION_MS=5000, TEMPO_BPM=92.5, MUSICAL_KEY="A minor", GENRE="lofi-chill",
        MOOD="melancholic", LOUDNESS_LUFS=None, CREATED_AT=dt.datetime(2026, 11, 15, 8, 30))
    assert load_row(dump_row(row)) == row


# --- schema.Table.row ---------------------------------------------------------------------------------------------

TRACK_REQUIRED = {"TRACK_ID": "trk_1", "REQUEST_ID": "req_1", "TITLE": "Rain", "URI": "file:///t.wav",
                  "SHA256": "d" * 64, "DURATION_MS": 5000, "GENRE": "house", "MOOD": "energetic",
                  "CREATED_AT": dt.datetime(2026, 11, 15)}


def test_table_row_returns_the_given_columns_in_ddl_order() -> None:
    tracks = schema.table("TRACKS")
    given = dict(reversed([*TRACK_REQUIRED.items(), ("ISRC", "ZZMAE2600001")]))
    row = tracks.row(**given)
    ddl_order = [c.name for c in tracks.columns]
    assert list(row) == [name for name in ddl_order if name in given]
    assert row == given


def test_table_row_leaves_out_the_columns_not_given() -> None:
    row = schema.table("TRACKS").row(**TRACK_REQUIRED)
    assert set(row) == set(TRACK_REQUIRED)
    assert "ISRC" not in row and "LOUDNESS_LUFS" not in row


def test_table_row_keeps_a_nullable_column_given_as_none() -> None:
    row = schema.table("TRACKS").row(**TRACK_REQUIRED, ISRC=None)
    assert "ISRC" in row and row["ISRC"] is None


def test_table_row_refuses_an_unknown_column_naming_it() -> None:
    with pytest.raises(KeyError, match="TITEL"):
        schema.table("TRACKS").row(**TRACK_REQUIRED, TITEL="Rain")


@pytest.mark.parametrize("column", ["TITLE", "CREATED_AT", "TRACK_ID"])
def test_table_row_refuses_a_missing_not_null_column_naming_it(column: str) -> None:
    values = {k: v for k, v in TRACK_REQUIRED.items() if k != column}
    with pytest.raises(KeyError, match=column):
        schema.table("TRACKS").row(**values)


def test_table_row_refuses_none_for_a_not_null_column() -> None:
    with pytest.raises(KeyError, match="GENRE"):
        schema.table("TRACKS").row(**{**TRACK_REQUIRED, "GENRE": None})
