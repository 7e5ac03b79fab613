"""Validation of rows headed for a warehouse table: names, types, NOT NULL, unique natural keys.

Every load goes through :func:`conform` before anything is written, so a bad row refuses the whole load with a
message naming the table, column and row, and nothing is half-written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from maestro_core import schema
from maestro_core.errors import SchemaViolation


def canonical_json(value: Any) -> str | None:
    """JSON text with sorted keys and no spaces, so equal values compare equal as text."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"not valid JSON: {value[:60]!r}") from None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _as_table(data: pa.Table | Sequence[Mapping[str, Any]], table: schema.Table) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    rows = list(data)
    names = {k.upper() for row in rows for k in row}
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for row in rows:
        upper = {k.upper(): v for k, v in row.items()}
        for n in names:
            columns[n].append(upper.get(n))
    arrays = {}
    for n, values in columns.items():
        try:
            col = table.column(n)
        except KeyError:
            raise SchemaViolation(table.name, n, f"unknown column; columns are {[c.name for c in table.columns]}") \
                from None
        if col.is_json:
            arrays[n] = pa.array([_json_or_fail(table, n, i, v) for i, v in enumerate(values)], pa.string())
        else:
            try:
                arrays[n] = pa.array(values, col.arrow_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
                raise SchemaViolation(table.name, n, f"values do not fit {col.sql_type}: {exc}") from None
    return pa.table(arrays)


def _json_or_fail(table: schema.Table, column: str, row: int, value: Any) -> str | None:
    try:
        return canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise SchemaViolation(table.name, column, f"row {row}: {exc}") from None


def conform(table: schema.Table, data: pa.Table | Sequence[Mapping[str, Any]]) -> pa.Table:
    """Returns ``data`` cast to the table's column types, in DDL order, restricted to the columns given.

    Raises:
        SchemaViolation: unknown column, missing NOT NULL column, null in a NOT NULL column, a value that does not
            fit its type, or a natural key that occurs twice.
    """
    data = _as_table(data, table)
    data = data.rename_columns([c.upper() for c in data.column_names])
    known = {c.name for c in table.columns}
    for name in data.column_names:
        if name not in known:
            raise SchemaViolation(table.name, name, f"unknown column; columns are {sorted(known)}")
    arrays, fields = [], []
    for col in table.columns:
        if col.name not in data.column_names:
            if not col.nullable:
                raise SchemaViolation(table.name, col.name, "required column is missing from the load")
            continue
        values = data.column(col.name)
        if col.is_json:  # canonical text, so a rerun's JSON compares equal to what is stored
            values = pa.chunked_array([pa.array([_json_or_fail(table, col.name, i, v)
                                                 for i, v in enumerate(values.to_pylist())], pa.string())])
        else:
            try:
                values = values.cast(col.arrow_type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise SchemaViolation(table.name, col.name, f"values do not fit {col.sql_type}: {exc}") from None
        if not col.nullable and values.null_count:
            first = pc.index(pc.is_null(values), True).as_py()
            raise SchemaViolation(table.name, col.name, f"NULL in a NOT NULL column (first at row {first})")
        arrays.append(values)
        fields.append(pa.field(col.name, col.arrow_type if not col.is_json else pa.string(), col.nullable))
    result = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    refuse_duplicate_keys(table, result)
    return result


def refuse_duplicate_keys(table: schema.Table, data: pa.Table) -> None:
    """Raises SchemaViolation when a natural key of ``table`` occurs more than once in ``data`` (its key columns)."""
    keys = list(table.primary_key)
    if not keys or data.num_rows < 2:
        return
    counts = data.select(keys).group_by(keys).aggregate([([], "count_all")])
    dupes = counts.filter(pc.greater(counts.column("count_all"), 1))
    if dupes.num_rows:
        sample = [tuple(r[k] for k in keys) for r in dupes.slice(0, 5).to_pylist()]
        raise SchemaViolation(table.name, ",".join(keys),
                              f"{dupes.num_rows} natural key(s) occur more than once in this load, e.g. {sample}; "
                              "deduplicate before loading")
