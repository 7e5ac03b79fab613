"""Snowflake through ``snowflake-connector-python`` (also what runs against fakesnow's server in tests).

Binds are server-side (``paramstyle='qmark'``). Loads stage rows with ``executemany``, which the connector turns
into array binding (and, above its threshold, a temporary-stage upload) on real Snowflake, then MERGE.
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from maestro_core import schema
from maestro_core.errors import WarehouseError
from maestro_core.warehouse.base import Warehouse

log = logging.getLogger(__name__)
_LOAD_CHUNK = 50_000


class SnowflakeWarehouse(Warehouse):
    backend = "snowflake"
    transactional_ddl = False
    merge_in_transaction = False

    def __init__(self, connect_args: dict[str, Any]) -> None:
        super().__init__()
        import snowflake.connector

        args = {**connect_args, "paramstyle": "qmark",
                "autocommit": True}
        database, schema_name = args.get("database"), args.get("schema")
        try:
            self._conn = snowflake.connector.connect(**args)
        except snowflake.connector.errors.Error as exc:
            # Never echo connect_args: they hold secrets.
            raise WarehouseError(f"cannot reach the Snowflake warehouse (account {args.get('account')!r}): "
                                 f"{type(exc).__name__}: {exc.msg if hasattr(exc, 'msg') else exc}") from None
        self._cur = self._conn.cursor()
        if database and schema_name:
            self._run(f"CREATE DATABASE IF NOT EXISTS {database}", [])
            self._run(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema_name}", [])
            self._run(f"USE SCHEMA {database}.{schema_name}", [])

    def _run(self, sql: str, values: list[Any]) -> int:
        import snowflake.connector

        try:
            self._cur.execute(sql, values or None)
        except snowflake.connector.errors.Error as exc:
            raise WarehouseError(f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}") from None
        return self._cur.rowcount if self._cur.rowcount is not None else -1

    def _fetch(self, sql: str, values: list[Any]) -> pa.Table:
        import snowflake.connector

        try:
            self._cur.execute(sql, values or None)
            table = self._cur.fetch_arrow_all(force_return_table=True)
        except snowflake.connector.errors.Error as exc:
            raise WarehouseError(f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}") from None
        return _strip_field_metadata(table)

    def _stage(self, name: str, data: pa.Table, table: schema.Table) -> None:
        raw = f"{name}_RAW"
        cols = data.column_names
        # Raw text stage, then a typed stage with JSON parsed (PARSE_JSON inside MERGE's INSERT fails on fakesnow).
        self._run(f"CREATE TEMPORARY TABLE {raw} ({', '.join(f'{c} VARCHAR' for c in cols)})", [])
        rows = _as_text_rows(data)
        insert = f"INSERT INTO {raw} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
        import snowflake.connector

        try:
            for start in range(0, len(rows), _LOAD_CHUNK):
                self._cur.executemany(insert, rows[start:start + _LOAD_CHUNK])
        except snowflake.connector.errors.Error as exc:
            raise WarehouseError(f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}") from None
        casts = []
        for c in cols:
            col = table.column(c)
            casts.append(f"PARSE_JSON({c}) AS {c}" if col.is_json else f"CAST({c} AS {col.sql_type}) AS {c}")
        self._run(f"CREATE TEMPORARY TABLE {name} AS SELECT {', '.join(casts)} FROM {raw}", [])
        self._run(f"DROP TABLE IF EXISTS {raw}", [])

    def close(self) -> None:
        self._conn.close()


def _as_text_rows(data: pa.Table) -> list[list[str | None]]:
    columns = []
    for col in data.columns:
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            values = [None if v is None else v.isoformat(sep=" ") if hasattr(v, "hour") else v.isoformat()
                      for v in col.to_pylist()]
        elif pa.types.is_boolean(col.type):
            values = [None if v is None else ("TRUE" if v else "FALSE") for v in col.to_pylist()]
        else:
            values = [None if v is None else str(v) for v in col.to_pylist()]
        columns.append(values)
    return [list(r) for r in zip(*columns, strict=True)]


def _strip_field_metadata(table: pa.Table) -> pa.Table:
    return pa.Table.from_arrays(table.columns, schema=pa.schema([pa.field(f.name, f.type, f.nullable)
                                                                  for f in table.schema]))
