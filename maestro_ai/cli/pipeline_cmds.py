"""``maestro run catalog|playlist-fill --date YYYY-MM-DD`` and ``maestro demo``: wiring and rendering only."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from maestro_ai.cli import app

run_app = typer.Typer(help="Run a pipeline for one date, in this process.", no_args_is_help=True)
app.add_typer(run_app, name="run")
airflow_app = typer.Typer(help="Running the DAGs on a real Airflow (outside compose).", no_args_is_help=True)
app.add_typer(airflow_app, name="airflow")
console = Console(soft_wrap=True)

DateOpt = Annotated[str, typer.Option("--date", help="Run date, YYYY-MM-DD (the DAG's logical date).")]
DurationOpt = Annotated[int | None, typer.Option("--duration", help="Override every track's length (seconds, "
                                                                     "5..900).")]
PoolOpt = Annotated[int, typer.Option("--workers", help="Ray generator actors (1..256).")]
BudgetPctOpt = Annotated[int | None, typer.Option("--failure-budget-pct", help="Fail the run when more than this "
                                                  "percentage of attempted requests failed (default: "
                                                  "MAESTRO_FAILURE_BUDGET_PCT).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")]
# PipelineOptions field -> the flag a user typed, so errors name what they can fix.
_FLAGS = {"duration_s": "--duration", "pool_size": "--workers", "failure_budget_pct": "--failure-budget-pct"}


@run_app.command("catalog")
def run_catalog_cmd(date: DateOpt, duration: DurationOpt = None, workers: PoolOpt = 2,
                    failure_budget_pct: BudgetPctOpt = None, as_json: JsonOpt = False) -> None:
    """Generate the catalog for one date: preflight, plan, gate, generate on Ray, QC, sign, store, load, close.

    Exits 0 when the run succeeded, 1 when it failed its failure budget (the run row says why), 2 on bad input.
    """
    from maestro_pipeline import run_catalog
    from maestro_pipeline.native_output import native_stdout_to_stderr

    settings, day, options = _run_inputs(date, duration, workers, failure_budget_pct)
    with native_stdout_to_stderr():
        report = run_catalog(settings, day, options)
    _print_report(report.to_dict(), as_json)


@run_app.command("playlist-fill")
def run_playlist_cmd(date: DateOpt, duration: DurationOpt = None, workers: PoolOpt = 2,
                     failure_budget_pct: BudgetPctOpt = None, as_json: JsonOpt = False) -> None:
    """Top up playlists below their target with matching, smoothly ordered tracks (never overfills)."""
    from maestro_pipeline.native_output import native_stdout_to_stderr
    from maestro_pipeline.playlist import run_playlist_fill

    settings, day, options = _run_inputs(date, duration, workers, failure_budget_pct)
    with native_stdout_to_stderr():
        report = run_playlist_fill(settings, day, options)
    _print_report(report.to_dict(), as_json)


def _run_inputs(date: str, duration: int | None, workers: int, failure_budget_pct: int | None) -> tuple[Any, ...]:
    """Settings, run date and options, every one checked before the run touches anything."""
    from maestro_core.config import load_settings
    from maestro_core.errors import InputError
    from maestro_core.failure_budget import FailureBudget
    from maestro_pipeline import PipelineOptions
    from maestro_pipeline.context import parse_run_date

    day = parse_run_date(date)
    settings = load_settings()
    try:
        budget = None if failure_budget_pct is None else FailureBudget(failure_budget_pct,
                                                                       settings.failure_budget_first_n)
        options = PipelineOptions(duration_s=duration, pool_size=workers, budget=budget)
    except InputError as exc:
        flag = _FLAGS.get(exc.field, exc.field)
        raise InputError(flag, str(exc).removeprefix(f"{exc.field}: ")) from None
    return settings, day, options


@airflow_app.command("env")
def airflow_env_cmd(host: Annotated[str, typer.Option("--host", help="api-server address (loopback by default)")]
                    = "127.0.0.1",
                    port: Annotated[int, typer.Option("--port", help="api-server port")] = 8080) -> None:
    """Print the variables every Airflow process needs, for `eval "$(maestro airflow env)"` (docs/deploy.md)."""
    from maestro_core.config import load_settings
    from maestro_core.errors import InputError
    from maestro_pipeline.airflow_env import shell_exports

    if not 1 <= port <= 65535:
        raise InputError("--port", f"{port} is not a TCP port (1..65535)")
    typer.echo(shell_exports(load_settings(), host=host, port=port))


@app.command("demo")
def demo(date: Annotated[str, typer.Option("--date")] = "2026-11-15",
         duration: Annotated[int, typer.Option("--duration", help="Seconds per track.")] = 30) -> None:
    """Seed the embedded warehouse, run the catalog DAG through Airflow, fill playlists, summarise, re-run."""
    from maestro_core.config import load_settings
    from maestro_pipeline import PipelineOptions
    from maestro_pipeline import demo as lib
    from maestro_pipeline.context import CATALOG_DAG_ID, parse_run_date
    from maestro_pipeline.fingerprint import fingerprint
    from maestro_pipeline.playlist import run_playlist_fill

    started = time.perf_counter()
    settings = load_settings()
    day = parse_run_date(date)
    with console.status("Seeding the embedded warehouse and preparing Airflow..."):
        lib.prepare(settings)
    console.print(f"[bold]1.[/] warehouse seeded at {settings.warehouse_url}; Airflow home {settings.home / 'airflow'}")
    with console.status(f"Running {CATALOG_DAG_ID} for {day} through Airflow (dag.test)..."):
        state = lib.run_dag(CATALOG_DAG_ID, day, {"duration_s": duration})
    console.print(f"[bold]2.[/] {CATALOG_DAG_ID} {day}: DagRun state [bold]{state}[/]")
    with console.status("Filling playlists..."):
        fill = run_playlist_fill(settings, day, PipelineOptions(duration_s=duration))
    console.print(f"[bold]3.[/] playlist fill: {fill.counts.get('appended', 0)} tracks appended "
                  f"({fill.generated_now} generated)")
    facts = lib.gather(settings, f"{CATALOG_DAG_ID}__{day.isoformat()}", state)
    _summary(facts, settings)
    before = fingerprint(settings)
    with console.status("Running the same date again (catalog through Airflow, then playlist fill)..."):
        again = lib.run_dag(CATALOG_DAG_ID, day, {"duration_s": duration})
        run_playlist_fill(settings, day, PipelineOptions(duration_s=duration))
    after = fingerprint(settings)
    changes = before.differences(after)
    console.rule("[bold]5. Same date again")
    console.print(f"DagRun state {again}; {len(before.objects)} stored objects, "
                  + ", ".join(f"{t} {n} rows" for t, (n, _) in before.tables.items()))
    if changes:
        console.print("[bold red]changed:[/] " + "; ".join(changes))
    else:
        console.print("[bold green]nothing changed[/]: every table's rows and every stored object are identical "
                      "(row counts and content hashes compared before and after).")
    console.rule("[bold]6. Delivery")
    with console.status("Delivering the date's tracks as DDEX ERN 4.3.2 packages..."):
        delivery, development_ids = lib.deliver(settings, day)
    refusals = "; ".join(f"{r['isrc'] or r['track_id']}: {r['reason']}" for r in delivery["refusals"])
    console.print(f"to {delivery['recipient']}{' (development party ids)' if development_ids else ''}: delivered "
                  f"{delivery['delivered']}, skipped {delivery['skipped']} (already delivered), refused "
                  f"{delivery['refused']}{f' ({refusals})' if refusals else ''}; manifest {delivery['manifest_uri']}",
                  highlight=False, markup=False)
    _review_export(settings, facts.run_id)
    console.print(f"\nDemo finished in {time.perf_counter() - started:.0f} s.")
    if state != "success" or again != "success" or changes or not (delivery["delivered"] or delivery["skipped"]):
        raise SystemExit(1)


def _review_export(settings: Any, run_id: str) -> None:
    """Writes the demo run's review page as static HTML under MAESTRO_HOME/review/<run_id> and says how to serve it."""
    from maestro_ai.cli.review_cmds import review_url
    from maestro_ai.review import export_run
    from maestro_core.storage import safe_segment

    console.rule("[bold]7. Review")
    with console.status("Writing the run's review page (audio, waveforms and spectrograms beside it)..."):
        result = export_run(settings, run_id, settings.home / "review" / safe_segment(run_id, "run_id"))
    console.print(f"static review page of {result.tracks} tracks: [bold]{result.index}[/]", highlight=False)
    console.print(f"to listen, approve or hold: [bold]MAESTRO_HOME={settings.home} maestro review serve[/], then "
                  f"open {review_url(run_id)}", highlight=False)


