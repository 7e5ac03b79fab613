"""What the review templates show, shared by the live app and the static export: links, comparisons, formatting.

Templates are Jinja2 with autoescaping on (every value from the warehouse is escaped); nothing here marks text safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from maestro_core.storage import safe_segment
from maestro_pipeline.review import TrackRow

PAGE_SIZE = 50  # tracks per run page
TEMPO_TOLERANCE = 0.04  # a measured tempo within 4% of the request, or of twice or half it (octave errors), agrees
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
IMAGE_KINDS = ("waveform", "spectrogram")


@dataclass(frozen=True)
class Links:
    """Where a page's links point: the live app's routes, or files beside a static export's ``index.html``."""

    static: bool = False

    @property
    def css(self) -> str:
        return "review.css" if self.static else "/static/review.css"

    def audio(self, track: TrackRow) -> str:
        if self.static:
            return f"audio/{export_name(track.track_id)}.{audio_extension(track.uri)}"
        return f"/tracks/{track.track_id}/audio"

    def image(self, track: TrackRow, kind: str) -> str:
        if self.static:
            return f"images/{export_name(track.track_id)}-{kind}.png"
        return f"/tracks/{track.track_id}/{kind}.png"

    def provenance(self, track: TrackRow) -> str:
        if self.static:
            return f"provenance/{export_name(track.track_id)}.json"
        return f"/tracks/{track.track_id}/provenance"


@dataclass(frozen=True)
class Comparison:
    """One row of a track's requested-versus-measured table; ``agrees`` is None where nothing was requested."""

    label: str
    requested: str
    measured: str
    agrees: bool | None


def export_name(track_id: str) -> str:
    """A track id as a file name of the static export (already safe for ids the pipeline makes)."""
    return safe_segment(track_id, "track_id")


def audio_extension(uri: str) -> str:
    tail = uri.rsplit("/", 1)[-1]
    return safe_segment(tail.rsplit(".", 1)[-1].lower() if "." in tail else "wav", "extension")


def _tempo_agrees(requested: float, measured: float) -> bool:
    return any(abs(measured - requested * f) <= TEMPO_TOLERANCE * requested * f for f in (0.5, 1.0, 2.0))


def _text(value: Any, unit: str = "", digits: int | None = None) -> str:
    if value is None or value == "":
        return "—"
    if digits is not None and isinstance(value, int | float):
        value = f"{value:.{digits}f}"
    return f"{value} {unit}".strip()


def comparisons(track: TrackRow) -> list[Comparison]:
    """Title-free facts of a track beside its request: genre, mood, tempo (BPM), key, duration (s), LUFS, true peak."""
    req = track.requested or {}
    rows = [
        Comparison("genre", _text(req.get("genre")), _text(track.genre),
                   None if not req.get("genre") else req.get("genre") == track.genre),
        Comparison("mood", _text(req.get("mood")), _text(track.mood),
                   None if not req.get("mood") else req.get("mood") == track.mood),
    ]
    tempo = req.get("tempo_bpm")
    rows.append(Comparison("tempo", _text(tempo, "BPM", 0), _text(track.tempo_bpm, "BPM", 1),
                           None if not tempo or track.tempo_bpm is None
                           else _tempo_agrees(float(tempo), float(track.tempo_bpm))))
    key = req.get("musical_key")
    rows.append(Comparison("key", _text(key), _text(track.musical_key),
                           None if not key or not track.musical_key else str(key) == track.musical_key))
    duration = req.get("duration_s")
    rows.append(Comparison("duration", _text(duration, "s"), _text(track.duration_ms / 1000, "s", 1), None))
    rows.append(Comparison("loudness", "", _text(track.loudness_lufs, "LUFS", 1), None))
    rows.append(Comparison("true peak", "", _text(track.true_peak_dbtp, "dBTP", 1), None))
    return rows


def c2pa_state(track: TrackRow) -> str:
    """``signed``, ``unsigned`` or ``unknown``, from TRACK_PROVENANCE.MANIFEST_SIGNED."""
    return {True: "signed", False: "unsigned"}.get(track.manifest_signed, "unknown")  # type: ignore[arg-type]


def review_state(track: TrackRow) -> str:
    return track.review.decision if track.review is not None else "pending"


def page_count(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


def environment() -> jinja2.Environment:
    """The templates' environment: autoescaping on for everything, undefined names an error."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(comparisons=comparisons, c2pa_state=c2pa_state, review_state=review_state)
    env.filters["bps_pct"] = lambda bps: f"{bps / 100:.2f} %"
    env.filters["money"] = lambda amount: f"{amount:,.2f}"
    return env
