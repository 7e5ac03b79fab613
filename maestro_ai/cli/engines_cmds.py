"""``maestro engines list`` and ``maestro engines make-test-model ENGINE DIR``: wiring only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from maestro_ai.cli import app

engines_app = typer.Typer(help="Music engines and their checkpoints.", no_args_is_help=True)
app.add_typer(engines_app, name="engines")
console = Console(soft_wrap=True)


@engines_app.command("list")
def engines_list() -> None:
    """The registered engines (name and class), without importing any of them."""
    from inference.engine import ENGINES

    for name, target in ENGINES.items():
        console.print(f"{name}\t{target}", highlight=False)


@engines_app.command("make-test-model")
def make_test_model(
    engine: Annotated[str, typer.Argument(help="musicgen, musicgen-melody or stable-audio")],
    directory: Annotated[Path, typer.Argument(help="where to write the checkpoint (created)")],
) -> None:
    """Write a tiny random checkpoint (real classes, a few layers) to smoke-test a node before the real weights.

    Its audio is noise: it proves loading, batching and the pipeline, not music.
    """
    from inference.neural.testmodel import write_test_model

    out = write_test_model(engine, directory)
    setting = "MAESTRO_STABLE_AUDIO_MODEL" if engine == "stable-audio" else "MAESTRO_MUSICGEN_MODEL"
    console.print(f"wrote a tiny random {engine} checkpoint to {out}\nuse it with: {setting}={out}", highlight=False)
