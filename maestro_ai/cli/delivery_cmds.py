"""``maestro deliver --date YYYY-MM-DD``: wiring and rendering only (the work is maestro_pipeline.delivery)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from maestro_ai.cli import app

console = Console(soft_wrap=True)


@app.command("deliver")
def deliver_cmd(date: Annotated[str, typer.Option("--date", help="Run date, YYYY-MM-DD: deliver that date's "
                                                                 "generated tracks.")],
                as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False
                ) -> None:
    """Deliver a date's tracks as DDEX ERN 4.3.2 packages (audio + NewReleaseMessage) to the configured recipient.

    Exits 0 when it ran (refused tracks are results, listed with their reasons), 2 on bad input or configuration
    (a missing MAESTRO_DDEX_* / MAESTRO_ARTIST_NAME / MAESTRO_LABEL_NAME setting, before anything is written),
    1 when the warehouse or the store failed.
    """
    from maestro_core.config import load_settings
    from maestro_pipeline.context import parse_run_date
    from maestro_pipeline.delivery import run_delivery

    day = parse_run_date(date)
    report = run_delivery(load_settings(), day)
    _print_report(report.to_dict(), as_json)


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    console.print(f"[bold]deliver {report['date']}[/] to {report['recipient']}: delivered {report['delivered']}, "
                  f"skipped {report['skipped']} (already delivered, unchanged), refused {report['refused']}; "
                  f"manifest {report['manifest_uri']}")
    for refusal in report["refusals"]:
        console.print(f"  refused {refusal['track_id']} ({refusal['isrc'] or 'no ISRC'}): {refusal['reason']}",
                      markup=False, highlight=False)
