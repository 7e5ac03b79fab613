"""The warehouse layer, run on DuckDB and on Snowflake (through fakesnow's server) by the same tests."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from maestro_core import schema
from maestro_core.config import load_settings
from maestro_core.errors import SchemaViolation, WarehouseError
from maestro_core.warehouse import Warehouse, connect
from maestro_core.warehouse.base import MIGRATIONS_TABLE


def holders(n: int, name: str = "Holder") -> list[dict]:
    return [{"holder_id": f"h{i:03d}", "name": f"{name} {i}", "kind": "artist"} for i in range(n)]


def test_migrations_are_recorded_and_applying_twice_is_a_no_op(wh_backend: Warehouse) -> None:
    assert wh_backend.migrate() == []
    recorded = wh_backend.query(f"SELECT NAME FROM {MIGRATIONS_TABLE} ORDER BY VERSION").column("NAME").to_pylist()
    assert recorded == [p.name for p in schema.migration_files()]


def test_every_table_in_the_ddl_exists_with_the_columns_the_arrow_schema_names(wh_backend: Warehouse) -> None:
    for name, table in schema.tables().items():
        cols = wh_backend.query(
            "SELECT UPPER(COLUMN_NAME) AS C FROM INFORMATION_SCHEMA.COLUMNS WHERE UPPER(TABLE_NAME) = :t "
            "AND UPPER(TABLE_SCHEMA) = UPPER(CURRENT_SCHEMA())", {"t": name}).column("C").to_pylist()
        assert sorted(cols) == sorted(table.arrow_schema.names), name


def test_upsert_inserts_then_a_rerun_changes_nothing_then_changes_are_updates(wh_backend: Warehouse) -> None:
    first = wh_backend.upsert("RIGHTS_HOLDERS", holders(10))
    assert (first.inserted, first.updated, first.unchanged) == (10, 0, 0)
    again = wh_backend.upsert("RIGHTS_HOLDERS", holders(10))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 10)
    rows = holders(5, "Renamed")[:5] + holders(15)[10:]  # 5 changed, 5 new
    mixed = wh_backend.upsert("RIGHTS_HOLDERS", rows)
    assert (mixed.inserted, mixed.updated, mixed.unchanged) == (5, 5, 0)
    stored = {r["HOLDER_ID"]: r["NAME"] for r in wh_backend.query("SELECT * FROM RIGHTS_HOLDERS").to_pylist()}
    assert len(stored) == 15 and stored["h000"] == "Renamed 0" and stored["h007"] == "Holder 7"


def test_json_and_decimal_columns_round_trip_exactly(wh_backend: Warehouse) -> None:
    wh_backend.upsert("REVENUE_POOLS", [{"period": "2026-10", "territory": "DE", "currency": "EUR",
                                         "amount": Decimal("5875.333333")}])
    amount = wh_backend.query("SELECT AMOUNT FROM REVENUE_POOLS").column("AMOUNT")
    assert pa.types.is_decimal(amount.type) and amount[0].as_py() == Decimal("5875.333333")
    license = {"license_id": "l1", "asset_id": "a1", "holder_id": "h1", "territories": ["US", "CA"],
               "usages": ["commercial_streaming"], "valid_from": dt.date(2026, 1, 1), "valid_to": None,
               "share_bps": 2500}
    wh_backend.upsert("LICENSES", [license])
    row = wh_backend.query("SELECT TERRITORIES, VALID_FROM, VALID_TO FROM LICENSES").to_pylist()[0]
    assert json.loads(row["TERRITORIES"]) == ["US", "CA"]
    assert row["VALID_FROM"] == dt.date(2026, 1, 1) and row["VALID_TO"] is None
    # JSON given as text with other spacing is the same value: a rerun changes nothing.
    again = wh_backend.upsert("LICENSES", [{**license, "territories": '[ "US",  "CA" ]'}])
    assert again.unchanged == 1


def test_values_are_bound_never_spliced_into_sql(wh_backend: Warehouse) -> None:
    hostile = "x'); DROP TABLE RIGHTS_HOLDERS; -- ünïcødé \"quoted\""
    wh_backend.upsert("RIGHTS_HOLDERS", [{"holder_id": hostile, "name": hostile, "kind": "artist"}])
    found = wh_backend.query("SELECT NAME FROM RIGHTS_HOLDERS WHERE HOLDER_ID = :id", {"id": hostile})
    assert found.column("NAME").to_pylist() == [hostile]
    assert wh_backend.table_exists("RIGHTS_HOLDERS")


def test_a_load_with_duplicate_natural_keys_is_refused_and_writes_nothing(wh_backend: Warehouse) -> None:
    rows = holders(3) + [{"holder_id": "h001", "name": "dupe", "kind": "label"}]
    with pytest.raises(SchemaViolation, match=r"RIGHTS_HOLDERS\.HOLDER_ID: 1 natural key"):
        wh_backend.upsert("RIGHTS_HOLDERS", rows)
    assert wh_backend.scalar("SELECT COUNT(*) FROM RIGHTS_HOLDERS") == 0


@pytest.mark.parametrize(("rows", "column"), [
    ([{"holder_id": None, "name": "n", "kind": "artist"}], "HOLDER_ID"),
    ([{"holder_id": "h1", "kind": "artist"}], "NAME"),
    ([{"holder_id": "h1", "name": "n", "kind": "artist", "colour": "red"}], "COLOUR"),
])
def test_rows_that_violate_the_schema_are_refused_naming_the_column(wh_backend: Warehouse, rows: list[dict],
                                                                    column: str) -> None:
    with pytest.raises(SchemaViolation) as err:
        wh_backend.upsert("RIGHTS_HOLDERS", rows)
    assert err.value.column == column
    assert wh_backend.scalar("SELECT COUNT(*) FROM RIGHTS_HOLDERS") == 0


def test_a_value_of_the_wrong_type_is_refused_naming_the_column(wh_backend: Warehouse) -> None:
    bad = pa.table({"PLAYLIST_ID": ["p1"], "NAME": ["n"], "GENRE": ["jazz"], "MOOD": ["dark"],
                    "TEMPO_MIN": ["slow"], "TEMPO_MAX": [100], "TARGET_TRACKS": [3]})
    with pytest.raises(SchemaViolation) as err:
        wh_backend.upsert("PLAYLISTS", bad)
    assert err.value.column == "TEMPO_MIN"


def test_several_tables_commit_together(wh_backend: Warehouse) -> None:
    pool = [{"period": "2026-10", "territory": "US", "currency": "USD", "amount": Decimal("10.5")}]
    results = wh_backend.upsert_many({"RIGHTS_HOLDERS": holders(2), "REVENUE_POOLS": pool})
    assert [r.inserted for r in results] == [2, 1]
    changed = [{**h, "name": "Renamed"} if h["holder_id"] == "h001" else h for h in holders(3)]
    again = wh_backend.upsert_many({"RIGHTS_HOLDERS": changed, "REVENUE_POOLS": pool})
    assert [(r.inserted, r.updated, r.unchanged) for r in again] == [(1, 1, 1), (0, 0, 1)]
    names = {r["HOLDER_ID"]: r["NAME"] for r in wh_backend.query("SELECT * FROM RIGHTS_HOLDERS").to_pylist()}
    assert names == {"h000": "Holder 0", "h001": "Renamed", "h002": "Holder 2"}


def test_several_tables_load_together_or_not_at_all(wh_backend: Warehouse) -> None:
    bad_pool = [{"period": "2026-10", "territory": "US", "currency": "USD", "amount": None}]
    with pytest.raises(SchemaViolation, match="AMOUNT"):
        wh_backend.upsert_many({"RIGHTS_HOLDERS": holders(2), "REVENUE_POOLS": bad_pool})
    assert wh_backend.scalar("SELECT COUNT(*) FROM RIGHTS_HOLDERS") == 0


def test_a_load_in_batches_is_the_same_load_committed_at_once(wh_backend: Warehouse) -> None:
    pool = [{"period": "2026-10", "territory": "US", "currency": "USD", "amount": Decimal("10.5")}]
    wh_backend.upsert("RIGHTS_HOLDERS", holders(2))  # h000 and h001 are stored; h001 is renamed below
    rows = [{**h, "name": "Renamed"} if h["holder_id"] == "h001" else h for h in holders(7)]
    batches = [{"RIGHTS_HOLDERS": rows[:3]}, {"RIGHTS_HOLDERS": pa.Table.from_pylist(rows[3:5]),
                                              "REVENUE_POOLS": pool}, {}, {"RIGHTS_HOLDERS": rows[5:]}]
    results = wh_backend.upsert_batches(iter(batches))
    assert [(r.table, r.inserted, r.updated, r.unchanged) for r in results] == [
        ("RIGHTS_HOLDERS", 5, 1, 1), ("REVENUE_POOLS", 1, 0, 0)]
    names = {r["HOLDER_ID"]: r["NAME"] for r in wh_backend.query("SELECT * FROM RIGHTS_HOLDERS").to_pylist()}
    assert names == {h["holder_id"]: h["name"] for h in rows}
    again = wh_backend.upsert_batches([{"RIGHTS_HOLDERS": rows[:4]}, {"RIGHTS_HOLDERS": rows[4:]}])
    assert [(r.inserted, r.updated, r.unchanged) for r in again] == [(0, 0, 7)]  # a rerun changes nothing


@pytest.mark.parametrize(("second", "column"), [
    (holders(4)[3:] + holders(1), "HOLDER_ID"),  # h000 again, in a later batch than its first
    ([{"holder_id": "h009", "name": None, "kind": "artist"}], "NAME"),  # a later batch breaks the schema
])
def test_a_batched_load_with_a_key_twice_or_a_bad_batch_is_refused_and_writes_nothing(
        wh_backend: Warehouse, second: list[dict], column: str) -> None:
    with pytest.raises(SchemaViolation, match=f"RIGHTS_HOLDERS.{column}"):
        wh_backend.upsert_batches([{"RIGHTS_HOLDERS": holders(3)}, {"RIGHTS_HOLDERS": second},
                                   {"REVENUE_POOLS": [{"period": "2026-10", "territory": "US", "currency": "USD",
                                                       "amount": Decimal("1")}]}])
    assert wh_backend.scalar("SELECT COUNT(*) FROM RIGHTS_HOLDERS") == 0
    assert wh_backend.scalar("SELECT COUNT(*) FROM REVENUE_POOLS") == 0


def test_a_transaction_that_fails_leaves_nothing_written(warehouse_duckdb: Warehouse) -> None:
    wh = warehouse_duckdb
    with pytest.raises(RuntimeError), wh.transaction():
        wh.execute("INSERT INTO BLOCKED_TERMS (TERM, REASON) VALUES (:t, :r)", {"t": "x", "r": "y"})
        raise RuntimeError("crash mid-transaction")
    assert wh.scalar("SELECT COUNT(*) FROM BLOCKED_TERMS") == 0


def test_a_merge_failing_midway_rolls_back_every_table(warehouse_duckdb: Warehouse) -> None:
    wh = warehouse_duckdb
    wh.upsert("RIGHTS_HOLDERS", holders(1))
    wh.execute("CREATE TABLE BLOCKED_TERMS_GUARD (X INTEGER)")
    # A CHECK the DDL does not have, added here only to make the second MERGE fail after the first ran.
    wh.execute("ALTER TABLE BLOCKED_TERMS RENAME TO BLOCKED_TERMS_REAL")
    wh.execute("CREATE TABLE BLOCKED_TERMS (TERM VARCHAR PRIMARY KEY, REASON VARCHAR CHECK (LENGTH(REASON) < 3))")
    with pytest.raises(WarehouseError):
        wh.upsert_many({"RIGHTS_HOLDERS": holders(3), "BLOCKED_TERMS": [{"term": "t", "reason": "too long"}]})
    assert wh.scalar("SELECT COUNT(*) FROM RIGHTS_HOLDERS") == 1


def test_a_migration_that_fails_halfway_is_rolled_back(tmp_path: Path) -> None:
    ddl = tmp_path / "ddl"
    ddl.mkdir()
    (ddl / "001_ok.sql").write_text("CREATE TABLE IF NOT EXISTS A_OK (X INTEGER);")
    (ddl / "002_broken.sql").write_text("CREATE TABLE IF NOT EXISTS B_HALF (X INTEGER);\nCREATE TABLE B_HALF (X INT);")
    with connect(load_settings(home=tmp_path)) as wh:
        with pytest.raises(WarehouseError, match="002_broken.sql failed and was rolled back"):
            wh.migrate(ddl)
        assert wh.table_exists("A_OK")
        assert not wh.table_exists("B_HALF")
        applied = wh.query(f"SELECT NAME FROM {MIGRATIONS_TABLE}").column("NAME").to_pylist()
        assert applied == ["001_ok.sql"]


def test_an_applied_migration_that_was_edited_is_refused(tmp_path: Path) -> None:
    ddl = tmp_path / "ddl"
    ddl.mkdir()
    (ddl / "001_first.sql").write_text("CREATE TABLE IF NOT EXISTS FIRST_THING (X INTEGER);")
    with connect(load_settings(home=tmp_path)) as wh:
        assert wh.migrate(ddl) == ["001_first.sql"]
        (ddl / "001_first.sql").write_text("CREATE TABLE IF NOT EXISTS FIRST_THING (X INTEGER, Y INTEGER);")
        with pytest.raises(WarehouseError, match="changed after it was applied"):
            wh.migrate(ddl)


def test_export_parquet_writes_utc_timestamps_atomically(wh_backend: Warehouse, tmp_path: Path) -> None:
    wh_backend.upsert("STREAM_EVENTS", [{"event_id": f"e{i}", "track_id": "t1", "territory": "US",
                                         "event_ts": dt.datetime(2026, 10, 31, 23, 59, 59), "ms_played": 31000}
                                        for i in range(3)])
    out = tmp_path / "export" / "events.parquet"
    n = wh_backend.export_parquet("SELECT * FROM STREAM_EVENTS WHERE TERRITORY = :t", out, {"t": "US"})
    table = pq.read_table(out)
    assert n == 3 and table.num_rows == 3
    assert table.schema.field("EVENT_TS").type == pa.timestamp("us", tz="UTC")
    assert table.column("EVENT_TS")[0].as_py() == dt.datetime(2026, 10, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert not list(out.parent.glob(".*tmp"))


def test_a_missing_query_parameter_is_named(wh_backend: Warehouse) -> None:
    with pytest.raises(WarehouseError, match="missing query parameter.*genre"):
        wh_backend.query("SELECT * FROM PROMPT_CATALOG WHERE GENRE = :genre", {"mood": "dark"})


def test_an_unreachable_snowflake_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(home=tmp_path, warehouse_url="snowflake://svc@acme/DB/SC", snowflake_password="pw",
                             snowflake_host="127.0.0.1", snowflake_port=port, snowflake_protocol="http",
                             snowflake_login_timeout_s=3)
    with pytest.raises(WarehouseError, match="cannot reach the Snowflake warehouse") as err:
        connect(settings)
    assert "pw" not in str(err.value).split("account")[0]


def test_a_locked_duckdb_file_is_waited_for_then_reported(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
                               "print('held', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        from maestro_core.warehouse.duckdb_backend import DuckDBWarehouse

        with pytest.raises(WarehouseError, match="cannot open the DuckDB warehouse"):
            DuckDBWarehouse(str(path), lock_timeout_s=0.5)
    finally:
        holder.kill()
        holder.wait()
    DuckDBWarehouse(str(path), lock_timeout_s=5).close()


def test_a_duckdb_warehouse_loads_more_than_its_memory_limit_by_spilling_beside_its_file(tmp_path: Path) -> None:
    """MAESTRO_DUCKDB_MEMORY_LIMIT bounds what DuckDB holds in the process: a batched load of about 80 MB under a
    64 MiB limit commits whole while DuckDB's memory stays under the limit and the rest goes to PATH.tmp."""
    settings = load_settings(home=tmp_path, duckdb_memory_limit="64MiB")
    memory: list[tuple[int, int]] = []
    with connect(settings) as wh:
        wh.migrate()
        assert wh.scalar("SELECT current_setting('memory_limit')") == "64.0 MiB"
        usage = "SELECT SUM(memory_usage_bytes)::BIGINT, SUM(temporary_storage_bytes)::BIGINT FROM duckdb_memory()"

        def batches():
            for b in range(10):
                yield {"RIGHTS_HOLDERS": [{"holder_id": f"h{b}_{i:04d}", "name": f"{i:04d}" + "x" * 4000,
                                           "kind": "artist"} for i in range(2000)]}
                memory.append(wh.query(usage).to_pylist()[0].values())

        [result] = wh.upsert_batches(batches())
        assert (result.inserted, wh.scalar("SELECT COUNT(*) FROM RIGHTS_HOLDERS")) == (20_000, 20_000)
        assert wh.scalar("SELECT COUNT(DISTINCT HOLDER_ID) FROM RIGHTS_HOLDERS WHERE LENGTH(NAME) = 4004") == 20_000
    held, spilled = zip(*(tuple(m) for m in memory), strict=True)
    assert max(held) <= 64 * 2**20 and max(spilled) > 0, memory
    with connect(load_settings(home=tmp_path, warehouse_url="duckdb:///:memory:",
                               duckdb_memory_limit="64MiB")) as wh:  # nowhere to spill: DuckDB's own default
        assert wh.scalar("SELECT current_setting('memory_limit')") != "64.0 MiB"