def _summary(facts: Any, settings: Any) -> None:
    console.rule("[bold]4. Summary")
    table = Table(title=f"Tracks by genre ({facts.run_id})")
    table.add_column("genre")
    table.add_column("tracks", justify="right")
    for genre, n in facts.tracks_by_genre.items():
        table.add_row(genre, str(n))
    console.print(table)
    rejected = Table(title="Rejected requests (rights gate or broken prompt fields)")
    rejected.add_column("prompt")
    rejected.add_column("genre")
    rejected.add_column("reasons")
    for r in facts.rejected + facts.failed:
        rejected.add_row(r["prompt_id"], r["genre"] or "",
                         "\n".join(f"{x.get('code')}: {x.get('message')}" for x in r["reasons"]))
    console.print(rejected)
    for title, rows in facts.splits.items():
        splits = Table(title=f"Royalty splits: {title}")
        splits.add_column("holder")
        splits.add_column("role")
        splits.add_column("share (bps)", justify="right")
        for row in rows:
            splits.add_row(row["HOLDER_ID"], row["ROLE"], str(row["SHARE_BPS"]))
        splits.add_row("[bold]total", "", f"[bold]{sum(r['SHARE_BPS'] for r in rows)}")
        console.print(splits)
    playlists = Table(title="Playlists")
    for col in ("playlist", "name", "tracks / target"):
        playlists.add_column(col)
    for p in facts.playlists:
        playlists.add_row(p["PLAYLIST_ID"], p["NAME"], f"{p['TRACKS']} / {p['TARGET_TRACKS']}")
    console.print(playlists)
    console.print(f"Run counts: {json.dumps(facts.counts, sort_keys=True)}")
    console.print(f"Audio lies under [bold]{facts.storage_url}[/] as {{genre}}/{{track_id}}.wav (+ .mid, "
                  ".wav.provenance.json, .manifest.json)")
    if facts.sample_audio:
        path = facts.sample_audio.removeprefix("file://")
        console.print(f"Verify one: [bold]MAESTRO_HOME={settings.home} maestro verify {path}[/]")


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    console.print(f"[bold]{report['run_id']}[/]: counts {report['counts']}, generated now {report['generated_now']}, "
                  f"resumed {report['resumed']}, failed {report['failed_now']}, rows changed {report['changed_rows']}")
    console.print("stage seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in report["stage_seconds"].items()))
    if report.get("pool_idle_share") is not None:  # actor-seconds not spent on a request, start-up included
        console.print(f"worker pool idle: {100 * report['pool_idle_share']:.0f} %")
    if report.get("failures"):
        console.print("top failure reasons:")
        for cause in report["failures"]:
            console.print(f"  {cause['count']} x {cause['error']}: {cause['message']}", markup=False,
                          highlight=False)
