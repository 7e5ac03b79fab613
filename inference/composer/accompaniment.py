"""Bass, harmony and drum parts, bar by bar, in the playing style the plan chose.

Rhythm is written for clear beats: the bass and kick land on every downbeat, chords change on bar lines, and
drum grooves put backbeats on beats 2 and 4. Times are MIDI ticks (``TPB`` per beat); notes are
``(start_tick, end_tick, pitch, velocity)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference.composer.gm import CLOSED_HAT, CRASH, KICK, LOW_TOM, MID_TOM, SHAKER, SNARE
from inference.composer.melody import STEP, TPB, Note
from inference.composer.presets import DrumPattern
from inference.composer.theory import Chord

_VEL = {"X": 1.0, "x": 0.78, "o": 0.45}
_THIN_KEYS = (CLOSED_HAT, SHAKER)  # sixteenth-note layers a sparse groove plays as eighths
# Strum patterns (beat, accent): down strokes on the beat, up strokes between (played high string first).
_STRUMS = (((0, 1.0), (1, 0.8), (1.5, 0.6), (2.5, 0.7), (3, 0.85), (3.5, 0.6)),
           ((0, 1.0), (0.5, 0.55), (1, 0.8), (1.5, 0.55), (2, 0.9), (2.5, 0.55), (3, 0.8), (3.5, 0.55)),
           ((0, 1.0), (1.5, 0.65), (2, 0.85), (2.5, 0.6), (3.5, 0.6)))
# Chop rhythms (beat, length in beats): the syncopated stabs of a sampled chord loop.
_CHOPS = (((0, 0.7), (0.75, 0.5), (1.5, 0.4), (2.5, 0.9), (3.5, 0.4)),
          ((0, 1.4), (1.75, 0.5), (2.5, 0.4), (3.25, 0.6)),
          ((0, 0.45), (0.5, 0.45), (1.75, 0.7), (2.75, 0.45), (3.0, 0.9)))


def _vel(base: float, scale: float, rng: np.random.Generator) -> int:
    return int(np.clip(round(base * scale + rng.integers(-5, 6)), 1, 127))


def voice(chord: Chord, centre: int, previous: Sequence[int] | None, notes: int = 4) -> list[int]:
    """A close-position voicing near ``centre`` that moves as little as possible from ``previous``.

    The root is always included; with fewer slots than chord tones the fifth is dropped first.
    """
    pcs = list(chord.pitch_classes)
    if len(pcs) > notes and len(pcs) >= 3:
        fifth = (chord.root + 7) % 12
        pcs = [pc for pc in pcs if pc != fifth] if fifth in pcs else pcs
    pcs = pcs[:notes]
    best: tuple[float, list[int]] | None = None
    for lowest in range(centre - 8, centre + 5):
        if lowest % 12 not in pcs:
            continue
        voicing, pitch = [lowest], lowest
        for _ in range(len(pcs) - 1):
            pitch += 1
            while pitch % 12 not in pcs or pitch % 12 in (v % 12 for v in voicing):
                pitch += 1
            voicing.append(pitch)
        cost = abs(np.mean(voicing) - centre) * 0.5
        if previous:
            cost += sum(min(abs(v - p) for p in previous) for v in voicing)
        if best is None or cost < best[0] - 1e-9:
            best = (float(cost), voicing)
    assert best is not None
    return best[1]


def bass_bar(style: str, chord: Chord, nxt: Chord, tick: int, beats: int, level: float,
             rng: np.random.Generator, final: bool = False) -> list[Note]:
    """One bar of bass in ``style``; the root always sounds on the downbeat.

    Styles: ``sustain``, ``root_half``, ``root_fifth``, ``boom``, ``offbeat``, ``octave8``, ``root_8``,
    ``rock8``, ``walking``.
    """
    root = 36 + (((chord.bass if chord.bass is not None else chord.root) - 36) % 12)
    root = root + 12 if root < 38 else root
    fifth = root + 7 if root + 7 <= 55 else root - 5
    bar = beats * TPB
    vel = 70 + 45 * level
    if final or style == "sustain":
        return [(tick, tick + bar - (bar // 4 if final else STEP), root, _vel(vel, 0.95, rng))]
    out: list[Note] = []

    def add(beat: float, length: float, pitch: int, accent: float = 0.85) -> None:
        start = tick + int(round(beat * TPB))
        out.append((start, start + max(STEP // 2, int(round(length * TPB))), pitch, _vel(vel, accent, rng)))

    if style == "root_half":
        add(0, min(2, beats) - 0.1, root, 1.0)
        if beats >= 3:
            add(2, beats - 2 - 0.1, fifth if rng.random() < 0.4 else root)
    elif style == "root_fifth":
        for b in range(beats):
            add(b, 0.9, root if b % 2 == 0 else fifth, 1.0 if b == 0 else 0.8)
        if rng.random() < 0.5:
            approach = 36 + ((nxt.root - 36) % 12) + (1 if rng.random() < 0.5 else -1)
            out[-1] = (out[-1][0], out[-1][0] + TPB // 2, out[-1][2], out[-1][3])
            add(beats - 0.5, 0.45, max(28, approach), 0.7)
    elif style == "boom":
        add(0, 1.4, root, 1.0)
        add(1.5, 0.4, root, 0.75)
        if beats >= 3:
            add(2.5, 0.9, fifth if rng.random() < 0.5 else root, 0.8)
    elif style == "offbeat":
        add(0, 0.2, root, 0.9)
        for b in range(beats):
            add(b + 0.5, 0.35, root + (12 if b % 2 and rng.random() < 0.3 else 0), 0.95)
    elif style in ("octave8", "root_8", "rock8"):
        for e in range(2 * beats):
            pitch = root + 12 if style == "octave8" and e % 2 else root
            if style == "rock8" and e == 2 * beats - 1 and rng.random() < 0.4:
                pitch = fifth
            add(e / 2, 0.42, pitch, 1.0 if e % 2 == 0 else 0.72)
    elif style == "walking":
        tones = [root] + [root + iv for iv in chord.intervals[1:3] if iv < 12]
        target = 36 + ((nxt.root - 36) % 12)
        for b in range(beats):
            if b == 0:
                pitch = root
            elif b == beats - 1:
                pitch = target + (1 if rng.random() < 0.5 else -1)
            else:
                pitch = int(rng.choice(tones))
            add(b, 0.92, pitch, 1.0 if b == 0 else 0.82)
    else:
        raise ValueError(f"unknown bass style {style!r}")
    return out


def comp_bar(style: str, chord: Chord, voicing: list[int], tick: int, beats: int, level: float,
             rng: np.random.Generator, final: bool = False, variant: int = 0) -> list[Note]:
    """One bar of harmony in ``style`` from a ready ``voicing`` (MIDI pitches, low to high).

    Styles: ``pad``, ``block4``, ``arp8``, ``arp16``, ``stab``, ``strum``, ``power8``, ``jazzcomp``, ``alberti``,
    ``ostinato8``, ``chop`` (sampled-feel stabs), ``travis`` (fingerpicking). ``variant`` (the piece's, fixed by
    the seed) picks the strum and chop rhythm, so a piece keeps one groove and two seeds get different ones.
    """
    vel = 50 + 45 * level
    out: list[Note] = []

    def chord_at(beat: float, length: float, pitches: Sequence[int], accent: float = 0.85, spread: int = 0) -> None:
        start = tick + int(round(beat * TPB))
        for i, p in enumerate(pitches):
            s = start + i * spread
            out.append((s, s + max(STEP // 2, int(round(length * TPB)) - i * spread), p, _vel(vel, accent, rng)))

    if final or style == "pad":
        chord_at(0, beats * (0.75 if final else 1.0) - (0 if final else 0.05), voicing, 0.9)
    elif style == "block4":
        for b in range(beats):
            chord_at(b, 0.85, voicing, 1.0 if b == 0 else 0.8)
    elif style in ("arp8", "arp16", "alberti", "ostinato8"):
        per_beat = 4 if style == "arp16" else 2
        if style == "alberti":
            low = voicing[0] - 12 if voicing[0] >= 52 else voicing[0]
            order = [low, low + 7, low + (3 if chord.is_minor else 4) + 12, low + 7]
        elif style == "ostinato8":
            order = [voicing[0] - 12, voicing[0], voicing[0] - 12, voicing[min(2, len(voicing) - 1)] - 12]
        else:
            up = list(voicing) + [voicing[0] + 12]
            order = up + up[-2:0:-1] if rng.random() < 0.5 else up
        for e in range(per_beat * beats):
            pitch = order[e % len(order)]
            accent = 1.0 if e % per_beat == 0 else 0.7
            chord_at(e / per_beat, 1.0 / per_beat * 0.95, [pitch], accent)
    elif style == "stab":
        for b in range(beats):
            chord_at(b + 0.5, 0.22, voicing, 0.9)
    elif style == "strum":
        for beat, accent in _STRUMS[variant % len(_STRUMS)]:
            if beat < beats:
                pitches = voicing if int(beat * 2) % 2 == 0 else voicing[::-1]
                chord_at(beat, 0.48 if beat % 1 else 0.95, pitches, accent, spread=12)
    elif style == "chop":  # a sampled-feel chop: short, syncopated stabs of the chord, one rhythm per bar
        rhythm = _CHOPS[variant % len(_CHOPS)]
        for beat, length in rhythm:
            if beat < beats:
                chord_at(beat, length, voicing, 1.0 if beat == 0 else 0.82)
    elif style == "travis":  # fingerpicked folk guitar: alternating bass under the chord's upper notes
        low = voicing[0] - 12 if voicing[0] >= 52 else voicing[0]
        for e in range(2 * beats):
            pitch = (low if e % 4 == 0 else low + 7) if e % 2 == 0 else voicing[1 + (e // 2) % (len(voicing) - 1)]
            chord_at(e / 2, 0.9 if e % 2 == 0 else 0.45, [pitch], 1.0 if e % 2 == 0 else 0.7)
    elif style == "power8":
        root = voicing[0] - 12 if voicing[0] >= 52 else voicing[0]
        third = root + 12 + (3 if chord.is_minor else 4)  # a tenth on top keeps the mode audible
        for e in range(2 * beats):
            chord_at(e / 2, 0.42, [root, root + 7, root + 12, third], 1.0 if e % 2 == 0 else 0.75)
    elif style == "jazzcomp":
        shells = voicing[1:] if len(voicing) > 3 else voicing
        for beat, length in ((0, 1.4), (1.5, 0.4), (3.0, 0.6)) if rng.random() < 0.6 else ((0, 0.9), (2.5, 1.0)):
            if beat < beats:
                chord_at(beat, length, shells, 0.85)
    else:
        raise ValueError(f"unknown comp style {style!r}")
    return out


def drum_bar(pattern: DrumPattern, tick: int, beats: int, level: float, rng: np.random.Generator,
             keys: set[int] | None = None, fill: bool = False, ghosts: bool = True) -> list[Note]:
    """One bar of ``pattern`` (written for 4/4) fitted to ``beats`` beats; ``keys`` limits which drums play,
    ``ghosts`` False leaves the ghost notes (``o``) and the off-eighth hats and shakers out (a sparser groove).

    Beat 1 of any bar uses the pattern's beat 1, the bar's last beat its beat 4 (the backbeat) and the beats
    between alternate its beats 2 and 3. ``fill`` turns the last beat into a snare and tom run.
    """
    out: list[Note] = []
    vel = 60 + 60 * level
    source_beats = [0] + [(1 if b % 2 else 2) for b in range(1, beats - 1)] + ([3] if beats > 1 else [])
    for b, src in enumerate(source_beats):
        if fill and b == beats - 1:
            for s, key in enumerate((SNARE, MID_TOM, LOW_TOM, SNARE)):
                start = tick + b * TPB + s * STEP
                out.append((start, start + STEP, key, _vel(vel, 0.6 + 0.1 * s, rng)))
            continue
        for key, steps in pattern.hits:
            if keys is not None and key not in keys:
                continue
            for s in range(4):
                mark = steps[src * 4 + s]
                if not ghosts and (mark == "o" or (s % 2 == 1 and key in _THIN_KEYS)):
                    continue
                if mark in _VEL:
                    start = tick + b * TPB + s * STEP
                    out.append((start, start + STEP, key, _vel(vel, _VEL[mark], rng)))
    return out


def ending_hits(tick: int, level: float, rng: np.random.Generator) -> list[Note]:
    """The last bar's drums: kick and crash together on the downbeat."""
    vel = 60 + 60 * level
    return [(tick, tick + STEP, KICK, _vel(vel, 1.0, rng)), (tick, tick + STEP, CRASH, _vel(vel, 0.8, rng))]
