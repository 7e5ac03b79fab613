"""Seed material: a ``.mid`` path, raw MIDI bytes, or a compact string of chord symbols and notes.

Strings: ``'midi_string_example_Cmaj7_G6'``, ``'Cmaj7 G6 Am7'`` (one chord per bar) or ``'C4 E4 G4'`` (one note
per beat; ``'C4:0.5'`` gives a length in beats). Leading words that are neither (``midi_string_example``) are
skipped. Every input is bounded: files over 512 KiB are refused, at most ``MAX_NOTES`` notes within the first
``MAX_BEATS`` beats are read, and note lengths are clamped, so hostile files cost bounded time and memory.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.composer.smf import SmfEvents, read_smf
from inference.composer.theory import CHORD_QUALITIES, Chord, chord_symbol, parse_chord, parse_note
from maestro_core.errors import InputError

FIELD = "melody_midi"
MAX_MIDI_BYTES = 1 << 19
MAX_NOTES = 4096
MAX_BEATS = 256.0
MAX_NOTE_BEATS = 16.0
MAX_TOKENS = 256
_TEMPLATES = ("", "m", "7", "maj7", "m7", "dim", "sus4")


@dataclass(frozen=True)
class SeedNote:
    """A seed note: MIDI pitch, start and length in beats (quarter notes), velocity 1..127."""

    pitch: int
    start: float
    duration: float
    velocity: int = 90


@dataclass(frozen=True)
class SeedMaterial:
    """What a seed contributes.

    Attributes:
        source: ``'midi'`` (file or bytes) or ``'text'``.
        chords: harmonic basis, one chord per bar (may be empty).
        notes: the melody line, monophonic, in beats from the seed's start (may be empty).
        tempo_bpm: tempo stored in a MIDI seed, if any.
        sha256: digest of the seed's bytes or text, for provenance.
    """

    source: str
    chords: tuple[Chord, ...]
    notes: tuple[SeedNote, ...]
    tempo_bpm: float | None
    sha256: str


def parse_seed(value: object) -> SeedMaterial:
    """Parse a melody seed given as a path, raw MIDI bytes or a chord/note string.

    Raises:
        InputError: field ``melody_midi``: unreadable file, malformed MIDI, or a string with no chords or notes.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return _parse_midi_bytes(bytes(value))
    if isinstance(value, Path):
        return _parse_midi_bytes(_read_path(value))
    if not isinstance(value, str):
        raise InputError(FIELD, f"must be a .mid path, MIDI bytes or a chord/note string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InputError(FIELD, "is empty; give a .mid path, MIDI bytes or chords such as 'Cmaj7 G6 Am7'")
    if text.lower().endswith((".mid", ".midi")) or "/" in text or "\\" in text:
        return _parse_midi_bytes(_read_path(Path(text).expanduser()))
    return _parse_text(text)


def _read_path(path: Path) -> bytes:
    if path.is_dir():
        raise InputError(FIELD, f"{str(path)!r} is a directory, not a .mid file")
    if not path.is_file():
        raise InputError(FIELD, f"MIDI file {str(path)!r} does not exist" if not path.exists()
                         else f"{str(path)!r} is not a regular file")
    size = path.stat().st_size
    if size > MAX_MIDI_BYTES:
        raise InputError(FIELD, f"MIDI file is {size} bytes; a melody seed may be at most {MAX_MIDI_BYTES} bytes")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(FIELD, f"cannot read {str(path)!r}: {exc.strerror}") from None


def _parse_text(text: str) -> SeedMaterial:
    tokens = [t for t in re.split(r"[\s_,;|]+", text) if t]
    if len(tokens) > MAX_TOKENS:
        raise InputError(FIELD, f"has {len(tokens)} tokens; at most {MAX_TOKENS} chords or notes")
    notes_mode = _ambiguous_tokens_are_notes(tokens)
    chords: list[Chord] = []
    notes: list[SeedNote] = []
    beat = 0.0
    for token in tokens:
        name, _, length = token.partition(":")
        pitch = parse_note(name)
        chord = parse_chord(name) if not length else None
        if pitch is not None and (chord is None or notes_mode):
            dur = _length(token, length)
            notes.append(SeedNote(pitch, beat, dur))
            beat += dur
            continue
        if chord is not None:
            chords.append(chord)
            continue
        if not chords and not notes and re.fullmatch(r"[A-Za-z]+", token):
            continue  # a leading word such as 'midi_string_example'
        suffixes = ", ".join(s for s in CHORD_QUALITIES if s)
        raise InputError(FIELD, f"{token!r} is neither a chord symbol (e.g. Cmaj7, F#m7b5, Bb/D) nor a note "
                                f"(e.g. C4, F#3:0.5); known chord suffixes: {suffixes}")
    if not chords and not notes:
        raise InputError(FIELD, f"no chord symbols or notes found in {text!r}; e.g. 'Cmaj7 G6 Am7' or 'C4 E4 G4'")
    return SeedMaterial("text", tuple(chords), tuple(notes), None, hashlib.sha256(text.encode()).hexdigest())


def _ambiguous_tokens_are_notes(tokens: list[str]) -> bool:
    """Whether tokens such as 'G6' or 'A7' (a note with octave, or a chord) are notes here.

    They follow the unambiguous tokens: 'Cmaj7 G6' is two chords, 'C4 E4 G6' three notes. When every token is
    ambiguous, sevenths and ninths ('G7 C7') read as chords and anything else ('C5 E5 G5') as notes.
    """
    notes = chords = 0
    suffixes = set()
    for token in tokens:
        name, _, length = token.partition(":")
        is_note = parse_note(name) is not None
        is_chord = not length and parse_chord(name) is not None
        notes += is_note and not is_chord
        chords += is_chord and not is_note
        if is_note and is_chord:
            suffixes.add(name[-1])
    if notes or chords:
        return notes >= chords
    return not suffixes or not suffixes <= {"7", "9"}


def _length(token: str, text: str) -> float:
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise InputError(FIELD, f"{token!r}: length {text!r} is not a number of beats") from None
    if not 0.0625 <= value <= MAX_NOTE_BEATS:
        raise InputError(FIELD, f"{token!r}: length must be 0.0625..{MAX_NOTE_BEATS:g} beats")
    return value


def _parse_midi_bytes(data: bytes) -> SeedMaterial:
    if len(data) > MAX_MIDI_BYTES:
        raise InputError(FIELD, f"MIDI data is {len(data)} bytes; a melody seed may be at most {MAX_MIDI_BYTES}")
    if not data.startswith(b"MThd"):
        raise InputError(FIELD, "not a MIDI file (no 'MThd' header); give a Standard MIDI File or a chord string")
    try:
        smf = read_smf(data, MAX_BEATS, MAX_NOTES)
    except ValueError as exc:
        raise InputError(FIELD, f"malformed MIDI file: {exc}") from None
    notes = _collect_notes(smf)
    if not notes:
        raise InputError(FIELD, "the MIDI file holds no notes outside the drum channel")
    beats_per_bar = smf.numerator if smf.numerator and 1 <= smf.numerator <= 12 else 4
    chords = _chords_from_notes(notes, beats_per_bar) if _is_polyphonic(notes) else ()
    tempo = 60e6 / smf.tempo_us if smf.tempo_us else None
    return SeedMaterial("midi", chords, _skyline(notes), tempo, hashlib.sha256(data).hexdigest())


def _collect_notes(smf: SmfEvents) -> list[SeedNote]:
    """Pair note-ons with note-offs (per track order, merged by time); never-released notes end at the last tick."""
    tpb = smf.ticks_per_beat
    events = sorted(enumerate(smf.notes), key=lambda e: (e[1][0], e[0]))  # stable merge of the tracks by tick
    open_notes: dict[tuple[int, int], tuple[int, int]] = {}
    notes: list[SeedNote] = []
    last = 0
    for _, (tick, is_on, channel, pitch, velocity) in events:
        last = tick
        if channel == 9:
            continue  # General MIDI drums carry no melody or harmony
        key = (channel, pitch)
        if key in open_notes:
            notes.append(_note(pitch, *open_notes.pop(key), tick, tpb))
        if is_on:
            open_notes[key] = (tick, velocity)
    for (_, pitch), (start, vel) in sorted(open_notes.items(), key=lambda kv: kv[1][0]):
        notes.append(_note(pitch, start, vel, max(last, start + tpb), tpb))
    notes = notes[:MAX_NOTES]
    notes.sort(key=lambda n: (n.start, -n.pitch))
    return notes


def _note(pitch: int, start: int, velocity: int, end: int, tpb: int) -> SeedNote:
    duration = min(max((end - start) / tpb, 1 / 16), MAX_NOTE_BEATS)
    return SeedNote(pitch, start / tpb, duration, velocity)


def _is_polyphonic(notes: list[SeedNote]) -> bool:
    starts = np.array([n.start for n in notes])
    latest_end = np.maximum.accumulate(np.array([n.start + n.duration for n in notes]))
    overlapping = int(np.count_nonzero(starts[1:] < latest_end[:-1] - 1e-6))
    return overlapping >= 0.3 * max(1, len(notes) - 1)


def _skyline(notes: list[SeedNote]) -> tuple[SeedNote, ...]:
    """The highest note at each onset, cut where the next onset begins: a monophonic melody."""
    by_onset: dict[float, SeedNote] = {}
    for n in notes:
        if n.start not in by_onset or n.pitch > by_onset[n.start].pitch:
            by_onset[n.start] = n
    onsets = sorted(by_onset)
    line = []
    for i, t in enumerate(onsets):
        n = by_onset[t]
        nxt = onsets[i + 1] if i + 1 < len(onsets) else t + n.duration
        line.append(SeedNote(n.pitch, t, max(1 / 16, min(n.duration, nxt - t)), n.velocity))
    return tuple(line)


def _chords_from_notes(notes: list[SeedNote], beats_per_bar: int, max_bars: int = 16) -> tuple[Chord, ...]:
    """Best-fitting chord per bar (duration-weighted pitch classes against triad and seventh templates)."""
    bars = min(max_bars, int(max(n.start for n in notes) // beats_per_bar) + 1)
    chords: list[Chord] = []
    for bar in range(bars):
        lo, hi = bar * beats_per_bar, (bar + 1) * beats_per_bar
        hist = np.zeros(12)
        lowest = None
        for n in notes:
            overlap = min(hi, n.start + n.duration) - max(lo, n.start)
            if overlap > 0:
                hist[n.pitch % 12] += overlap
                lowest = n.pitch if lowest is None or n.pitch < lowest else lowest
        if not hist.any():
            continue
        best = None
        for root in range(12):
            for suffix in _TEMPLATES:
                pcs = {(root + iv) % 12 for iv in CHORD_QUALITIES[suffix]}
                inside = sum(hist[pc] for pc in pcs)
                score = inside - 0.6 * (hist.sum() - inside) - 0.1 * len(pcs)
                score += 0.5 * hist.max() * (lowest is not None and lowest % 12 == root)
                if best is None or score > best[0] + 1e-9:
                    best = (score, root, suffix)
        assert best is not None
        _, root, suffix = best
        chords.append(Chord(root, CHORD_QUALITIES[suffix], chord_symbol(root, CHORD_QUALITIES[suffix])))
    return tuple(chords)
