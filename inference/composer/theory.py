"""Music theory for the composer: pitch names, keys, scales, chord symbols and key inference.

Pitch classes are ints 0..11 (C = 0). MIDI pitches are ints 0..127 (C4 = 60). Keys are a tonic pitch class and a
mode (``major`` or ``minor``); minor keys use the natural minor scale with a raised leading tone on V.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from maestro_core.errors import InputError

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1, "##": 2, "bb": -2}
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
# Conventional spelling: keys with flats in their signature are spelled with flats.
_FLAT_MAJOR = {5, 10, 3, 8, 1, 6}  # F Bb Eb Ab Db Gb
_FLAT_MINOR = {2, 7, 0, 5, 10, 3}  # D G C F Bb Eb minor
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)

# Krumhansl-Kessler key profiles (Krumhansl 1990, "Cognitive Foundations of Musical Pitch").
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# Chord-symbol suffix -> intervals above the root (semitones). Longest suffixes are tried first.
CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "maj": (0, 4, 7), "M": (0, 4, 7),
    "m": (0, 3, 7), "min": (0, 3, 7), "-": (0, 3, 7),
    "5": (0, 7), "dim": (0, 3, 6), "°": (0, 3, 6), "aug": (0, 4, 8), "+": (0, 4, 8),
    "sus2": (0, 2, 7), "sus4": (0, 5, 7), "sus": (0, 5, 7),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "min6": (0, 3, 7, 9), "add9": (0, 4, 7, 14), "madd9": (0, 3, 7, 14),
    "7": (0, 4, 7, 10), "dom7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "M7": (0, 4, 7, 11), "Δ": (0, 4, 7, 11),
    "Δ7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "min7": (0, 3, 7, 10), "-7": (0, 3, 7, 10),
    "mmaj7": (0, 3, 7, 11), "mM7": (0, 3, 7, 11), "dim7": (0, 3, 6, 9), "°7": (0, 3, 6, 9),
    "m7b5": (0, 3, 6, 10), "ø": (0, 3, 6, 10), "ø7": (0, 3, 6, 10), "7sus4": (0, 5, 7, 10), "7sus": (0, 5, 7, 10),
    "aug7": (0, 4, 8, 10), "7#5": (0, 4, 8, 10), "7b9": (0, 4, 7, 10, 13), "6/9": (0, 4, 7, 9, 14),
    "69": (0, 4, 7, 9, 14), "9": (0, 4, 7, 10, 14), "maj9": (0, 4, 7, 11, 14), "M9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14), "min9": (0, 3, 7, 10, 14), "11": (0, 4, 7, 10, 14, 17), "m11": (0, 3, 7, 10, 14, 17),
    "13": (0, 4, 7, 10, 14, 21), "maj13": (0, 4, 7, 11, 14, 21), "m13": (0, 3, 7, 10, 14, 21),
}
_SUFFIXES = sorted(CHORD_QUALITIES, key=len, reverse=True)
_NOTE_RE = re.compile(r"^([A-Ga-g])(##|bb|#|b|♯|♭)?(-?\d)$")
_ROOT_RE = re.compile(r"^([A-G])(##|bb|#|b|♯|♭)?")


def pitch_class(name: str) -> int:
    """Pitch class 0..11 of a note name such as ``'C'``, ``'F#'`` or ``'Bb'``.

    Raises:
        ValueError: not a note name.
    """
    match = _ROOT_RE.match(name[:1].upper() + name[1:]) if name else None
    if match is None or match.end() != len(name):
        raise ValueError(f"{name!r} is not a note name (A-G with optional # or b)")
    return (_LETTERS[match.group(1)] + _ACCIDENTALS[match.group(2) or ""]) % 12


def parse_note(token: str) -> int | None:
    """MIDI pitch of a note with octave (``'C4'`` = 60, ``'F#3'`` = 54), or None when ``token`` is not one."""
    match = _NOTE_RE.match(token)
    if match is None:
        return None
    pitch = 12 * (int(match.group(3)) + 1) + _LETTERS[match.group(1).upper()] + _ACCIDENTALS[match.group(2) or ""]
    return pitch if 0 <= pitch <= 127 else None


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class 0..11 and mode ``'major'`` or ``'minor'``."""

    tonic: int
    mode: str

    @property
    def name(self) -> str:
        """Conventionally spelled name, e.g. ``'F# minor'``, ``'Bb major'``."""
        flats = _FLAT_MAJOR if self.mode == "major" else _FLAT_MINOR
        names = FLAT_NAMES if self.tonic in flats else SHARP_NAMES
        return f"{names[self.tonic]} {self.mode}"

    @property
    def scale(self) -> tuple[int, ...]:
        """The seven pitch classes of the scale, tonic first."""
        steps = MAJOR_SCALE if self.mode == "major" else MINOR_SCALE
        return tuple((self.tonic + s) % 12 for s in steps)

    @property
    def relative(self) -> Key:
        """The relative major or minor (A minor <-> C major)."""
        if self.mode == "major":
            return Key((self.tonic + 9) % 12, "minor")
        return Key((self.tonic + 3) % 12, "major")

    def spell(self, pc: int) -> str:
        """Name of pitch class ``pc`` in this key's spelling."""
        flats = _FLAT_MAJOR if self.mode == "major" else _FLAT_MINOR
        return (FLAT_NAMES if self.tonic in flats else SHARP_NAMES)[pc % 12]


