"""``maestro royalties`` and ``maestro analytics list | run``: royalty statements and the named analytics queries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from maestro_ai.cli import app
from maestro_ai.config import load_settings
from maestro_ai.errors import InputError

console = Console()
analytics_app = typer.Typer(help="Named analytics queries (sql/analytics).", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")


@app.command()
def royalties(
    period: Annotated[str, typer.Option("--period", help="UTC month YYYY-MM")],
    engine: Annotated[str, typer.Option("--engine", help="spark (MAESTRO_SPARK_MASTER) or sql (in the warehouse)")]
    = "spark",
) -> None:
    """Compute a month's royalty statements, MERGE them into the warehouse and print them."""
    from maestro_ai.royalties import run_royalties

    run = run_royalties(load_settings(), period, engine=engine)
    table = Table("holder", "currency", "streams", "amount", title=f"royalty statements {period} ({run.engine})")
    for row in run.statements.to_pylist():
        table.add_row(row["HOLDER_ID"], row["CURRENCY"], str(row["STREAMS"]), f"{row['AMOUNT']:.6f}")
    console.print(table)
    r = run.report
    console.print(f"{r.paid_streams} paid streams, {run.ledger_lines} ledger lines; unmatched streams "
                  f"{r.unmatched_streams}, unpooled streams {r.unpooled_streams}, duplicates {r.duplicate_events}, "
                  f"invalid events {r.invalid_events}")
    for pool in r.unallocated:
        console.print(f"[yellow]unallocated:[/] {pool.territory} {pool.currency} {pool.amount} (no qualifying streams)")


@analytics_app.command("list")
def analytics_list() -> None:
    """List the named queries with their parameters."""
    from maestro_ai.analytics import list_queries

    table = Table("name", "params", "materialized", "description", title="analytics queries")
    for q in list_queries():
        params = ", ".join(f"{p.name}:{p.type}" + (f"={p.default}" if p.default else "") for p in q.params)
        table.add_row(q.name, params, q.table_name if q.materialize else "", q.description)
    console.print(table)


@analytics_app.command("run")
def analytics_run(
    name: Annotated[str, typer.Argument(help="query name (see `maestro analytics list`)")],
    param: Annotated[list[str] | None, typer.Option("--param", help="k=v, repeatable")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or parquet")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="file for csv/parquet (csv defaults to stdout)")] = None,
) -> None:
    """Run a named query and print or write its result."""
    from maestro_ai.analytics import FORMATS, check_output_path, run_query, write_result
    from maestro_ai.warehouse import connect

    if fmt not in FORMATS:
        raise InputError("--format", f"{fmt!r}; accepted: {', '.join(FORMATS)}")
    params = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError("--param", f"{item!r} is not k=v")
        params[key.strip()] = value
    if fmt == "parquet" and out is None:
        raise InputError("--out", "is required with --format parquet")
    if out is not None and fmt != "table":
        check_output_path(out, "--out")
    with connect(load_settings()) as wh:
        result = run_query(wh, name, params)
    if fmt == "table":
        table = Table(*result.column_names, title=f"{name} ({result.num_rows} rows)")
        for row in result.to_pylist():
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)
    elif out is None:
        import io

        import pyarrow.csv as pcsv

        buffer = io.BytesIO()
        pcsv.write_csv(result, buffer)
        typer.echo(buffer.getvalue().decode(), nl=False)
    else:
        write_result(result, fmt, out, field="--out")
        console.print(f"wrote {result.num_rows} rows to {out}")
