"""All SQL lives in ``sql/``: no statement is written inline in the Python sources, and every file they name exists.

The warehouse layer (``maestro_core/warehouse``) is exempt from the scan: it keeps its generic MERGE, staging and
migrations-table builders. Tests may write SQL inline.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from maestro_core.errors import WarehouseError
from maestro_core.schema import SQL_DIR
from maestro_core.warehouse import Warehouse, read_sql

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("maestro_core", "inference", "jobs", "maestro_pipeline", "maestro_ai", "dags", "bench")
EXEMPT = ROOT / "maestro_core" / "warehouse"
# A statement's first keyword followed, within the same literal, by a keyword it needs. Upper case only, so prose
# ("MERGE them into the warehouse") does not match; docstrings are not scanned at all.
STATEMENT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|MERGE|CREATE|WITH)\b[^;]{0,200}?"
                       r"\b(FROM|INTO|SET|TABLE|AS|VALUES|USING|WHERE)\b")
SQL_NAME = re.compile(r"[\w\-]+(/[\w\-]+)+\.sql")
FILE_FUNCTIONS = {"query_file", "execute_file", "scalar_file", "read_sql"}


def _python_files(exempt: Path | None = EXEMPT) -> Iterator[Path]:
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            if exempt is None or exempt not in path.parents:
                yield path


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; an f-string's fields read as ``{}``."""
    docstrings = _docstrings(tree)
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstrings.update(id(v) for v in node.values)
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and id(node) not in inside_fstrings):
            yield node.lineno, node.value


def test_no_sql_statement_is_written_inline_in_python() -> None:
    inline = []
    for path in _python_files():
        for line, text in _literals(ast.parse(path.read_text(), str(path))):
            match = STATEMENT.search(text)
            if match:
                inline.append(f"{path.relative_to(ROOT)}:{line}: {match[0][:80]!r}")
    assert not inline, "SQL written inline in Python; move it to a file under sql/:\n" + "\n".join(inline)


def test_the_scan_finds_a_statement_where_there_is_one() -> None:
    tree = ast.parse('sql = f"SELECT * FROM {table}"\nother = "UPDATE T SET A = 1"\nprose = "MERGE them into it"')
    assert [bool(STATEMENT.search(text)) for _, text in _literals(tree)] == [True, True, False]


