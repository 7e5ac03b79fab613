"""The embedded warehouse: DuckDB in one file (or in memory).

DuckDB lets one process hold a file for writing at a time, so connections are opened per unit of work and an open
that meets another process's lock is retried with backoff for up to ``lock_timeout_s`` seconds.

A file-backed warehouse runs under ``memory_limit`` (``MAESTRO_DUCKDB_MEMORY_LIMIT``, 512 MB by default): past it
DuckDB spills to ``PATH.tmp`` beside the file instead of growing the process. Left to DuckDB's default (80 % of
RAM), the one transaction of a large load keeps everything it touches in the driver: at 30,000 tracks
(``bench/scale.py --requests 30000``) the driver peaked at 1,674 MB, against 1,507 MB under 512 MB and 1,300 MB
under 256 MB, with the load as fast. An in-memory warehouse has nowhere to spill and keeps DuckDB's default.
"""

from __future__ import annotations

import logging
import random
import re
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from maestro_core import schema
from maestro_core.errors import WarehouseError
from maestro_core.warehouse.base import Warehouse

log = logging.getLogger(__name__)


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, path: str, lock_timeout_s: float = 60.0, memory_limit: str = "") -> None:
        super().__init__()
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout_s
        delay = 0.02
        while True:
            try:
                self._conn = duckdb.connect(path)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WarehouseError(f"cannot open the DuckDB warehouse {path}: {exc}") from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
        self._conn.execute("SET TimeZone = 'UTC'")
        if memory_limit and path != ":memory:":
            try:
                self._conn.execute("SET memory_limit = ?", [memory_limit])
            except duckdb.Error as exc:
                self._conn.close()
                raise WarehouseError(f"DuckDB refused memory_limit {memory_limit!r}: {exc}") from None

    def _run(self, sql: str, values: list[Any]) -> int:
        try:
            cur = self._conn.execute(sql, values or None)
        except duckdb.Error as exc:
            raise WarehouseError(f"{type(exc).__name__}: {exc}") from None
        try:
            row = cur.fetchone()
        except duckdb.Error:
            return -1
        return int(row[0]) if row and isinstance(row[0], int) else -1

    def _fetch(self, sql: str, values: list[Any]) -> pa.Table:
        try:
            return self._conn.sql(sql, params=values or None).to_arrow_table()
        except duckdb.Error as exc:
            raise WarehouseError(f"{type(exc).__name__}: {exc}") from None

    def _stage(self, name: str, data: pa.Table, table: schema.Table) -> None:
        view = f"{name}_ARROW"
        self._conn.register(view, data)
        try:
            casts = []
            for col_name in data.column_names:
                col = table.column(col_name)
                target = "JSON" if col.is_json else _duck_type(col)
                casts.append(f"CAST({col_name} AS {target}) AS {col_name}")
            self._run(f"CREATE TEMP TABLE {name} AS SELECT {', '.join(casts)} FROM {view}", [])
        finally:
            self._conn.unregister(view)

    def attach_parquet(self, name: str, path: str | Path) -> None:
        """Makes a Parquet file queryable as table ``name`` (a view; nothing is copied).

        Timestamps stored with a UTC zone read back as the warehouse's ``TIMESTAMP_NTZ`` in UTC, so the same SQL
        runs over an export (``export_parquet``) as over the warehouse it came from.
        """
        import pyarrow.parquet as pq

        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            raise WarehouseError(f"not a table name: {name!r}")
        fields = pq.read_schema(path)
        columns = ", ".join(f'CAST("{f.name}" AS TIMESTAMP) AS "{f.name}"'
                            if pa.types.is_timestamp(f.type) and f.type.tz else f'"{f.name}"' for f in fields)
        location = str(path).replace("'", "''")
        self._run(f"CREATE OR REPLACE VIEW {name} AS SELECT {columns} FROM read_parquet('{location}')", [])

    def close(self) -> None:
        self._conn.close()


def _duck_type(col: schema.Column) -> str:
    from maestro_core.warehouse.dialect import translate

    # Let the same transpiler that runs the DDL decide the DuckDB spelling of the column type.
    stmt = translate(f"SELECT CAST(NULL AS {col.sql_type})", "duckdb")[0].sql
    return stmt.removeprefix("SELECT CAST(NULL AS ").removesuffix(")")