def test_binds_follow_the_generated_text_even_inside_ctes(wh_backend: Warehouse) -> None:
    got = wh_backend.query("WITH P AS (SELECT :lo AS LO) SELECT LO, :label AS LABEL, :lo + 1 AS NEXT FROM P",
                           {"lo": 7, "label": "seven"}).to_pylist()[0]
    assert (got["LO"], got["LABEL"], got["NEXT"]) == (7, "seven", 8)


def test_a_lookup_by_ids_spans_several_in_lists_and_drops_duplicates(warehouse_duckdb: Warehouse) -> None:
    from maestro_core.warehouse.base import IN_LIST_CHUNK

    count = IN_LIST_CHUNK + 50  # two statements
    now = dt.datetime(2026, 11, 15, 12, 0)
    warehouse_duckdb.upsert("GENERATION_REQUESTS", [
        {"REQUEST_ID": f"q{i:04d}", "RUN_ID": "run", "PROMPT_ID": "p", "PLAYLIST_ID": None, "ORDINAL": i,
         "SEED": i, "STATUS": "planned", "REASONS": None, "UPDATED_AT": now} for i in range(count)])
    ids = [f"q{i:04d}" for i in range(count)] + ["q0000", "q0001", "unknown"]
    rows = warehouse_duckdb.query_file_for_ids("pipeline/requests_by_id.sql", ids, bind="r")
    assert sorted(r["REQUEST_ID"] for r in rows) == [f"q{i:04d}" for i in range(count)]
    assert warehouse_duckdb.query_file_for_ids("pipeline/requests_by_id.sql", [], bind="r") == []