def parse_key(text: object, field: str = "key") -> Key:
    """Parse ``'A minor'``, ``'F# minor'``, ``'Bb major'``, ``'Am'``, ``'C'`` or ``'c# min'`` into a Key.

    The grammar lives once, in :func:`maestro_core.musical_key.parse_key` (QC reads requested keys with it too); this
    returns the composer's Key, which also knows its scale and spelling.

    Raises:
        InputError: naming ``field`` when the text is not a key.
    """
    from maestro_core.musical_key import parse_key as parse_key_name

    if not isinstance(text, str) or not text.strip():
        raise InputError(field, f"must be a key such as 'A minor' or 'Bb major', got {text!r}")
    parsed = parse_key_name(text, field)
    return Key(parsed.tonic, parsed.mode)


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class, intervals above the root (semitones), optional bass pitch class (slash chords)."""

    root: int
    intervals: tuple[int, ...]
    symbol: str
    bass: int | None = None

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Distinct pitch classes, root first."""
        seen: list[int] = []
        for iv in self.intervals:
            pc = (self.root + iv) % 12
            if pc not in seen:
                seen.append(pc)
        return tuple(seen)

    @property
    def is_minor(self) -> bool:
        return 3 in self.intervals and 4 not in self.intervals

    def transpose(self, semitones: int, key: Key | None = None) -> Chord:
        """The same chord moved by ``semitones``; the symbol is respelled in ``key`` when given."""
        root = (self.root + semitones) % 12
        bass = None if self.bass is None else (self.bass + semitones) % 12
        suffix = self.symbol[len(_root_text(self.symbol)):].split("/")[0]
        spell = key.spell if key is not None else (lambda pc: SHARP_NAMES[pc % 12])
        symbol = spell(root) + suffix + (f"/{spell(bass)}" if bass is not None else "")
        return Chord(root, self.intervals, symbol, bass)


def _root_text(symbol: str) -> str:
    match = _ROOT_RE.match(symbol)
    return match.group(0) if match else ""


def parse_chord(symbol: str) -> Chord | None:
    """Parse a chord symbol such as ``'Cmaj7'``, ``'G6'``, ``'F#m7b5'``, ``'Bb/D'``; None when it is not one."""
    match = _ROOT_RE.match(symbol)
    if match is None:
        return None
    root = (_LETTERS[match.group(1)] + _ACCIDENTALS[match.group(2) or ""]) % 12
    rest, _, bass_text = symbol[match.end():].partition("/")
    bass = None
    if bass_text:
        try:
            bass = pitch_class(bass_text)
        except ValueError:
            return None
    if rest not in CHORD_QUALITIES:
        return None
    return Chord(root, CHORD_QUALITIES[rest], symbol, bass)


def diatonic_chord(key: Key, degree: int, size: int = 3) -> Chord:
    """The chord built in thirds on scale ``degree`` (0 = tonic) of ``key``, with ``size`` notes (3, 4 or 5).

    In minor keys the dominant (degree 4) takes the raised leading tone, so V is major (harmonic minor).
    """
    steps = MAJOR_SCALE if key.mode == "major" else MINOR_SCALE
    root_step = steps[degree % 7]
    intervals = []
    for i in range(size):
        idx = degree % 7 + 2 * i
        semis = steps[idx % 7] + 12 * (idx // 7) - root_step
        intervals.append(semis)
    if key.mode == "minor" and degree % 7 == 4:
        intervals[1] = 4  # raised leading tone: V (major) in minor
    root = (key.tonic + root_step) % 12
    return Chord(root, tuple(intervals), chord_symbol(root, tuple(intervals), key))


def chord_symbol(root: int, intervals: tuple[int, ...], key: Key | None = None) -> str:
    """A readable symbol for ``intervals`` above ``root`` (``'Am7'``, ``'Cmaj9'``); falls back to the triad's name."""
    for suffix in ("", "m", "dim", "aug", "7", "maj7", "m7", "m7b5", "9", "maj9", "m9", "sus4", "sus2", "6", "m6",
                   "add9", "dim7", "mmaj7", "5", "11", "m11", "13"):
        if CHORD_QUALITIES[suffix] == tuple(intervals):
            break
    else:
        third = "m" if 3 in intervals and 4 not in intervals else ""
        suffix = "dim" if third and 6 in intervals and 7 not in intervals else third
    name = key.spell(root) if key is not None else SHARP_NAMES[root]
    return name + suffix


def infer_key(pitch_weights: Iterable[tuple[int, float]], first_root: int | None = None) -> Key:
    """Estimate the key from ``(pitch class, weight)`` pairs by Krumhansl-Kessler profile correlation.

    Args:
        pitch_weights: pitch classes with weights (e.g. durations in beats).
        first_root: root of the first chord, if known; ties and near-ties go to keys whose tonic it is.
    """
    hist = np.zeros(12)
    for pc, weight in pitch_weights:
        hist[pc % 12] += weight
    if not hist.any():
        return Key(0, "major")
    best: tuple[float, int, str] | None = None
    for mode, profile in (("major", _KK_MAJOR), ("minor", _KK_MINOR)):
        for tonic in range(12):
            score = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            if first_root is not None and tonic == first_root:
                score += 0.15
            if best is None or score > best[0] + 1e-12:
                best = (score, tonic, mode)
    assert best is not None
    return Key(best[1], best[2])


def chord_pitches_in_range(chord: Chord, low: int, high: int) -> list[int]:
    """Every MIDI pitch in ``[low, high]`` whose pitch class belongs to ``chord``."""
    pcs = set(chord.pitch_classes)
    return [p for p in range(max(0, low), min(127, high) + 1) if p % 12 in pcs]


def nearest_in(pitch: int, candidates: Sequence[int]) -> int:
    """The candidate closest to ``pitch`` (the lower one on ties)."""
    return min(candidates, key=lambda c: (abs(c - pitch), c))
