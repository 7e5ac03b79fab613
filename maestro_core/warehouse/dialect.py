"""SQL is written once, in Snowflake's dialect, with named binds (``:name``). This module turns it into what a
backend runs: DuckDB gets a sqlglot transpile (VARIANT, ARRAY and OBJECT become DuckDB's JSON), Snowflake gets
the statement as written. Named binds become positional ``?`` binds with their values in order, so values never
enter the SQL text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from maestro_core.errors import WarehouseError

_JSON_TYPES = {exp.DataType.Type.VARIANT, exp.DataType.Type.ARRAY, exp.DataType.Type.OBJECT}


@dataclass(frozen=True)
class Statement:
    """One backend-ready statement and the names of its binds in order (``None`` for an anonymous ``?``)."""

    sql: str
    binds: tuple[str | None, ...]

    def values(self, params: Mapping[str, Any] | Sequence[Any] | None) -> list[Any]:
        """Bind values in order. Raises WarehouseError naming a missing parameter."""
        if not self.binds:
            return []
        if params is None:
            raise WarehouseError(f"query needs parameters {[b for b in self.binds if b]} but none were given")
        if isinstance(params, Mapping):
            missing = [b for b in self.binds if b is not None and b not in params]
            if missing:
                raise WarehouseError(f"missing query parameter(s): {', '.join(sorted(set(missing)))}")
            if None in self.binds:
                raise WarehouseError("mix of named and positional binds is not supported")
            return [params[str(b)] for b in self.binds]
        values = list(params)
        if len(values) != len(self.binds):
            raise WarehouseError(f"query has {len(self.binds)} binds but {len(values)} values were given")
        return values


def _to_duckdb(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this in _JSON_TYPES:
        return exp.DataType.build("JSON")
    return node


_SENTINEL = re.compile(r"[:$@]__mb(\d+)__")


@functools.lru_cache(maxsize=2048)
def translate(sql: str, backend: str) -> tuple[Statement, ...]:
    """Splits ``sql`` into statements for ``backend`` ('duckdb' or 'snowflake'), binds made positional.

    Binds are numbered as they appear in the generated text (a CTE can be generated before the clause that
    holds it in sqlglot's tree), so values always land in the slot the backend reads them from.
    """
    try:
        parsed = [s for s in sqlglot.parse(sql, read="snowflake") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise WarehouseError(f"SQL does not parse in Snowflake's dialect: {exc}") from None
    out = []
    for stmt in parsed:
        names: list[str | None] = []

        def tag(node: exp.Expression, names: list[str | None] = names) -> exp.Expression:
            if isinstance(node, exp.Placeholder):
                names.append(node.name if node.name not in ("", "?") else None)
                return exp.Placeholder(this=f"__mb{len(names) - 1}__")
            return node

        stmt = stmt.transform(tag)
        if backend == "duckdb":
            stmt = stmt.transform(_to_duckdb)
            text = stmt.sql(dialect="duckdb")
        else:
            text = stmt.sql(dialect="snowflake")
        order = [int(m.group(1)) for m in _SENTINEL.finditer(text)]
        if sorted(order) != list(range(len(names))):
            raise WarehouseError(f"could not place the binds of: {sql[:200]}")
        out.append(Statement(_SENTINEL.sub("?", text), tuple(names[i] for i in order)))
    return tuple(out)
