"""Sample-based rendering of an arrangement through a General MIDI SoundFont (TinySoundFont).

The SoundFont is parsed once per process and path (``load_soundfont``); each render works on a clone (a few
microseconds: voices and channels are fresh, the sample data is shared), so renders never share voice state and the
same arrangement always renders to the same samples. Which file is used, and under which licence, is decided by
:func:`maestro_core.assets.resolve_soundfont`: ``MAESTRO_SOUNDFONT_PATH``, else FluidR3_GM (MIT, Debian's
``fluid-soundfont-gm``), else TimGM6mb (GPL-2.0-only) with a warning.

A SoundFont is checked before anything renders (:func:`inference.soundfont.soundfont_problem`, milliseconds): it
must exist, be readable, be a SoundFont, and hold every General MIDI program the arrangements need. Every problem
is one :class:`ConfigError` naming ``MAESTRO_SOUNDFONT_PATH``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from inference.soundfont import ACCEPTED, missing_presets, soundfont_presets
from maestro_core.assets import SOUNDFONT_ENV, SoundFontAsset, resolve_soundfont, sha256_file
from maestro_core.errors import ConfigError

logger = logging.getLogger(__name__)

MAX_VOICES = 96
RENDER_BLOCK_FRAMES = 4096  # a multiple of TinySoundFont's 64-frame effect block (see render_arrangement)
_LOCK = threading.Lock()
_FONTS: dict[str, tuple[Any, SoundFontInfo]] = {}


class RenderablePart(Protocol):
    """What the renderer reads of a part (read-only, so frozen dataclasses satisfy it)."""

    @property
    def program(self) -> int: ...
    @property
    def channel(self) -> int: ...
    @property
    def is_drum(self) -> bool: ...
    @property
    def volume(self) -> int: ...
    @property
    def pan(self) -> int: ...
    @property
    def notes(self) -> tuple[tuple[int, int, int, int], ...]: ...


class Renderable(Protocol):
    """What the renderer reads of an arrangement (read-only)."""

    @property
    def ticks_per_beat(self) -> int: ...
    @property
    def total_ticks(self) -> int: ...
    @property
    def tempo_us(self) -> int: ...
    @property
    def parts(self) -> Sequence[RenderablePart]: ...


@dataclass(frozen=True)
class SoundFontInfo:
    """A loaded SoundFont: absolute path, sha256 of the file, ASSETS id, SPDX licence and its (bank, preset) pairs.

    ``fallback`` is True when TimGM6mb stands in because no licence-clean bank was found.
    """

    path: str
    sha256: str
    license: str
    asset_id: str
    presets: frozenset[tuple[int, int]]
    fallback: bool = False


def default_soundfont_path() -> Path:
    """The SoundFont the composer uses when none is passed (see :func:`maestro_core.assets.resolve_soundfont`)."""
    return resolve_soundfont(None).path


def load_soundfont(path: str | os.PathLike[str] | None = None,
                   needed: Mapping[tuple[int, int], str] | None = None) -> tuple[Any, SoundFontInfo]:
    """The parsed SoundFont for ``path`` (default: see :func:`resolve_soundfont`), loaded once per process.

    Args:
        path: a SoundFont file; None means ``MAESTRO_SOUNDFONT_PATH``, else FluidR3_GM, else TimGM6mb.
        needed: (bank, preset) -> name of the presets the caller's arrangements use (see
            :func:`inference.soundfont.needed_presets`).

    Raises:
        ConfigError: ``MAESTRO_SOUNDFONT_PATH`` when the file is missing, unreadable, not a SoundFont, or lacks a
            needed preset.
    """
    asset = resolve_soundfont(path)
    key = str(asset.path)
    with _LOCK:
        if key not in _FONTS:
            _FONTS[key] = _parse(asset)
        font, info = _FONTS[key]
    problem = missing_presets(asset.path, info.presets, needed or {})
    if problem is not None:
        raise problem
    return font, info


def _parse(asset: SoundFontAsset) -> tuple[Any, SoundFontInfo]:
    from tinysoundfont import _tinysoundfont

    presets = soundfont_presets(asset.path)  # raises the one-line error before TinySoundFont sees the file
    try:
        font = _tinysoundfont.SoundFont(str(asset.path))
    except Exception as exc:  # the binding raises a bare Exception for files it cannot parse
        raise ConfigError(SOUNDFONT_ENV, f"{asset.path} is not a readable SoundFont: {exc}", ACCEPTED) from None
    info = SoundFontInfo(str(asset.path), sha256_file(asset.path), asset.spdx_license, asset.asset_id, presets,
                         asset.fallback)
    logger.info("loaded SoundFont %s (%s, %s)", asset.path, asset.asset_id, asset.spdx_license)
    return font, info


def render_arrangement(arrangement: Renderable, font: Any, sample_rate: int = 44100,
                       gain_db: float = -6.0) -> np.ndarray:
    """Render every part to one stereo float32 buffer, channels first: shape ``(2, frames)``, C-contiguous.

    The buffer is exactly as long as the arrangement (``total_ticks``): notes still sounding at the end are cut,
    which the arranger avoids by releasing the final chord inside the last bar.

    TinySoundFont writes interleaved frames; they are rendered :data:`RENDER_BLOCK_FRAMES` at a time into one
    small buffer and de-interleaved from it while it is still in cache, instead of transposing a whole-track
    interleaved buffer afterwards (a 180 s track: 63 MB written, then read and written again). The samples are
    the same: TinySoundFont updates envelopes and modulators every 64 frames counted from the start of each call,
    and every block starts a multiple of 64 frames into its span between two note events.

    Args:
        arrangement: parts with notes in ticks, ``ticks_per_beat`` and ``tempo_us`` (microseconds per beat).
        font: a SoundFont from :func:`load_soundfont` (it is cloned, never played directly).
        sample_rate: output rate in Hz.
        gain_db: master gain of the synthesiser in dB (headroom before effects; mastering sets the level).
    """
    _check_programs(arrangement, font)
    synth, frames, events = prepared_synth(arrangement, font, sample_rate, gain_db)
    out = np.empty((2, frames), dtype=np.float32)  # every frame gets rendered, and TinySoundFont overwrites, not adds
    block = np.empty((RENDER_BLOCK_FRAMES, 2), dtype=np.float32)
    pos = 0
    for frame, on, channel, pitch, velocity in events:
        if frame > pos:
            _render_span(synth, out, block, pos, frame)
            pos = frame
        if on:
            synth.channel_note_on(channel, pitch, velocity / 127.0)
        else:
            synth.channel_note_off(channel, pitch)
    if pos < frames:
        _render_span(synth, out, block, pos, frames)
    return out


def prepared_synth(arrangement: Renderable, font: Any, sample_rate: int,
                   gain_db: float) -> tuple[Any, int, list[tuple[int, int, int, int, int]]]:
    """A fresh TinySoundFont clone with every part's channel set up, the arrangement's length in frames and its
    note events (frame, 1 on | 0 off, channel, pitch, velocity), ready to render interleaved stereo."""
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
    return synth, frames, _events(arrangement, samples_per_tick, frames)


def _render_span(synth: Any, out: np.ndarray, block: np.ndarray, start: int, stop: int) -> None:
    """Frames ``start:stop`` of ``out`` (``(2, frames)``), rendered ``len(block)`` interleaved frames at a time."""
    for pos in range(start, stop, len(block)):
        n = min(len(block), stop - pos)
        synth.render(memoryview(block[:n]).cast("B"))  # type: ignore[arg-type]  # ndarray is a buffer
        out[:, pos:pos + n] = block[:n].T


def _check_programs(arrangement: Renderable, font: Any) -> None:
    """Every melodic part's program is in the bank (a missing kit falls back to the standard kit, which the load
    checked), so nothing renders silently with the wrong sound."""
    missing = sorted({part.program for part in arrangement.parts
                      if not part.is_drum and font.get_preset_index(0, part.program) < 0})
    if missing:
        raise ConfigError(SOUNDFONT_ENV, f"the SoundFont lacks General MIDI program(s) {missing} the arrangement "
                                         "needs", ACCEPTED)


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
