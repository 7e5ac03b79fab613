"""``maestro royalties [export-inputs | load-outputs]`` and ``maestro analytics list | run``.

``maestro royalties --period P`` computes and loads a month in one go (Spark on ``MAESTRO_SPARK_MASTER``, or SQL in
the warehouse). On a cluster the Spark step runs apart, under ``spark-submit``: ``export-inputs`` writes the job's
Parquet inputs, the job writes its outputs, and ``load-outputs`` checks and MERGEs them (docs/deploy.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from maestro_ai.cli import app
from maestro_core.config import load_settings
from maestro_core.errors import InputError

if TYPE_CHECKING:
    from maestro_pipeline.royalty_run import RoyaltyRun

console = Console()
royalties_app = typer.Typer(
    help="Compute a month's royalty statements (--period, --engine), MERGE them into the warehouse and print them; "
    "or, on a cluster, run the steps around spark-submit apart: export-inputs, then load-outputs.",
    invoke_without_command=True, no_args_is_help=False)
analytics_app = typer.Typer(help="Named analytics queries (sql/analytics).", no_args_is_help=True)
app.add_typer(royalties_app, name="royalties")
app.add_typer(analytics_app, name="analytics")

PeriodOption = Annotated[str, typer.Option("--period", help="UTC month YYYY-MM")]


@royalties_app.callback()
def royalties(
    ctx: typer.Context,
    period: Annotated[str | None, typer.Option("--period", help="UTC month YYYY-MM")] = None,
    engine: Annotated[str, typer.Option("--engine", help="spark (MAESTRO_SPARK_MASTER) or sql (in the warehouse)")]
    = "spark",
    policy: Annotated[str | None, typer.Option(
        "--policy", help="pro_rata, streaming_2024 or user_centric (default: MAESTRO_ROYALTY_POLICY, else pro_rata)")]
    = None,
) -> None:
    """Without a command: compute ``--period`` with ``--engine`` under ``--policy``, MERGE it and print the
    statements."""
    if ctx.invoked_subcommand is not None:
        return
    if period is None:
        ctx.fail("Missing option '--period'.")
    from maestro_core.royalty_rules import check_policy
    from maestro_pipeline.royalty_run import run_royalties

    period = _checked_period(period)
    if policy is not None:
        check_policy(policy, "--policy")
    _print_run(run_royalties(load_settings(), period, engine=engine, policy=policy))


@royalties_app.command("export-inputs")
def royalties_export_inputs(
    period: PeriodOption,
    out: Annotated[Path, typer.Option("--out", help="directory for the job's three input Parquet files")],
) -> None:
    """Write a month's events, splits and pools as the Parquet inputs of jobs/royalty_statements.py."""
    from maestro_pipeline.royalty_run import export_period_inputs

    period = _checked_period(period)
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} is a file, not a directory")
    counts = export_period_inputs(load_settings(), period, out)
    console.print(f"wrote the inputs of {period} to {out}: " + ", ".join(f"{k} {v} rows" for k, v in counts.items()))


@royalties_app.command("load-outputs")
def royalties_load_outputs(
    period: PeriodOption,
    from_dir: Annotated[Path, typer.Option("--from", help="the job's --out directory (ledger, statements, report)")],
) -> None:
    """Check the royalty job's outputs against the month's pools, MERGE them into the warehouse and print them."""
    from maestro_pipeline.royalty_run import load_period_outputs, read_outputs

    result = read_outputs(from_dir, _checked_period(period), field="--from")
    _print_run(load_period_outputs(load_settings(), result))


@royalties_app.command("export")
def royalties_export(
    period: PeriodOption,
    fmt: Annotated[str, typer.Option("--format", help="dsr (a DDEX DSR file per rights holder), csv or parquet")],
    out: Annotated[Path, typer.Option("--out", help="directory for the files (created if missing)")],
) -> None:
    """Export a computed month's statements: DDEX DSR Basic Audio Profile files per holder, or one CSV/Parquet."""
    from maestro_pipeline.royalty_export import FORMATS, export_royalties

    if fmt not in FORMATS:
        raise InputError("--format", f"{fmt!r}; accepted: {', '.join(FORMATS)}")
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} is a file, not a directory")
    result = export_royalties(load_settings(), _checked_period(period), fmt, out, period_field="--period")
    console.print(f"wrote {len(result.files)} {fmt} file(s) of {result.period} ({result.statements} statements) "
                  f"to {out}")


def _checked_period(period: str) -> str:
    from maestro_core.royalty_rules import period_bounds

    try:
        period_bounds(period)
    except InputError as exc:
        raise InputError("--period", str(exc).removeprefix("period: ")) from exc
    return period


def _print_run(run: RoyaltyRun) -> None:
    table = Table("holder", "currency", "streams", "amount", title=f"royalty statements {run.period} ({run.engine})")
    for row in run.statements.to_pylist():
        table.add_row(row["HOLDER_ID"], row["CURRENCY"], str(row["STREAMS"]), f"{row['AMOUNT']:.6f}")
    console.print(table)
    r = run.report
    console.print(f"{r.paid_streams} paid streams, {run.ledger_lines} ledger lines; unmatched streams "
                  f"{r.unmatched_streams}, unpooled streams {r.unpooled_streams}, duplicates {r.duplicate_events}, "
                  f"invalid events {r.invalid_events}")
    for pool in r.unallocated:
        console.print(f"[yellow]unallocated:[/] {pool.territory} {pool.currency} {pool.amount} (no qualifying streams)")
    console.print(f"policy {run.policy}")


@analytics_app.command("list")
def analytics_list() -> None:
    """List the named queries with their parameters."""
    from maestro_core.analytics import list_queries

    # Names are what `analytics run` takes: never wrapped or cut, whatever the terminal's width. The other columns
    # give way (folding rather than losing characters); a materialized query's table name follows from its name.
    table = Table(title="analytics queries", caption="materialized: refreshed daily as table ANALYTICS_<NAME>")
    table.add_column("name", no_wrap=True)
    for header in ("params", "materialized", "description"):
        table.add_column(header, overflow="fold")
    for q in list_queries():
        params = ", ".join(f"{p.name}:{p.type}" + (f"={p.default}" if p.default else "") for p in q.params)
        table.add_row(q.name, params, "yes" if q.materialize else "", q.description)
    console.print(table)


@analytics_app.command("run")
def analytics_run(
    name: Annotated[str, typer.Argument(help="query name (see `maestro analytics list`)")],
    param: Annotated[list[str] | None, typer.Option("--param", help="k=v, repeatable")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or parquet")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="file for csv/parquet (csv defaults to stdout)")] = None,
) -> None:
    """Run a named query and print or write its result."""
    from maestro_core.analytics import FORMATS, check_output_path, run_query, write_result
    from maestro_core.warehouse import connect

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
