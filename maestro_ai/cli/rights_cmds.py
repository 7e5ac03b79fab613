"""``maestro keys init``, ``maestro verify AUDIO_PATH`` and ``maestro rights check PROMPT_ID``: wiring only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from maestro_ai.cli import app

keys_app = typer.Typer(help="Content Credentials signing keys.", no_args_is_help=True)
rights_app = typer.Typer(help="The rights gate.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(rights_app, name="rights")
console = Console(soft_wrap=True)


def _exit(code: int) -> None:
    # SystemExit, not typer.Exit: main() runs click with standalone_mode=False, which returns Exit codes unused.
    raise SystemExit(code)


@keys_app.command("init")
def keys_init(
    force: Annotated[bool, typer.Option("--force", help="Replace existing keys.")] = False,
    keys_dir: Annotated[Path | None, typer.Option("--dir", help="Where to write (default: MAESTRO_HOME/keys).")] = None,
) -> None:
    """Create a development CA and a C2PA signing certificate (private keys mode 0600, never printed)."""
    from maestro_core.config import load_settings
    from maestro_core.signing_keys import default_keys_dir, init_keys

    paths = init_keys(keys_dir or default_keys_dir(load_settings()), force=force)
    console.print(f"signing certificate: {paths.cert_path}\nsigning key:         {paths.key_path}\n"
                  f"trust anchor (CA):   {paths.trust_anchor_path}")


@app.command("verify")
def verify(audio_path: Annotated[Path, typer.Argument(help="A signed WAV or FLAC.")]) -> None:
    """Check a track's Content Credentials, audio hash, ISRC and provenance in the warehouse; exit 0 if all hold."""
    from maestro_core.config import load_settings
    from maestro_core.verify import format_report, verify_track

    report = verify_track(audio_path, load_settings())
    console.print(format_report(report), markup=False, highlight=False)
    _exit(0 if report.ok else 1)


@rights_app.command("check")
def rights_check(
    prompt_id: Annotated[str, typer.Argument(help="PROMPT_CATALOG.PROMPT_ID")],
    on_date: Annotated[str, typer.Option("--date", help="Date the rights must hold (YYYY-MM-DD, default today).")] = "",
) -> None:
    """Run the rights gate for a prompt and print the decision; exit 0 when allowed, 1 when denied."""
    from maestro_core.config import load_settings
    from maestro_core.errors import InputError
    from maestro_core.rights_snapshot import gate_prompt
    from maestro_core.warehouse import connect
    from maestro_pipeline.model_assets import checkpoint_asset, run_asset_ids

    try:
        day = dt.date.fromisoformat(on_date) if on_date else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise InputError("--date", f"{on_date!r} is not YYYY-MM-DD") from None
    settings = load_settings()
    with connect(settings) as wh:
        checkpoint = checkpoint_asset(settings)  # the configured weights, as the gate stage registers them
        decision = gate_prompt(wh, prompt_id, day,
                               run_asset_ids(settings, (checkpoint.asset_id,) if checkpoint else ()))
    if decision.allowed:
        console.print(f"allowed: {prompt_id} on {day} relies on "
                      + ", ".join(f"{r.license_id} ({r.holder_id}, {r.share_bps} bps)" for r in decision.relied_on),
                      markup=False)
    else:
        console.print(f"denied: {prompt_id} on {day}", markup=False)
        for reason in decision.reasons:
            console.print(f"  {reason.code}: {reason.message}", markup=False, highlight=False)
    _exit(0 if decision.allowed else 1)
