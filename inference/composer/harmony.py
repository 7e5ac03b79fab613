"""Chord progressions: Roman numerals realised in a key, and one chord per bar for every section of the form.

Progressions start on the tonic and the piece ends on it, so the tonic triad dominates the harmony (which is
what chroma-based key estimation listens for).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from inference.composer.form import Section
from inference.composer.theory import FLAT_NAMES, SHARP_NAMES, Chord, Key, chord_symbol

_ROMAN = re.compile(r"^(b|#)?(VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)(°|o)?$")
_DEGREES = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}


def roman_chord(key: Key, numeral: str, size: int = 3) -> Chord:
    """Realise a Roman numeral in ``key``: case gives the third (upper major, lower minor), ``°`` diminished.

    The fifth, seventh and ninth are taken from the key's scale when the root is diatonic; a ninth that would
    be a minor ninth is left out. ``b``/``#`` alter the root (``bVII`` in a major key is a borrowed chord).

    Args:
        key: the key.
        numeral: e.g. ``'I'``, ``'vi'``, ``'bVII'``, ``'ii°'``.
        size: 3 (triad), 4 (seventh) or 5 (ninth).
    """
    match = _ROMAN.match(numeral)
    if match is None:
        raise ValueError(f"not a Roman numeral: {numeral!r}")
    accidental, text, dim = match.groups()
    degree = _DEGREES[text.lower()]
    shift = {"b": -1, "#": 1}.get(accidental or "", 0)
    root = (key.scale[degree] + shift) % 12
    scale = set(key.scale)
    diatonic = shift == 0
    third = 3 if (text.islower() or dim) else 4
    diminished_fifth = diatonic and (root + 6) % 12 in scale and (root + 7) % 12 not in scale
    fifth = 6 if dim or diminished_fifth else 7
    intervals = [0, third, fifth]
    if size >= 4:
        if dim and (root + 9) % 12 in scale and (root + 10) % 12 not in scale:
            seventh = 9
        elif third == 4 and degree == 4:
            seventh = 10  # dominant seventh on V, in major and minor alike
        else:
            seventh = 11 if (root + 11) % 12 in scale and diatonic and third == 4 else 10
        intervals.append(seventh)
    if size >= 5 and (root + 14) % 12 in scale:
        intervals.append(14)
    symbol = chord_symbol(root, tuple(intervals), key)
    if shift:  # a borrowed root is spelt by its accidental: bVII in C is Bb, not A#
        names = FLAT_NAMES if shift < 0 else SHARP_NAMES
        symbol = names[root] + symbol[len(key.spell(root)):]
    return Chord(root, tuple(intervals), symbol)


def progression(key: Key, numerals: str, size: int) -> list[Chord]:
    """Realise a space-separated Roman-numeral progression such as ``'I vi ii V'``, rotated to start on the tonic.

    Starting every cycle on the tonic (``'ii V I vi'`` plays as ``'I vi ii V'``) keeps the key unambiguous.
    """
    tokens = numerals.split()
    tonic = [i for i, n in enumerate(tokens) if n in ("I", "i")]
    if tonic:
        tokens = tokens[tonic[0]:] + tokens[:tonic[0]]
    return [roman_chord(key, n, size) for n in tokens]


def enrich(chord: Chord, size: int, key: Key) -> Chord:
    """Add a diatonic seventh (size >= 4) to a triad from a seed, keeping the seed's own extensions."""
    if size < 4 or len(chord.intervals) >= 4 or 3 not in chord.intervals and 4 not in chord.intervals:
        return chord
    scale = set(key.scale)
    seventh = 11 if (chord.root + 11) % 12 in scale and 4 in chord.intervals else 10
    if (chord.root + seventh) % 12 not in scale:
        return chord
    intervals = (*chord.intervals, seventh)
    return Chord(chord.root, intervals, chord_symbol(chord.root, intervals, key), chord.bass)


def chords_for_sections(
    sections: Sequence[Section],
    key: Key,
    verse: Sequence[Chord],
    chorus: Sequence[Chord],
    bridge: Sequence[Chord],
    size: int,
    rng: np.random.Generator,
    tonic_intro: bool = True,
) -> list[list[Chord]]:
    """One chord per bar for each section; the last bar of the piece is the tonic chord.

    Args:
        sections: the form.
        key: the key (for the closing tonic).
        verse: progression of the intro, verse and outro sections (a seed's chords go here).
        chorus: progression of chorus sections.
        bridge: progression of break and bridge sections.
        size: chord size for the final tonic (3, 4 or 5).
        rng: the request's random generator (decides whether breaks hold each chord for two bars).
        tonic_intro: hold the tonic chord through the intro (off when a seed's chords should open the piece).
    """
    hold_break = bool(rng.integers(2))
    tonic = roman_chord(key, "I" if key.mode == "major" else "i", size)
    cadence = progression(key, "I IV V I" if key.mode == "major" else "i iv v i", size)
    out: list[list[Chord]] = []
    for section in sections:
        prog = {"chorus": chorus, "break": bridge, "bridge": bridge}.get(section.kind, verse)
        if section.kind == "intro" and tonic_intro:
            prog = [tonic]  # an intro on the tonic establishes the key before the progression moves
        elif section.bars < len(prog) and not (section.kind in ("verse", "outro") and not tonic_intro):
            prog = cadence  # too short for the whole progression: I-IV-V keeps every scale degree in play
        step = 2 if section.kind == "break" and hold_break and len(prog) <= 4 else 1
        out.append([prog[(bar // step) % len(prog)] for bar in range(section.bars)])
    if out:
        out[-1][-1] = tonic
    return out
