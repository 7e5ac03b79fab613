"""``maestro init | seed | simulate-streams | summary | config``: the warehouse and its sample data."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from maestro_ai.cli import app
from maestro_core.config import load_settings

console = Console()


@app.command()
def init() -> None:
    """Create MAESTRO_HOME, apply the warehouse migrations and, when no signing keys are configured, create
    development signing keys under MAESTRO_HOME/keys (idempotent)."""
    from maestro_core.signing_keys import ensure_development_keys
    from maestro_core.warehouse import connect

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    with connect(settings) as wh:
        applied = wh.migrate()
    console.print(f"warehouse [bold]{settings.warehouse_backend}[/] ready; "
                  f"{'applied ' + ', '.join(applied) if applied else 'no pending migrations'}")
    created = ensure_development_keys(settings)
    if created is not None:
        console.print(f"created [bold]development[/] signing keys in {created.cert_path.parent} (tracks signed with "
                      "them say so in their provenance; set MAESTRO_SIGNING_CERT_PATH and MAESTRO_SIGNING_KEY_PATH "
                      "for production keys)")


@app.command()
def seed() -> None:
    """Load the deterministic sample catalog (re-seeding changes nothing)."""
    from maestro_core.seed import seed_warehouse
    from maestro_core.warehouse import connect

    with connect(load_settings()) as wh:
        wh.migrate()
        results = seed_warehouse(wh)
    table = Table("table", "inserted", "updated", "unchanged", title="maestro seed")
    for r in results:
        table.add_row(r.table, str(r.inserted), str(r.updated), str(r.unchanged))
    console.print(table)


@app.command("simulate-streams")
def simulate_streams_cmd(
    events: int = typer.Option(100_000, "--events", help="how many stream events to write"),
    months: int = typer.Option(3, "--months", help="spread over this many latest periods that have revenue pools"),
    seed: int = typer.Option(0, "--seed", help="random seed; the same seed writes the same events"),
) -> None:
    """Write deterministic synthetic stream events for the tracks that exist."""
    from maestro_core.errors import InputError
    from maestro_core.streams import simulate_streams
    from maestro_core.warehouse import connect

    if events < 0:  # checked before the progress bar is drawn (the library checks again)
        raise InputError("--events", f"must be >= 0, got {events}")
    if months < 1:
        raise InputError("--months", f"must be >= 1, got {months}")
    with connect(load_settings()) as wh, Progress("[progress.description]{task.description}", BarColumn(),
                                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("stream events", total=events)
        new = simulate_streams(wh, events, months, seed, progress=lambda n: bar.advance(task, n))
    console.print(f"{events} events simulated, {new} new")


@app.command()
def summary() -> None:
    """Print what is in the warehouse."""
    from maestro_core.summary import summarize
    from maestro_core.warehouse import connect

    with connect(load_settings()) as wh:
        s = summarize(wh)
    counts = Table("table", "rows", title=f"warehouse ({s.backend})")
    for name, n in s.row_counts.items():
        counts.add_row(name, f"{n:,}")
    console.print(counts)
    genres = Table("genre", "prompts", "active", "moods", title="prompt catalog")
    for row in s.prompts_by_genre:
        genres.add_row(row["GENRE"], str(row["PROMPTS"]), str(row["ACTIVE"]), str(row["MOODS"]))
    console.print(genres)
    lic = Table("state", "licenses", title="licenses today")
    for row in s.licenses_by_state:
        lic.add_row(row["STATE"], str(row["LICENSES"]))
    console.print(lic)
    pools = Table("period", "territories", "currencies", title="revenue pools")
    for row in s.pools_by_period:
        pools.add_row(row["PERIOD"], str(row["TERRITORIES"]), str(row["CURRENCIES"]))
    console.print(pools)


@app.command("config")
def show_config() -> None:
    """Print the effective settings (secrets masked)."""
    table = Table("setting", "value", title="maestro settings")
    for name, value in load_settings().public_view().items():
        table.add_row(f"MAESTRO_{name.upper()}", value)
    console.print(table)
