"""Smooth playlist order: keys adjacent on the circle of fifths, tempo steps within ~8 %.

Pure functions. A key is placed on the circle of fifths by its key signature (a minor key shares the position of
its relative major), so "adjacent" means at most one sharp or flat apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_TEMPO_STEP = 0.08  # largest relative tempo change between neighbours
_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
FIFTHS_MAJOR = ("C", "G", "D", "A", "E", "B", "F#", "Db", "Ab", "Eb", "Bb", "F")


def pitch_class(name: str) -> int:
    """'F#' -> 6, 'Bb' -> 10."""
    letter, accidentals = name[0].upper(), name[1:]
    return (_PITCH[letter] + accidentals.count("#") - accidentals.count("b")) % 12


def fifths_position(key: str | None) -> int | None:
    """Position 0..11 on the circle of fifths (C major / A minor = 0, G / E minor = 1, ...); None if unparseable."""
    if not key:
        return None
    parts = key.replace("-", " ").split()
    try:
        tonic = pitch_class(parts[0])
    except (KeyError, IndexError):
        return None
    minor = len(parts) > 1 and parts[1].lower().startswith("min")
    major_tonic = (tonic + 3) % 12 if minor else tonic
    return (major_tonic * 7) % 12  # pitch class -> steps of a fifth from C


def key_distance(a: str | None, b: str | None) -> int:
    """Steps apart on the circle of fifths (0..6); 6 when either key is unknown."""
    pa_, pb = fifths_position(a), fifths_position(b)
    if pa_ is None or pb is None:
        return 6
    d = abs(pa_ - pb) % 12
    return min(d, 12 - d)


def tempo_step(a: float | None, b: float | None) -> float:
    """Relative tempo change |b - a| / a; 1.0 when unknown."""
    if not a or not b:
        return 1.0
    return abs(b - a) / a


def smooth_order(tracks: Sequence[Mapping[str, Any]],
                 after: Mapping[str, Any] | None = None) -> list[Mapping[str, Any]]:
    """Orders tracks (each with TEMPO_BPM and MUSICAL_KEY) so neighbours differ little, starting next to ``after``
    (the playlist's current last track) when given.

    Greedy nearest neighbour on (tempo step beyond 8 %, key distance beyond 1, key distance, tempo step), then
    TRACK_ID for determinism.
    """
    remaining = sorted(tracks, key=lambda t: (t.get("TEMPO_BPM") or 0, t.get("TRACK_ID") or ""))
    order: list[Mapping[str, Any]] = []
    current = after
    while remaining:
        here = current
        nxt = remaining[0] if here is None else min(remaining, key=lambda t: _cost(here, t))
        order.append(nxt)
        remaining.remove(nxt)
        current = nxt
    return order


def _cost(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[float, ...]:
    step = tempo_step(a.get("TEMPO_BPM"), b.get("TEMPO_BPM"))
    dist = key_distance(a.get("MUSICAL_KEY"), b.get("MUSICAL_KEY"))
    return (max(0.0, step - MAX_TEMPO_STEP), max(0, dist - 1), dist, step, 0 if b.get("TRACK_ID") is None else 1)


def plan_keys_and_tempos(count: int, tempo_min: int, tempo_max: int, start_key: str | None,
                         start_tempo: float | None, minor: bool) -> list[tuple[str, int]]:
    """``count`` (key, tempo) pairs that walk the circle of fifths one step at a time and the tempo window in
    small steps, starting next to the playlist's last track (or the window's low end)."""
    position = fifths_position(start_key)
    position = 0 if position is None else position
    lo, hi = sorted((tempo_min, tempo_max))
    tempo = min(max(int(round(start_tempo or lo)), lo), hi)
    step = max(1, int(tempo * 0.05))
    direction = 1 if tempo + step <= hi else -1
    out = []
    for i in range(count):
        position = (position + 1) % 12
        major = FIFTHS_MAJOR[position]
        name = _relative_minor(major) + " minor" if minor else major + " major"
        if i:
            if not lo <= tempo + direction * step <= hi:
                direction = -direction
            tempo = min(max(tempo + direction * step, lo), hi)
        out.append((name, tempo))
    return out


def _relative_minor(major: str) -> str:
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
    return names[(pitch_class(major) + 9) % 12]
