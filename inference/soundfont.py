"""SoundFont files checked without loading them: the (bank, preset) pairs a file defines, read from its RIFF chunk
headers and preset headers (milliseconds, even for a 148 MB bank), and what makes a file unusable for the composer.

Every problem is one :class:`ConfigError` naming ``MAESTRO_SOUNDFONT_PATH``: the file is missing, unreadable, not a
SoundFont, cut short, or lacks a General MIDI program the arrangements need. TinySoundFont is never imported here
(:mod:`inference.render` loads the samples), so a CLI or a form can refuse a bad setting at once.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from maestro_core.assets import SOUNDFONT_ENV, resolve_soundfont
from maestro_core.errors import ConfigError

DRUM_BANK = 128  # SoundFont bank of percussion kits
STANDARD_KIT = 0  # TinySoundFont plays a kit a bank lacks with the standard kit (bank 128 preset 0)
ACCEPTED = "a General MIDI .sf2 SoundFont, e.g. Debian's fluid-soundfont-gm (/usr/share/sounds/sf2/FluidR3_GM.sf2)"
_PHDR = struct.Struct("<20sHHHIII")  # SoundFont 2.04 section 7.2: one preset header, 38 bytes


def needed_presets(genres: Iterable[Any], program_name: Callable[[int], str] = str) -> dict[tuple[int, int], str]:
    """The (bank, preset) pairs the genre presets can ask for, each with a name for people.

    Every role program of every genre (bank 0) is needed, and the standard drum kit (bank 128, preset 0) when a
    genre has drums: a kit a bank lacks is played with the standard kit, as TinySoundFont does.

    Args:
        genres: objects with ``kit`` (a bank-128 preset or None) and ``roles`` (each with ``programs``).
        program_name: GM program number -> name, for the error message.
    """
    needed = {(0, p): f"program {p} {program_name(p)}" for g in genres for r in g.roles for p in r.programs}
    if any(g.kit is not None for g in genres):
        needed[(DRUM_BANK, STANDARD_KIT)] = "the standard drum kit (bank 128 preset 0)"
    return dict(sorted(needed.items()))


def soundfont_presets(path: str | os.PathLike[str]) -> frozenset[tuple[int, int]]:
    """The (bank, preset) pairs a SoundFont defines, read from its preset headers without loading its samples.

    Raises:
        ConfigError: ``MAESTRO_SOUNDFONT_PATH`` when the file is missing, unreadable, not a SoundFont or cut short.
    """
    resolved = Path(path)
    try:
        with resolved.open("rb") as fh:
            return _read_presets(fh, os.fstat(fh.fileno()).st_size, resolved)
    except IsADirectoryError:
        raise ConfigError(SOUNDFONT_ENV, f"{resolved} is a directory, not a file", ACCEPTED) from None
    except FileNotFoundError:
        raise ConfigError(SOUNDFONT_ENV, f"{resolved} does not exist", ACCEPTED) from None
    except OSError as exc:
        raise ConfigError(SOUNDFONT_ENV, f"cannot read {resolved}: {exc.strerror or exc}", ACCEPTED) from None


def _read_presets(fh: Any, size: int, path: Path) -> frozenset[tuple[int, int]]:
    """Walks the RIFF chunks to ``LIST pdta`` and parses its ``phdr`` records (the last one is the EOP end marker)."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise ConfigError(SOUNDFONT_ENV, f"{path} is not a SoundFont (no RIFF sfbk header)", ACCEPTED)
    riff_end = 8 + struct.unpack("<I", head[4:8])[0]
    if riff_end > size:
        raise ConfigError(SOUNDFONT_ENV, f"{path} is cut short: its RIFF chunk needs {riff_end} bytes, the file "
                                         f"has {size}", ACCEPTED)
    pos = 12
    while pos + 12 <= riff_end:
        fh.seek(pos)
        chunk_id, chunk_size, list_type = struct.unpack("<4sI4s", fh.read(12))
        if chunk_id == b"LIST" and list_type == b"pdta":
            phdr = _subchunk(fh.read(chunk_size - 4), b"phdr") or b""
            count = len(phdr) // _PHDR.size - 1
            if count < 1:
                break
            return frozenset((bank, preset) for _, preset, bank, *_ in _PHDR.iter_unpack(phdr[:count * _PHDR.size]))
        pos += 8 + chunk_size + (chunk_size & 1)
    raise ConfigError(SOUNDFONT_ENV, f"{path} is not a SoundFont (no preset headers: LIST pdta / phdr)", ACCEPTED)


def _subchunk(data: bytes, wanted: bytes) -> bytes | None:
    pos = 0
    while pos + 8 <= len(data):
        chunk_id, size = struct.unpack("<4sI", data[pos:pos + 8])
        if chunk_id == wanted:
            return data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    return None


def soundfont_problem(path: str | os.PathLike[str] | None = None,
                      needed: Mapping[tuple[int, int], str] | None = None) -> ConfigError | None:
    """Why the SoundFont for ``path`` (see :func:`resolve_soundfont`) cannot be used, found in milliseconds: it must
    be a readable SoundFont that defines every ``needed`` (bank, preset). None when it is usable.
    """
    asset = resolve_soundfont(path)
    try:
        presets = soundfont_presets(asset.path)
    except ConfigError as exc:
        return exc
    return missing_presets(asset.path, presets, needed or {})


def missing_presets(path: Path, presets: frozenset[tuple[int, int]],
                    needed: Mapping[tuple[int, int], str]) -> ConfigError | None:
    """The error naming every ``needed`` (bank, preset) missing from ``presets``; None when none is missing."""
    missing = [label for key, label in needed.items() if key not in presets]
    if not missing:
        return None
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return ConfigError(SOUNDFONT_ENV, f"{path} lacks General MIDI presets the arrangements need: {shown}",
                       ACCEPTED)
