"""The warehouse interface shared by both backends: queries, transactions, migrations and MERGE-based loads.

A backend supplies five primitives (run one statement, fetch Arrow, stage an Arrow table, begin/commit/rollback);
everything users call is written once here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from maestro_core import schema
from maestro_core.atomic import atomic_path
from maestro_core.errors import SchemaViolation, WarehouseError
from maestro_core.warehouse.dialect import Statement, translate
from maestro_core.warehouse.rows import conform, refuse_duplicate_keys

log = logging.getLogger(__name__)

Params = Mapping[str, Any] | Sequence[Any] | None
IN_LIST_CHUNK = 400  # ids per IN list of Warehouse.query_file_for_ids: small statements, well under any bind limit
MIGRATIONS_TABLE = "MAESTRO_MIGRATIONS"
_MIGRATIONS_DDL = f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    VERSION INTEGER NOT NULL, NAME VARCHAR NOT NULL, SHA256 VARCHAR NOT NULL, APPLIED_AT TIMESTAMP_NTZ NOT NULL,
    PRIMARY KEY (VERSION))"""


@dataclass(frozen=True)
class UpsertResult:
    """Row counts of one MERGE: ``unchanged`` rows matched their key and equal values, so were not touched."""

    table: str
    inserted: int
    updated: int
    unchanged: int

    @property
    def changed(self) -> int:
        return self.inserted + self.updated


@dataclass
class _Staged:
    """One table's stage while :meth:`Warehouse.upsert_batches` fills it: its columns, rows and natural keys."""

    table: schema.Table
    stage: str
    columns: list[str] = dataclasses.field(default_factory=list)
    rows: int = 0
    keys: list[pa.Table] = dataclasses.field(default_factory=list)