def _named_sql_files() -> dict[str, list[str]]:
    """Every sql/ name the code uses: arguments of query_file/execute_file/scalar_file/read_sql and literals that
    look like one (``royalties/ledger_keys.sql``), each with where it is used."""
    names: dict[str, list[str]] = {}
    for path in _python_files(exempt=None):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if func in FILE_FUNCTIONS and node.args and isinstance(node.args[0], ast.Constant):
                    names.setdefault(str(node.args[0].value), []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_NAME.fullmatch(node.value):
                names.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return names


def test_every_sql_file_the_code_names_exists() -> None:
    names = _named_sql_files()
    assert len(names) > 40  # the scan itself works
    missing = [f"sql/{name} (used at {', '.join(where)})" for name, where in sorted(names.items())
               if not (SQL_DIR / name).is_file()]
    assert not missing, "\n".join(missing)


def test_every_sql_file_starts_with_a_comment_saying_what_it_is() -> None:
    undocumented = [str(p.relative_to(ROOT)) for p in sorted(SQL_DIR.rglob("*.sql"))
                    if not p.read_text().startswith("-- ")]
    assert not undocumented


# --- placeholders ---------------------------------------------------------------------------------------------


def test_a_repeated_pattern_reads_as_generated_binds() -> None:
    sql = read_sql("pipeline/requests_by_id.sql", ids=3)
    assert "REQUEST_ID IN (:r0, :r1, :r2)" in sql
    rows = read_sql("isrc/register_codes.sql", rows=2)
    assert ("VALUES (:t0, :i0, :prefix, :year, :d0, CURRENT_TIMESTAMP()), "
            "(:t1, :i1, :prefix, :year, :d1, CURRENT_TIMESTAMP())") in rows


def test_an_identifier_or_a_file_fills_a_placeholder() -> None:
    assert "SELECT COUNT(*) FROM TRACKS" in read_sql("tables/row_count.sql", table="TRACKS")
    earning = {"earning": "royalties/earning_pro_rata.sql"}
    composed = read_sql("royalties/statements_from_ledger.sql", ledger="royalties/ledger.sql",
                        statements="royalties/statements.sql", **earning)
    ledger = read_sql("royalties/ledger.sql", **earning)
    assert f"WITH LEDGER AS ({ledger})\n{read_sql('royalties/statements.sql')}" in composed


def test_an_included_file_takes_its_own_parts_from_the_same_parts() -> None:
    parts = {"earning": "royalties/earning_streaming_2024.sql", "activity": "royalties/track_activity.sql"}
    ledger = read_sql("royalties/ledger.sql", **parts)
    assert f"FROM ({read_sql('royalties/track_activity.sql')}) AS a" in ledger
    assert "{earning}" not in ledger and "{activity}" not in ledger
    with pytest.raises(WarehouseError, match="needs part 'activity'"):
        read_sql("royalties/ledger.sql", earning="royalties/earning_streaming_2024.sql")
    with pytest.raises(WarehouseError, match="no placeholder for part.s. activity"):
        read_sql("royalties/ledger.sql", earning="royalties/earning_pro_rata.sql", activity=parts["activity"])


def test_a_file_that_includes_itself_is_refused() -> None:
    with pytest.raises(WarehouseError, match="files deep"):
        read_sql("royalties/statements_from_ledger.sql", ledger="royalties/statements_from_ledger.sql",
                 statements="royalties/statements.sql")


@pytest.mark.parametrize(("parts", "problem"), [
    ({"table": "TRACKS; DROP TABLE TRACKS"}, "must be an identifier"),
    ({"table": "TRACKS T JOIN X"}, "must be an identifier"),
    ({"table": "../ddl/001_core.sql"}, "must be an identifier or a file under sql/"),
    ({}, "needs part 'table'"),
    ({"table": "TRACKS", "extra": "X"}, "no placeholder for part(s) extra"),
])
def test_a_part_that_is_not_of_its_kind_is_refused(parts: dict[str, str], problem: str) -> None:
    with pytest.raises(WarehouseError) as err:
        read_sql("tables/row_count.sql", **parts)
    assert problem in str(err.value)


@pytest.mark.parametrize("count", [0, -1, True, "3", ":r0) OR (1=1"])
def test_a_repeat_count_must_be_a_positive_int(count: object) -> None:
    with pytest.raises(WarehouseError, match="must be a count >= 1"):
        read_sql("pipeline/requests_by_id.sql", ids=count)  # type: ignore[arg-type]


# --- the formerly dynamic statements, on both backends ------------------------------------------------------


def test_in_lists_of_generated_binds_and_stale_deletes_run_on_both_backends(wh_backend: Warehouse) -> None:
    from maestro_core.isrc import mint_isrc
    from maestro_pipeline.records import existing_statuses
    from maestro_pipeline.royalty_run import LEDGER_KEY, STATEMENT_KEY, _delete_stale

    codes = mint_isrc(wh_backend, ["trk_b", "trk_a", "trk_c"], 2026, country="ZZ", registrant="MAE")
    assert codes == {"trk_a": "ZZMAE2600001", "trk_b": "ZZMAE2600002", "trk_c": "ZZMAE2600003"}
    assert mint_isrc(wh_backend, ["trk_c", "trk_d"], 2026, country="ZZ", registrant="MAE") == {
        "trk_c": "ZZMAE2600003", "trk_d": "ZZMAE2600004"}

    requests = [{"REQUEST_ID": f"req{i}", "RUN_ID": "run", "PROMPT_ID": "p", "PLAYLIST_ID": None, "ORDINAL": i,
                 "SEED": i, "STATUS": "planned", "REASONS": "[]", "UPDATED_AT": dt.datetime(2026, 1, 1)}
                for i in range(3)]
    wh_backend.upsert("GENERATION_REQUESTS", requests)
    assert sorted(existing_statuses(wh_backend, ["req2", "req0", "nope"])) == ["req0", "req2"]

    ledger = [{"PERIOD": "2026-03", "TERRITORY": t, "TRACK_ID": "trk_a", "HOLDER_ID": h, "CURRENCY": "EUR",
               "AMOUNT": Decimal("1.000000")} for t in ("DE", "FR") for h in ("h1", "h2")]
    statements = [{"PERIOD": "2026-03", "HOLDER_ID": h, "CURRENCY": "EUR", "STREAMS": 2, "AMOUNT": Decimal("2.000000")}
                  for h in ("h1", "h2")]
    wh_backend.upsert_many({"ROYALTY_LEDGER": ledger, "ROYALTY_STATEMENTS": statements})
    kept_ledger = pa.Table.from_pylist([r for r in ledger if r["TERRITORY"] == "DE"])
    kept_statements = pa.Table.from_pylist(statements[:1])
    assert _delete_stale(wh_backend, "ROYALTY_LEDGER", LEDGER_KEY, kept_ledger, "2026-03") == 2
    assert _delete_stale(wh_backend, "ROYALTY_STATEMENTS", STATEMENT_KEY, kept_statements, "2026-03") == 1
    assert wh_backend.query("SELECT TERRITORY FROM ROYALTY_LEDGER").column("TERRITORY").to_pylist() == ["DE", "DE"]
    assert wh_backend.query("SELECT HOLDER_ID FROM ROYALTY_STATEMENTS").column("HOLDER_ID").to_pylist() == ["h1"]
