"""Sample-based rendering of an arrangement through a General MIDI SoundFont (TinySoundFont).

The SoundFont is parsed once per process and path (``load_soundfont``); each render works on a cheap clone, so
renders never share voice state and the same arrangement always renders to the same samples. The default is
TimGM6mb (GPL-2), which ships inside pretty_midi; any .sf2/.sf3 path can be configured.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from maestro_core.errors import ConfigError

logger = logging.getLogger(__name__)

MAX_VOICES = 96
SOUNDFONT_ASSET_ID = "asset_soundfont_timgm6mb"
_LOCK = threading.Lock()
_FONTS: dict[str, Any] = {}


class RenderablePart(Protocol):
    program: int
    channel: int
    is_drum: bool
    volume: int
    pan: int
    notes: tuple[tuple[int, int, int, int], ...]


class Renderable(Protocol):
    ticks_per_beat: int
    total_ticks: int
    tempo_us: int
    parts: tuple[RenderablePart, ...]


@dataclass(frozen=True)
class SoundFontInfo:
    """A loaded SoundFont: absolute path, sha256 of the file, and its license as far as we know it."""

    path: str
    sha256: str
    license: str


def default_soundfont_path() -> Path:
    """TimGM6mb.sf2 inside the installed pretty_midi package (found without importing pretty_midi)."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("soundfont_path", "pretty_midi is not installed, so TimGM6mb.sf2 is missing",
                          "a path to a General MIDI .sf2 file")
    return Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"


def soundfont_problem(path: str | Path | None = None) -> ConfigError | None:
    """Why the SoundFont at ``path`` (default TimGM6mb) cannot be loaded, found cheaply: it must be a readable
    file with a RIFF ``sfbk`` header (what .sf2 and .sf3 files start with). None when it looks loadable.
    """
    try:
        resolved = Path(path).expanduser().resolve() if path else default_soundfont_path()
    except ConfigError as exc:
        return exc
    accepted = "a General MIDI .sf2/.sf3 file"
    if not resolved.exists():
        return ConfigError("soundfont_path", f"{resolved} does not exist", accepted)
    if not resolved.is_file():
        return ConfigError("soundfont_path", f"{resolved} is a directory, not a file", accepted)
    try:
        with resolved.open("rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        return ConfigError("soundfont_path", f"cannot read {resolved}: {exc.strerror or exc}", accepted)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return ConfigError("soundfont_path", f"{resolved} is not a SoundFont (no RIFF sfbk header)", accepted)
    return None


def load_soundfont(path: str | Path | None = None) -> tuple[Any, SoundFontInfo]:
    """The parsed SoundFont at ``path`` (default TimGM6mb), loaded once per process.

    Raises:
        ConfigError: field ``soundfont_path`` when the file is missing or not a SoundFont.
    """
    resolved = Path(path).expanduser().resolve() if path else default_soundfont_path()
    key = str(resolved)
    with _LOCK:
        if key not in _FONTS:
            if not resolved.is_file():
                raise ConfigError("soundfont_path", f"{resolved} does not exist", "a path to a .sf2/.sf3 file")
            from tinysoundfont import _tinysoundfont

            data = resolved.read_bytes()
            try:
                font = _tinysoundfont.SoundFont(data)
            except Exception as exc:  # the binding raises a bare Exception for unreadable files
                raise ConfigError("soundfont_path", f"{resolved} is not a readable SoundFont: {exc}",
                                  "a General MIDI .sf2/.sf3 file") from None
            license = "GPL-2.0" if resolved.name == "TimGM6mb.sf2" else "unknown (record it with the asset)"
            _FONTS[key] = (font, SoundFontInfo(key, hashlib.sha256(data).hexdigest(), license))
            logger.info("loaded SoundFont %s", resolved)
        return _FONTS[key]


def render_arrangement(arrangement: Renderable, font: Any, sample_rate: int = 44100,
                       gain_db: float = -6.0) -> np.ndarray:
    """Render every part to one stereo float32 buffer of shape ``(frames, 2)``.

    The buffer is exactly as long as the arrangement (``total_ticks``): notes still sounding at the end are cut,
    which the arranger avoids by releasing the final chord inside the last bar.

    Args:
        arrangement: parts with notes in ticks, ``ticks_per_beat`` and ``tempo_us`` (microseconds per beat).
        font: a SoundFont from :func:`load_soundfont` (it is cloned, never played directly).
        sample_rate: output rate in Hz.
        gain_db: master gain of the synthesiser in dB (headroom before effects; mastering sets the level).
    """
    from tinysoundfont import _tinysoundfont

    synth = _tinysoundfont.SoundFont(font)  # a clone: fresh voices and channels, shared sample data
    synth.set_output(_tinysoundfont.OutputMode.StereoInterleaved, sample_rate, gain_db)
    synth.set_max_voices(MAX_VOICES)
    samples_per_tick = arrangement.tempo_us * sample_rate / (1e6 * arrangement.ticks_per_beat)
    frames = int(round(arrangement.total_ticks * samples_per_tick))
    for part in arrangement.parts:
        if part.is_drum:
            synth.channel_set_bank(part.channel, 128)
        synth.channel_set_preset_number(part.channel, part.program, part.is_drum)
        synth.channel_set_volume(part.channel, part.volume / 127.0)
        synth.channel_set_pan(part.channel, part.pan / 127.0)
    events = _events(arrangement, samples_per_tick, frames)
    out = np.zeros((frames, 2), dtype=np.float32)
    pos = 0
    for frame, on, channel, pitch, velocity in events:
        if frame > pos:
            synth.render(memoryview(out[pos:frame]).cast("B"))  # type: ignore[arg-type]  # ndarray is a buffer
            pos = frame
        if on:
            synth.channel_note_on(channel, pitch, velocity / 127.0)
        else:
            synth.channel_note_off(channel, pitch)
    if pos < frames:
        synth.render(memoryview(out[pos:frames]).cast("B"))  # type: ignore[arg-type]  # ndarray is a buffer
    return out


def _events(arrangement: Renderable, samples_per_tick: float, frames: int) -> list[tuple[int, int, int, int, int]]:
    """Note on/off events as (frame, 1 on | 0 off, channel, pitch, velocity), time-ordered, offs before ons."""
    rows = []
    for part in arrangement.parts:
        notes = np.asarray(part.notes, dtype=np.int64).reshape(-1, 4)
        if not len(notes):
            continue
        starts = np.minimum(np.round(notes[:, 0] * samples_per_tick).astype(np.int64), frames)
        ends = np.minimum(np.round(notes[:, 1] * samples_per_tick).astype(np.int64), frames)
        ch = np.full(len(notes), part.channel)
        rows.append(np.stack([starts, np.ones_like(starts), ch, notes[:, 2], notes[:, 3]], axis=1))
        rows.append(np.stack([ends, np.zeros_like(ends), ch, notes[:, 2], np.zeros_like(ends)], axis=1))
    if not rows:
        return []
    table = np.concatenate(rows)
    order = np.lexsort((table[:, 3], table[:, 2], table[:, 1], table[:, 0]))
    return [(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in table[order]]