class Warehouse:
    """One open connection to a warehouse. Use as a context manager; open one per unit of work.

    SQL passed in is Snowflake dialect with named binds (``:name``) and a ``params`` mapping.
    """

    backend: str = ""
    #: Whether DDL can run inside a transaction (DuckDB: yes; Snowflake: DDL commits implicitly).
    transactional_ddl: bool = True
    #: Whether a MERGE may run inside an explicit transaction. Snowflake allows it, but fakesnow (the Snowflake
    #: stand-in of the tests and the compose stack) implements MERGE with a temporary table it cannot create there,
    #: so inside a transaction that backend applies the same upsert as UPDATE ... FROM plus INSERT ... SELECT.
    merge_in_transaction: bool = True

    def __init__(self) -> None:
        self._tx_depth = 0
        self._stage_seq = 0

    # --- backend primitives -------------------------------------------------------------------------------------
    def _run(self, sql: str, values: list[Any]) -> int:
        raise NotImplementedError

    def _fetch(self, sql: str, values: list[Any]) -> pa.Table:
        raise NotImplementedError

    def _stage(self, name: str, data: pa.Table, table: schema.Table) -> None:
        """Creates temporary table ``name`` with ``table``'s column types (JSON parsed) holding ``data``."""
        raise NotImplementedError

    def _begin(self) -> None:
        self._run("BEGIN TRANSACTION", [])

    def _commit(self) -> None:
        self._run("COMMIT", [])

    def _rollback(self) -> None:
        self._run("ROLLBACK", [])

    def close(self) -> None:
        raise NotImplementedError

    # --- public interface ---------------------------------------------------------------------------------------
    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _statements(self, sql: str) -> tuple[Statement, ...]:
        return translate(sql, self.backend)

    def execute(self, sql: str, params: Params = None) -> int:
        """Runs one or more statements; returns the row count the last one reports (or -1)."""
        count = -1
        for stmt in self._statements(sql):
            count = self._run(stmt.sql, stmt.values(params))
        return count

    def query(self, sql: str, params: Params = None) -> pa.Table:
        """Runs one SELECT and returns its rows as an Arrow table (column names upper case)."""
        statements = self._statements(sql)
        if len(statements) != 1:
            raise WarehouseError(f"query() takes exactly one statement, got {len(statements)}")
        result = self._fetch(statements[0].sql, statements[0].values(params))
        return result.rename_columns([c.upper() for c in result.column_names])

    def query_file(self, relative_path: str, params: Params = None, **parts: str | int) -> pa.Table:
        """Runs the query in ``sql/<relative_path>``, its placeholders filled from ``parts`` (see :func:`read_sql`)."""
        return self.query(read_sql(relative_path, **parts), params)

    def query_file_for_ids(self, relative_path: str, ids: Sequence[str], *, bind: str,
                           params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``sql/<relative_path>`` for ``ids`` (duplicates dropped), in statements of at most
        :data:`IN_LIST_CHUNK` ids: the file's ``{ids: :<bind>#}`` placeholder takes each chunk's ids as the binds
        ``<bind>0``, ``<bind>1``, ...; ``params`` are its other binds. No ids, no statement."""
        unique = list(dict.fromkeys(ids))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(unique), IN_LIST_CHUNK):
            chunk = unique[start:start + IN_LIST_CHUNK]
            binds = {**(params or {}), **{f"{bind}{i}": value for i, value in enumerate(chunk)}}
            rows.extend(self.query_file(relative_path, binds, ids=len(chunk)).to_pylist())
        return rows

    def execute_file(self, relative_path: str, params: Params = None, **parts: str | int) -> int:
        """Runs the statement(s) in ``sql/<relative_path>`` (placeholders: :func:`read_sql`); returns the row count."""
        return self.execute(read_sql(relative_path, **parts), params)

    def scalar(self, sql: str, params: Params = None) -> Any:
        """The first column of the first row of a SELECT, or None when it returns no row."""
        table = self.query(sql, params)
        return table.column(0)[0].as_py() if table.num_rows else None

    def scalar_file(self, relative_path: str, params: Params = None, **parts: str | int) -> Any:
        """:meth:`scalar` of the query in ``sql/<relative_path>`` (placeholders: :func:`read_sql`)."""
        return self.scalar(read_sql(relative_path, **parts), params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All work inside commits together or not at all. Nested use joins the outer transaction."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        self._begin()
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self._tx_depth = 0
            try:
                self._rollback()
            except Exception:  # the original error matters more than a failed rollback
                log.exception("rollback failed")
            raise
        self._tx_depth = 0
        self._commit()

    def table_exists(self, name: str) -> bool:
        sql = "SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE UPPER(TABLE_NAME) = :name"
        return bool(self.scalar(sql, {"name": name.upper()}))

    # --- migrations -----------------------------------------------------------------------------------------------
    def migrate(self, ddl_dir: Path | None = None) -> list[str]:
        """Applies each ``NNN_name.sql`` not applied yet, each in its own transaction; returns those applied.

        Applying twice is a no-op. A file whose text changed after it was applied is refused. On DuckDB DDL is
        transactional, so a file that fails halfway leaves nothing behind; on Snowflake DDL commits implicitly,
        which is why every statement is written ``IF NOT EXISTS`` and can be re-applied after a fix.
        """
        self.execute(_MIGRATIONS_DDL)
        applied = {row["VERSION"]: row for row in self.query(f"SELECT VERSION, NAME, SHA256 FROM {MIGRATIONS_TABLE}")
                   .to_pylist()}
        done = []
        for path in schema.migration_files(ddl_dir or schema.DDL_DIR):
            version = int(path.name[:3])
            text = path.read_text()
            digest = hashlib.sha256(text.encode()).hexdigest()
            if version in applied:
                if applied[version]["SHA256"] != digest:
                    raise WarehouseError(f"migration {path.name} changed after it was applied; add a new migration "
                                         f"file instead of editing an applied one")
                continue
            record = (f"INSERT INTO {MIGRATIONS_TABLE} (VERSION, NAME, SHA256, APPLIED_AT) "
                      "VALUES (:v, :n, :s, CURRENT_TIMESTAMP())")
            try:
                if self.transactional_ddl:
                    with self.transaction():
                        self.execute(text)
                        self.execute(record, {"v": version, "n": path.name, "s": digest})
                else:
                    self.execute(text)
                    self.execute(record, {"v": version, "n": path.name, "s": digest})
            except WarehouseError as exc:
                undone = "was rolled back" if self.transactional_ddl else "stopped; it is safe to re-apply after a fix"
                raise WarehouseError(f"migration {path.name} failed and {undone}: {exc}") from None
            log.info("migration applied", extra={"migration": path.name})
            done.append(path.name)
        return done

    def pending_migrations(self, ddl_dir: Path | None = None) -> list[str]:
        """Names of the migration files not applied yet (every one, on a warehouse never migrated). Writes nothing."""
        try:
            applied = {int(r["VERSION"]) for r in self.query(f"SELECT VERSION FROM {MIGRATIONS_TABLE}").to_pylist()}
        except WarehouseError:  # no migrations table: never initialised
            applied = set()
        return [p.name for p in schema.migration_files(ddl_dir or schema.DDL_DIR) if int(p.name[:3]) not in applied]

    # --- loads ----------------------------------------------------------------------------------------------------
    def upsert(self, table_name: str, data: pa.Table | Sequence[Mapping[str, Any]]) -> UpsertResult:
        """Loads rows and MERGEs them on the table's natural key (its PRIMARY KEY in the DDL).

        Rows are validated first (unknown columns, nulls in NOT NULL columns, uncastable values) and a load with
        duplicate natural keys is refused, naming the keys: a MERGE with duplicate source keys is ambiguous (and
        fails on Snowflake). Rows whose values all equal the stored ones are left untouched, so a rerun changes
        nothing.

        Raises:
            SchemaViolation: naming the table and column at fault.
        """
        return self.upsert_many({table_name: data})[0]

    def upsert_many(self, loads: Mapping[str, pa.Table | Sequence[Mapping[str, Any]]]) -> list[UpsertResult]:
        """Like :meth:`upsert` for several tables, all MERGEs committed in one transaction.

        Every load is validated and staged before the transaction opens (Snowflake commits implicitly on DDL,
        and creating a staging table is DDL), so either all tables change or none does.
        """
        return self.upsert_batches([loads])

    def upsert_batches(self, batches: Iterable[Mapping[str, pa.Table | Sequence[Mapping[str, Any]]]]
                       ) -> list[UpsertResult]:
        """:meth:`upsert_many` of loads that arrive in batches (``{table: rows}`` each), all committed at once.

        Each batch is validated and appended to its table's stage as it arrives, so the caller holds one batch at a
        time however large the load (the driver's load of a 10,000-track run streams its result rows this way);
        natural keys are checked across all batches. Only when every batch is staged does the one transaction of
        MERGEs run: all tables change or none does. Results come in the order the tables first appear.

        Raises:
            SchemaViolation: a batch breaks the table's schema, a natural key occurs twice in the whole load, or a
                table's batches do not all have the same columns.
        """
        if self._tx_depth and not self.transactional_ddl:
            raise WarehouseError("on Snowflake, load inside one upsert_many() rather than inside transaction(): "
                                 "staging is DDL and would commit the open transaction")
        staged: dict[str, _Staged] = {}
        try:
            for batch in batches:
                for name, data in batch.items():
                    table = schema.table(name)
                    if name not in staged:
                        self._stage_seq += 1
                        staged[name] = _Staged(table, f"MAESTRO_STAGE_{table.name}_{self._stage_seq}")
                    self._append(staged[name], conform(table, data))
            for entry in staged.values():
                if entry.keys:
                    refuse_duplicate_keys(entry.table, pa.concat_tables(entry.keys))
            # One MERGE is atomic by itself; several need a transaction around them.
            atomic = self.transaction() if len(staged) > 1 or self.transactional_ddl else contextlib.nullcontext()
            with atomic:
                use_merge = self.merge_in_transaction or not self._tx_depth
                results = [self._merge(e.table, e.columns, e.rows, e.stage, use_merge) for e in staged.values()]
        finally:
            for entry in staged.values():
                self.execute(f"DROP TABLE IF EXISTS {entry.stage}")
        for r in results:
            log.info("upsert", extra={"table": r.table, "inserted": r.inserted, "updated": r.updated,
                                      "unchanged": r.unchanged})
        return results

    def _append(self, entry: _Staged, rows: pa.Table) -> None:
        """Adds conformed ``rows`` to ``entry``'s stage: the first batch creates it, later ones are inserted."""
        if not rows.num_rows:
            return
        if entry.rows and rows.column_names != entry.columns:
            raise SchemaViolation(entry.table.name, ",".join(rows.column_names),
                                  f"a batch of this load has other columns than the first ({entry.columns})")
        if not entry.rows:
            self._stage(entry.stage, rows, entry.table)
        else:
            part = f"{entry.stage}_PART"
            self._stage(part, rows, entry.table)
            try:
                columns = ", ".join(rows.column_names)
                self.execute(f"INSERT INTO {entry.stage} ({columns}) SELECT {columns} FROM {part}")
            finally:
                self.execute(f"DROP TABLE IF EXISTS {part}")
        entry.columns = rows.column_names
        entry.rows += rows.num_rows
        if entry.table.primary_key:
            entry.keys.append(rows.select(list(entry.table.primary_key)))

    def _merge(self, table: schema.Table, cols: list[str], count: int, stage: str,
               use_merge: bool = True) -> UpsertResult:
        """Applies the ``count`` staged rows (columns ``cols``): changed rows are updated, new rows inserted,
        equal rows left alone.

        ``use_merge`` False applies the same change as ``UPDATE ... FROM`` then ``INSERT ... SELECT``: two
        statements with MERGE's effect, for a transaction on a backend that cannot MERGE inside one.
        """
        if count == 0:
            return UpsertResult(table.name, 0, 0, 0)
        keys = table.primary_key
        on = " AND ".join(f"T.{k} = S.{k}" for k in keys)
        values = [c for c in cols if c not in keys]
        differs = " OR ".join(f"NOT EQUAL_NULL(T.{c}, S.{c})" for c in values) or "FALSE"
        inserted = int(self.scalar(f"SELECT COUNT(*) FROM {stage} S WHERE NOT EXISTS "
                                   f"(SELECT 1 FROM {table.name} T WHERE {on})"))
        updated = int(self.scalar(f"SELECT COUNT(*) FROM {stage} S JOIN {table.name} T ON {on} WHERE {differs}"))
        assignments = ", ".join(f"{c} = S.{c}" for c in values)
        if (inserted or updated) and use_merge:
            update = f"WHEN MATCHED AND ({differs}) THEN UPDATE SET {assignments}" if values else ""
            self.execute(
                f"MERGE INTO {table.name} T USING {stage} S ON {on} {update} "
                f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) VALUES ({', '.join('S.' + c for c in cols)})"
            )
        elif inserted or updated:
            if updated:
                self.execute(f"UPDATE {table.name} T SET {assignments} FROM {stage} S WHERE {on} AND ({differs})")
            if inserted:
                self.execute(f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join('S.' + c for c in cols)} "
                             f"FROM {stage} S WHERE NOT EXISTS (SELECT 1 FROM {table.name} T WHERE {on})")
        return UpsertResult(table.name, inserted, updated, count - inserted - updated)

    def export_parquet(self, sql: str, path: str | Path, params: Params = None, batch_rows: int = 1_000_000) -> int:
        """Writes the result of a SELECT to one Parquet file (atomically); returns the row count.

        Timestamps are written as ``timestamp[us, tz=UTC]`` (what Spark reads as instants).
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = _timestamps_to_utc(self.query(sql, params))
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, row_group_size=batch_rows)
        return table.num_rows


def _timestamps_to_utc(table: pa.Table) -> pa.Table:
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp("us")).cast(
                pa.timestamp("us", tz="UTC")))
    return table


_SQL_NAME = re.compile(r"[\w\-/]+\.sql")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}")
_MAX_INCLUDE_DEPTH = 4  # sql/ files included within included files; deeper means a file includes itself


def read_sql(relative_path: str, **parts: str | int) -> str:
    """Text of ``sql/<relative_path>``, its placeholders filled from ``parts``; refuses paths outside ``sql/``.

    Values always travel as binds (``:name``). Placeholders are for the little a bind cannot carry, and each is
    checked so that no part can add SQL of its own (``--`` comment lines are left as written):

    * ``{name}``: ``parts[name]`` is an identifier (a table name the caller takes from a fixed list, such as
      ``schema.tables()``), or the name of another file under ``sql/`` (``"analytics/x.sql"``), whose text is
      put in its place (a CTE body, the query a table is created from). An included file's own placeholders are
      filled from the same ``parts`` (up to :data:`_MAX_INCLUDE_DEPTH` files deep); every part must be used
      somewhere in the composed text.
    * ``{name: PATTERN}``: ``PATTERN``, written in the file, repeated ``parts[name]`` times (an int >= 1) and
      comma-separated, with ``#`` replaced by the repetition's index 0, 1, ...: ``IN ({ids: :r#})`` with
      ``ids=3`` reads ``IN (:r0, :r1, :r2)``, and the caller binds ``r0``, ``r1`` and ``r2``.

    Raises:
        WarehouseError: naming the file, when it does not exist, or when a part is missing, unused or not of the
            kind its placeholder takes.
    """
    used: set[str] = set()
    text = _compose(relative_path, parts, used, depth=0)
    unused = sorted(set(parts) - used)
    if unused:
        raise WarehouseError(f"sql/{relative_path} has no placeholder for part(s) {', '.join(unused)}")
    return text


def _compose(relative_path: str, parts: Mapping[str, str | int], used: set[str], depth: int) -> str:
    """:func:`read_sql`'s work on one file: its placeholders filled, included files composed in turn; the names of
    the parts it used are added to ``used``."""
    if not _SQL_NAME.fullmatch(relative_path) or ".." in relative_path:
        raise WarehouseError(f"not a SQL file name under sql/: {relative_path!r}")
    if depth > _MAX_INCLUDE_DEPTH:
        raise WarehouseError(f"sql/{relative_path}: included more than {_MAX_INCLUDE_DEPTH} files deep (a file "
                             "that includes itself?)")
    path = schema.SQL_DIR / relative_path
    if not path.is_file():
        raise WarehouseError(f"no SQL file sql/{relative_path}")
    text = path.read_text()

    def fill(match: re.Match[str]) -> str:
        name, pattern = match[1], match[2]
        if name not in parts:
            raise WarehouseError(f"sql/{relative_path} needs part {name!r} for its placeholder {match[0]}")
        used.add(name)
        value = parts[name]
        if pattern is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WarehouseError(f"sql/{relative_path}: part {name!r} repeats {pattern.strip()!r} and must be "
                                     f"a count >= 1, got {value!r}")
            return ", ".join(pattern.strip().replace("#", str(i)) for i in range(value))
        if isinstance(value, str) and _SQL_NAME.fullmatch(value):
            return _compose(value, parts, used, depth + 1)
        if isinstance(value, str) and _IDENTIFIER.fullmatch(value):
            return value
        raise WarehouseError(f"sql/{relative_path}: part {name!r} must be an identifier or a file under sql/, "
                             f"got {value!r}")

    lines = [line if line.lstrip().startswith("--") else _PLACEHOLDER.sub(fill, line)
             for line in text.splitlines(keepends=True)]
    return "".join(lines)
