"""``maestro generate``: one track from the command line, through ``maestro_ai.MusicGenerator``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from maestro_ai.cli import app

STAGES = ("compose", "render", "effects", "master", "encode")


@app.command()
def generate(
    genre: Annotated[str, typer.Option("--genre", help="genre preset, e.g. lofi-chill, house, jazz, classical-piano")],
    mood: Annotated[str, typer.Option("--mood", help="mood preset, e.g. ambient-focus, melancholic, energetic")],
    phrase: Annotated[list[str] | None, typer.Option("--phrase", help="key phrase (repeatable)")] = None,
    tempo: Annotated[float | None, typer.Option("--tempo", help="tempo in BPM (30..300)")] = None,
    melody: Annotated[str | None, typer.Option("--melody", help="a .mid path or chords/notes ('Cmaj7 G6')")] = None,
    key: Annotated[str | None, typer.Option("--key", help="key, e.g. 'A minor', 'F# minor', 'Bb major'")] = None,
    time_signature: Annotated[str | None, typer.Option("--time-signature", help="N/4, N in 2..7")] = None,
    duration: Annotated[float, typer.Option("--duration", help="seconds (5..900), ends on a bar line")] = 180.0,
    seed: Annotated[int | None, typer.Option("--seed", help="random seed; default derived from the inputs")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="output directory; default $MAESTRO_HOME/generated")] = None,
    audio_format: Annotated[str, typer.Option("--format", help="wav (16-bit) or flac")] = "wav",
    as_json: Annotated[bool, typer.Option("--json", help="print the metadata as JSON only (machine-readable)")] = False,
    engine: Annotated[str, typer.Option("--engine", help="composer, musicgen or stable-audio (neural engines read "
                                                         "MAESTRO_MUSICGEN_MODEL / MAESTRO_STABLE_AUDIO_MODEL)")
                      ] = "composer",
) -> None:
    """Generate one mastered track (audio + MIDI) and print its metadata and file paths."""
    from maestro_ai.generator import MusicGenerator

    input_data: dict[str, object] = {"key_phrases": list(phrase or [])}
    for name, value in (("tempo_bpm", tempo), ("melody_midi", melody), ("key", key),
                        ("time_signature", time_signature)):
        if value is not None:
            input_data[name] = value
    generator = MusicGenerator(genre=genre, mood=mood, engine=engine, output_dir=out, audio_format=audio_format)
    generator.check(input_data, duration_seconds=duration, seed=seed)  # in milliseconds, before the engine loads
    console = Console(stderr=True, quiet=as_json)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("loading engine (SoundFont, text model)", total=len(STAGES))
        generator.engine  # noqa: B018 - builds the process-wide engine before the clock starts
        bar.update(task, description="composing")
        started = time.perf_counter()
        timings: dict[str, float] = {}

        def on_stage(stage: str, seconds: float) -> None:
            timings[stage] = seconds
            following = STAGES[STAGES.index(stage) + 1] if stage != STAGES[-1] else "done"
            bar.update(task, advance=1, description={"render": "rendering", "effects": "adding effects",
                                                     "master": "mastering", "encode": "writing files",
                                                     "done": "done"}.get(following, following))

        metadata, audio_path = generator.generate_track(input_data, duration_seconds=duration, seed=seed,
                                                        progress=on_stage)
    if as_json:
        typer.echo(json.dumps({**metadata, "audio_path": audio_path}, indent=2, sort_keys=True))
        return
    _print_summary(Console(), metadata, audio_path, time.perf_counter() - started, timings)


def _print_summary(console: Console, meta: dict, audio_path: str, seconds: float, timings: dict[str, float]) -> None:
    table = Table(show_header=False, title=f"[bold]{meta['title']}[/]")
    rows = [("genre / mood", f"{meta['genre']} / {meta['mood']}"),
            ("tempo / key / metre", (f"{meta['tempo']:g} BPM" if meta["tempo"] is not None else "tempo not detected")
             + f", {meta['key']}, {meta['time_signature']}"),
            ("duration", f"{meta['duration_seconds']:.2f} s, {meta['bars'] or '-'} bars"),
            ("form", "  ".join(f"{s['name']} {s['start_seconds']:.0f}-{s['end_seconds']:.0f}s"
                               for s in meta["sections"])),
            ("instruments", ", ".join(f"{i['role']}: {i['instrument']}" for i in meta["instrumentation"])),
            ("loudness / true peak", f"{meta['loudness_lufs']:.2f} LUFS, {meta['true_peak_dbtp']:.2f} dBTP"),
            ("seed", str(meta["seed"])),
            ("engine", f"{meta['engine']} {meta['engine_version']}"),
            ("sha256", meta["sha256"]),
            ("audio", audio_path),
            ("midi", meta["midi_path"]),
            ("time", f"{seconds:.2f} s (" + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()) + ")")]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for i, variation in enumerate(meta["variations"], 1):
        changes = {k: v for k, v in variation.items() if k not in ("label", "seed")}
        console.print(f"  variation {i}: {variation['label']} {changes or ''} seed={variation['seed']}")
