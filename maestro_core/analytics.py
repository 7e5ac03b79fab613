"""Named analytics queries: the SQL files in ``sql/analytics/``, listed, parameterised, run and materialized.

Each file starts with a header that documents it::

    -- name: top_tracks_by_streams
    -- description: The most streamed tracks ...
    -- param: start_date date - first day, YYYY-MM-DD
    -- param: top_n int 20 - how many tracks          (type: str | int | date | month; a default is optional)
    -- materialize: yes                                (the daily refresh DAG stores it as ANALYTICS_<NAME>)

The SQL is Snowflake's dialect and runs unchanged on DuckDB (through the warehouse layer's transpile) and on
Snowflake (tested through fakesnow).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from maestro_core.atomic import atomic_path
from maestro_core.errors import InputError
from maestro_core.schema import SQL_DIR
from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)

ANALYTICS_DIR = SQL_DIR / "analytics"
PARAM_TYPES = ("str", "int", "date", "month")
FORMATS = ("table", "csv", "parquet")
_HEADER = re.compile(r"--\s*(name|description|param|materialize):\s*(.*)")
_PARAM = re.compile(rf"(\w+)\s+({'|'.join(PARAM_TYPES)})(?:\s+(\S+))?\s+-\s+(.*)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # fromisoformat alone also takes '20261120', '2026-W47-5'
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])", re.ASCII)
_ACCEPTED = {"int": "an integer", "date": "a date YYYY-MM-DD", "month": "a month YYYY-MM"}


@dataclass(frozen=True)
class QueryParam:
    """One bind of a named query: ``:name`` in the SQL, its type and optional default (as text)."""

    name: str
    type: str
    default: str | None
    description: str

    def convert(self, raw: str) -> Any:
        """The bind value for ``raw`` text: ``int``, ``date`` (a ``datetime.date``), ``month`` or ``str`` as text.

        Raises:
            InputError: naming the parameter when ``raw`` does not parse as its type (dates and months must be
                written exactly ``YYYY-MM-DD`` and ``YYYY-MM``).
        """
        try:
            if self.type == "int":
                return int(raw)
            if self.type == "date":
                if not _DATE.fullmatch(raw):
                    raise ValueError(raw)
                return date.fromisoformat(raw)
            if self.type == "month" and not _MONTH.fullmatch(raw):
                raise ValueError(raw)
        except ValueError:
            raise InputError(self.name, f"{raw!r} is not {_ACCEPTED[self.type]}") from None
        return raw


@dataclass(frozen=True)
class NamedQuery:
    """A documented query file of ``sql/analytics``."""

    name: str
    description: str
    params: tuple[QueryParam, ...]
    materialize: bool
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def table_name(self) -> str:
        """Where the refresh DAG materializes it."""
        return f"ANALYTICS_{self.name.upper()}"

    def bind(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """Bind values from text (CLI ``--param k=v``), defaults filled in.

        Raises:
            InputError: naming an unknown or missing parameter, or one that does not parse.
        """
        known = {p.name for p in self.params}
        unknown = sorted(set(raw) - known)
        if unknown:
            accepted = ", ".join(sorted(known)) or "none"
            raise InputError(unknown[0], f"is not a parameter of {self.name}; accepted: {accepted}")
        values = {}
        for p in self.params:
            text = raw.get(p.name, p.default)
            if text is None:
                raise InputError(p.name, f"is required by {self.name} ({p.type}: {p.description})")
            values[p.name] = p.convert(text)
        return values


def parse_header(path: Path) -> NamedQuery:
    """Reads a query file's header. Raises InputError naming the file when ``name`` or ``description`` is missing."""
    fields: dict[str, list[str]] = {"name": [], "description": [], "param": [], "materialize": []}
    last = ""
    for line in path.read_text().splitlines():
        if not line.startswith("--"):
            break
        match = _HEADER.match(line)
        if match:
            last = match[1]
            fields[last].append(match[2].strip())
        elif last == "description" and line.startswith("--  "):
            fields["description"][-1] += " " + line[2:].strip()
    if not fields["name"] or not fields["description"]:
        raise InputError(str(path), "query header needs '-- name:' and '-- description:' lines")
    params = []
    for spec in fields["param"]:
        match = _PARAM.fullmatch(spec)
        if not match:
            raise InputError(str(path), f"param line {spec!r} is not 'NAME TYPE [DEFAULT] - DESCRIPTION'")
        params.append(QueryParam(match[1], match[2], match[3], match[4]))
    materialize = (fields["materialize"] or ["no"])[0].lower() in ("yes", "true")
    return NamedQuery(fields["name"][0], fields["description"][0], tuple(params), materialize, path)


