"""The warehouse schema, read from the DDL in ``sql/ddl`` (the single source): Arrow schemas and natural keys.

The migrations are parsed with sqlglot in Snowflake's dialect, in order, so a later ``ALTER TABLE ... ADD COLUMN``
is reflected too. Type mapping to Arrow:

==========================  ==================================
Snowflake                   Arrow
==========================  ==================================
VARCHAR, TEXT, STRING       string
INTEGER, BIGINT, NUMBER(p)  int64
NUMBER(p, s) with s > 0     decimal128(p, s)
FLOAT, DOUBLE               float64
BOOLEAN                     bool
DATE                        date32
TIMESTAMP_NTZ               timestamp[us] (UTC by convention)
TIMESTAMP_TZ                timestamp[us, tz=UTC]
VARIANT, ARRAY, OBJECT      string holding JSON text
==========================  ==================================
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import sqlglot
from sqlglot import exp

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
DDL_DIR = SQL_DIR / "ddl"

JSON_TYPES = {exp.DataType.Type.VARIANT, exp.DataType.Type.ARRAY, exp.DataType.Type.OBJECT}


@dataclass(frozen=True)
class Column:
    """One column: upper-case name, Snowflake type text, whether NULL is allowed, and its Arrow type."""

    name: str
    sql_type: str
    nullable: bool
    arrow_type: pa.DataType

    @property
    def is_json(self) -> bool:
        return self.sql_type.split("(")[0] in ("VARIANT", "ARRAY", "OBJECT")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def row(self, **values: object) -> dict[str, object]:
        """A row of this table for a MERGE: the given columns in DDL order, checked against the DDL.

        Columns left out stay out (a MERGE leaves them as they are), so a partial row is allowed as long as every
        NOT NULL column is given.

        Raises:
            KeyError: a name that is not a column, or a NOT NULL column that is missing or None.
        """
        names = {c.name for c in self.columns}
        unknown = sorted(set(values) - names)
        missing = [c.name for c in self.columns if not c.nullable and values.get(c.name) is None]
        if unknown or missing:
            raise KeyError(f"{self.name}: not columns {unknown}, NOT NULL but missing {missing}")
        return {c.name: values[c.name] for c in self.columns if c.name in values}


def _arrow_type(dtype: exp.DataType) -> pa.DataType:
    t = dtype.this
    params = [int(p.name) for p in dtype.expressions if p.name.isdigit()] if dtype.expressions else []
    if t in JSON_TYPES:
        return pa.string()
    if t in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR, exp.DataType.Type.NVARCHAR):
        return pa.string()
    if t in (exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.TINYINT):
        return pa.int64()
    if t == exp.DataType.Type.DECIMAL:
        precision, scale = (params + [38, 0])[:2] if params else (38, 0)
        if len(params) == 1:
            scale = 0
        return pa.int64() if scale == 0 else pa.decimal128(precision, scale)
    if t in (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE):
        return pa.float64()
    if t == exp.DataType.Type.BOOLEAN:
        return pa.bool_()
    if t == exp.DataType.Type.DATE:
        return pa.date32()
    if t in (exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
        return pa.timestamp("us")
    if t in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ):
        return pa.timestamp("us", tz="UTC")
    raise ValueError(f"no Arrow mapping for SQL type {dtype.sql('snowflake')}")


def _column(defn: exp.ColumnDef) -> tuple[Column, bool]:
    name = defn.name.upper()
    kind = defn.args["kind"]
    constraints = [c.args.get("kind") for c in defn.args.get("constraints") or []]
    not_null = any(isinstance(c, exp.NotNullColumnConstraint) and not c.args.get("allow_null") for c in constraints)
    is_pk = any(isinstance(c, exp.PrimaryKeyColumnConstraint) for c in constraints)
    col = Column(name, kind.sql("snowflake").upper(), not (not_null or is_pk), _arrow_type(kind))
    return col, is_pk


def parse_ddl(statements: str, tables: dict[str, Table] | None = None) -> dict[str, Table]:
    """Applies CREATE TABLE and ALTER TABLE ADD COLUMN statements to ``tables`` and returns the result."""
    tables = dict(tables or {})
    for stmt in sqlglot.parse(statements, read="snowflake"):
        if isinstance(stmt, exp.Create) and stmt.kind == "TABLE":
            schema = stmt.this
            name = schema.this.name.upper()
            columns: list[Column] = []
            pk: list[str] = []
            for item in schema.expressions:
                if isinstance(item, exp.ColumnDef):
                    col, is_pk = _column(item)
                    columns.append(col)
                    if is_pk:
                        pk.append(col.name)
                elif isinstance(item, exp.PrimaryKey):
                    pk.extend(e.name.upper() for e in item.expressions)
            pk_set = set(pk)
            columns = [Column(c.name, c.sql_type, False, c.arrow_type) if c.name in pk_set else c for c in columns]
            tables.setdefault(name, Table(name, tuple(columns), tuple(pk)))
        elif isinstance(stmt, exp.Alter) and stmt.args.get("kind") == "TABLE":
            name = stmt.this.name.upper()
            for action in stmt.args.get("actions") or []:
                if isinstance(action, exp.ColumnDef) and name in tables:
                    col, _ = _column(action)
                    table = tables[name]
                    if col.name not in {c.name for c in table.columns}:
                        tables[name] = Table(name, table.columns + (col,), table.primary_key)
    return tables


def migration_files(ddl_dir: Path = DDL_DIR) -> list[Path]:
    """The migration files ``NNN_name.sql`` in version order."""
    return sorted(p for p in ddl_dir.glob("[0-9][0-9][0-9]_*.sql"))


@functools.cache
def tables() -> dict[str, Table]:
    """Every table the migrations define, by upper-case name."""
    result: dict[str, Table] = {}
    for path in migration_files():
        result = parse_ddl(path.read_text(), result)
    return result


def table(name: str) -> Table:
    try:
        return tables()[name.upper()]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; known tables: {', '.join(sorted(tables()))}") from None


def arrow_schema(name: str) -> pa.Schema:
    """Arrow schema of a warehouse table (columns in DDL order)."""
    return table(name).arrow_schema


def primary_key(name: str) -> tuple[str, ...]:
    """The natural key the warehouse MERGEs on."""
    return table(name).primary_key