def list_queries(directory: Path = ANALYTICS_DIR) -> list[NamedQuery]:
    """All named queries, sorted by name."""
    return sorted((parse_header(p) for p in directory.glob("*.sql")), key=lambda q: q.name)


def get_query(name: str, directory: Path = ANALYTICS_DIR) -> NamedQuery:
    """The named query. Raises InputError naming ``name`` and listing the accepted names."""
    queries = {q.name: q for q in list_queries(directory)}
    if name not in queries:
        raise InputError("name", f"no analytics query {name!r}; accepted: {', '.join(sorted(queries))}")
    return queries[name]


def run_query(wh: Warehouse, name: str, params: Mapping[str, str] | None = None) -> pa.Table:
    """Runs a named query with text parameters (converted by their declared types)."""
    query = get_query(name)
    return wh.query(query.sql, query.bind(params or {}))


def check_output_path(path: Path, field: str = "out") -> Path:
    """``path`` when a result file can go there: not a directory, in a directory that exists.

    Call it before running a query, so a bad target is refused before the warehouse does any work.

    Raises:
        InputError: naming ``field`` (the CLI passes ``--out``).
    """
    if path.is_dir():
        raise InputError(field, f"{path} is a directory; give the path of a file to write")
    if path.exists() and not path.is_file():
        raise InputError(field, f"{path} exists and is not a regular file")
    parent = path.parent
    if not parent.exists():
        raise InputError(field, f"the directory {parent} does not exist")
    if not parent.is_dir():
        raise InputError(field, f"{parent} is not a directory, so {path.name} cannot be written in it")
    return path


def write_result(table: pa.Table, fmt: str, path: Path, field: str = "out") -> Path:
    """Writes a result as ``csv`` or ``parquet`` (temp file + rename).

    Raises:
        InputError: naming ``format`` for other formats, or ``field`` when ``path`` cannot be written.
    """
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if fmt not in ("csv", "parquet"):
        raise InputError("format", f"{fmt!r} cannot be written to a file; accepted: csv, parquet")
    check_output_path(path, field)
    try:
        with atomic_path(path) as tmp:
            (pcsv.write_csv if fmt == "csv" else pq.write_table)(table, tmp)
    except OSError as exc:
        raise InputError(field, f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def materialize(wh: Warehouse, name: str, params: Mapping[str, str] | None = None) -> int:
    """Replaces table ``ANALYTICS_<NAME>`` with the query's current result; returns its row count.

    ``CREATE OR REPLACE TABLE ... AS`` (sql/materialize/replace_table.sql) is one statement, so readers see the old
    or the new table, never half.
    """
    query = get_query(name)
    wh.execute_file("materialize/replace_table.sql", query.bind(params or {}), table=query.table_name,
                    query=query.path.relative_to(SQL_DIR).as_posix())
    rows = int(wh.scalar_file("tables/row_count.sql", table=query.table_name))
    log.info("materialized %s: %d rows", query.table_name, rows)
    return rows


def materialize_heavy(wh: Warehouse) -> dict[str, int]:
    """Materializes every query marked ``materialize: yes`` (none of them take parameters)."""
    return {q.table_name: materialize(wh, q.name) for q in list_queries() if q.materialize}
