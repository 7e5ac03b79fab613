"""Request -> plan: validate every field, then fix tempo, key, metre, form, harmony, instruments and styles.

All choices flow from the request and one ``numpy.random.Generator`` seeded with the request's seed, so a plan
is a pure function of (request, seed, descriptors).
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.composer.form import Section, bars_for_duration, plan_form
from inference.composer.gm import DRUM_KITS, GM_PROGRAM_NAMES
from inference.composer.harmony import chords_for_sections, enrich, progression
from inference.composer.midi_input import SeedMaterial
from inference.composer.presets import Genre, Mood, get_genre, get_mood
from inference.composer.theory import Chord, Key, infer_key, parse_key
from maestro_core.errors import InputError
from maestro_core.limits import DURATION_RANGE_S, TEMPO_RANGE_BPM

# BPM and seconds, inclusive; maestro_core.limits is the one source of both.
TEMPO_RANGE: tuple[float, float] = (float(TEMPO_RANGE_BPM[0]), float(TEMPO_RANGE_BPM[1]))
DURATION_RANGE: tuple[float, float] = (float(DURATION_RANGE_S[0]), float(DURATION_RANGE_S[1]))
METRES = tuple(f"{n}/4" for n in range(2, 8))
_TONICS = (0, 2, 3, 4, 5, 7, 9, 10)  # keys the composer picks when none is asked for: C D Eb E F G A Bb
_SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}


@dataclass(frozen=True)
class Feel:
    """Blended mood and phrase descriptors, each in [0, 1]."""

    energy: float
    brightness: float
    density: float
    mode: float
    colour: float
    texture: float
    tension: float
    space: float


@dataclass(frozen=True)
class Voice:
    """A part: its role, GM program (or drum kit) and the alternatives that would also fit."""

    role: str
    program: int
    alternatives: tuple[int, ...]
    is_drum: bool = False


@dataclass(frozen=True)
class Plan:
    """Everything the arranger needs; see the field docs of :class:`GenerationRequest` for units."""

    genre: Genre
    mood: Mood
    feel: Feel
    key: Key
    tempo_bpm: float
    beats_per_bar: int
    total_bars: int
    sections: tuple[Section, ...]
    chords: tuple[tuple[Chord, ...], ...]
    voices: tuple[Voice, ...]
    bass_style: str
    comp_style: str
    grooves: dict[str, int]
    title: str

    @property
    def time_signature(self) -> str:
        return f"{self.beats_per_bar}/4"


def check_number(field: str, value: object, low: float, high: float, unit: str) -> float:
    """``value`` as a float in ``[low, high]``; InputError naming ``field`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, f"must be a number of {unit} between {low:g} and {high:g}, got {value!r}")
    if not low <= value <= high:
        raise InputError(field, f"{value:g} {unit} is outside {low:g}..{high:g}")
    return float(value)


def parse_metre(value: object) -> int:
    """Beats per bar of a ``'N/4'`` time signature (None means 4/4)."""
    if value is None:
        return 4
    text = value.strip() if isinstance(value, str) else value
    if text not in METRES:
        raise InputError("time_signature", f"{value!r} is not supported; accepted: {', '.join(METRES)}")
    return int(str(text).split("/")[0])


def make_title(phrases: Sequence[str], genre: Genre, mood: Mood) -> str:
    """A deterministic, non-empty title from the key phrases.

    Only phrases that keep a letter or digit once punctuation and symbols are dropped can name the track; when
    none does (no phrases, or emoji only), the title comes from mood and genre.
    """
    titles = [t for t in (_title_case(p) for p in phrases) if any(ch.isalnum() for ch in t)]
    if not titles:
        return _title_case(f"{mood.name.replace('-', ' ')} {genre.name.replace('-', ' ')}")
    digest = hashlib.sha256("|".join(p.lower() for p in phrases).encode()).digest()
    main = titles[digest[0] % len(titles)]
    others = [t for t in titles if t != main]
    if not others or digest[1] % 3 == 0:
        return main
    return f"{main} ({others[digest[2] % len(others)]})"


def _title_case(text: str) -> str:
    words = re.sub(r"[^\w\s'&-]", "", text).split()
    return " ".join(w if w.isupper() and len(w) > 1 else (w.lower() if i and w.lower() in _SMALL_WORDS
                                                          else w[:1].upper() + w[1:].lower())
                    for i, w in enumerate(words))


def blend_feel(mood: Mood, descriptors: Mapping[str, float] | None) -> Feel:
    """Mood presets, pulled halfway towards the phrase descriptors when there are phrases."""
    d = descriptors or {}

    def mix(name: str, base: float) -> float:
        return round(0.5 * base + 0.5 * float(d[name]), 4) if name in d else base

    return Feel(energy=mix("energy", mood.energy), brightness=mix("brightness", mood.brightness),
                density=mix("density", mood.density), mode=mix("mode", mood.mode),
                colour=float(d.get("colour", 0.5)), texture=float(d.get("texture", 0.5)),
                tension=mood.tension, space=mood.space)


def choose_voices(genre: Genre, feel: Feel, rng: np.random.Generator,
                  override: Mapping[str, Any] | None) -> tuple[Voice, ...]:
    """A GM program per role: the ``colour`` descriptor leans warm/acoustic (0) or electronic (1)."""
    chosen = check_instrumentation(override, genre)
    voices = []
    for role in genre.roles:
        n = len(role.programs)
        idx = int(np.clip(round(feel.colour * (n - 1) + rng.uniform(-0.7, 0.7)), 0, n - 1))
        program = chosen.get(role.role, role.programs[idx])
        voices.append(Voice(role.role, program, tuple(p for p in role.programs if p != program)))
    if genre.kit is not None:
        kit = chosen.get("drums", genre.kit)
        voices.append(Voice("drums", kit, tuple(k for k in (genre.kit, 0, 8, 24, 25) if k != kit)[:3], True))
    return tuple(voices)


def check_instrumentation(value: object, genre: Genre) -> dict[str, int]:
    """``instrumentation`` as role -> GM program 0..127 (a drum kit number for ``drums``); None means none.

    Raises:
        InputError: naming ``instrumentation`` (not a mapping, unknown role) or ``instrumentation.<role>``
            (unknown instrument or kit).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError("instrumentation", "must be a mapping of role -> GM instrument name or program, e.g. "
                                            f"{{'lead': 'Flute'}}; got {type(value).__name__} {value!r:.60}")
    programs = {r.role for r in genre.roles}
    accepted = [*programs, *(["drums"] if genre.kit is not None else [])]
    chosen = {}
    for role, instrument in value.items():
        if role not in accepted:
            raise InputError("instrumentation",
                             f"unknown role {role!r} for {genre.name}; accepted: {', '.join(accepted)}")
        chosen[role] = _program(f"instrumentation.{role}", instrument) if role in programs else _kit(instrument)
    return chosen


def _program(field: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 127:
        return value
    if isinstance(value, str):
        names = {n.lower(): i for i, n in enumerate(GM_PROGRAM_NAMES)}
        if value.strip().lower() in names:
            return names[value.strip().lower()]
        close = difflib.get_close_matches(value.strip().lower(), list(names), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(GM_PROGRAM_NAMES[names[c]]) for c in close)}?" if close else ""
        raise InputError(field, f"unknown General MIDI instrument {value!r}{hint}")
    raise InputError(field, f"must be a General MIDI program 0..127 or name, got {value!r}")


def _kit(value: object) -> int:
    if isinstance(value, str) and value.strip().lower() in DRUM_KITS:
        return DRUM_KITS[value.strip().lower()]
    raise InputError("instrumentation.drums", f"unknown drum kit {value!r}; accepted: {', '.join(DRUM_KITS)}")


def make_plan(request: Any, seed_material: SeedMaterial | None, descriptors: Mapping[str, float] | None,
              rng: np.random.Generator) -> Plan:
    """Fix every musical decision for ``request`` (a validated GenerationRequest)."""
    genre, mood = get_genre(request.genre), get_mood(request.mood)
    feel = blend_feel(mood, descriptors)
    beats = parse_metre(request.time_signature)
    tempo = _tempo(request.tempo_bpm, seed_material, genre, mood, feel)
    size = genre.chord_size if feel.tension >= 0.2 or genre.chord_size <= 3 else max(3, genre.chord_size - 1)
    key, seed_chords = _key_and_seed_chords(request.key, seed_material, feel, rng, size)
    total_bars = bars_for_duration(request.duration_s, tempo, beats)
    sections = plan_form(total_bars, rng)
    numerals = genre.major if key.mode == "major" else genre.minor
    verse = seed_chords or progression(key, str(rng.choice(numerals)), size)
    chorus = progression(key, str(rng.choice(numerals)), size)
    bridge = progression(key, str(rng.choice(numerals)), size)
    chords = chords_for_sections(sections, key, verse, chorus, bridge, size, rng, tonic_intro=not seed_chords)
    voices = choose_voices(genre, feel, rng, request.instrumentation)
    grooves = {kind: int(rng.integers(len(genre.grooves))) if genre.grooves else 0
               for kind in ("verse", "chorus", "bridge")}
    return Plan(genre=genre, mood=mood, feel=feel, key=key, tempo_bpm=tempo, beats_per_bar=beats,
                total_bars=total_bars, sections=tuple(sections), chords=tuple(tuple(c) for c in chords),
                voices=voices, bass_style=str(rng.choice(genre.bass_styles)),
                comp_style=str(rng.choice(genre.comp_styles)), grooves=grooves,
                title=make_title(request.key_phrases, genre, mood))


def _tempo(requested: float | None, seed: SeedMaterial | None, genre: Genre, mood: Mood, feel: Feel) -> float:
    if requested is not None:
        return float(requested)
    if seed is not None and seed.tempo_bpm is not None:
        return float(round(min(max(seed.tempo_bpm, TEMPO_RANGE[0]), TEMPO_RANGE[1]), 2))
    lo, hi = genre.tempo_range
    position = np.clip(0.5 + 0.35 * mood.tempo_bias + 0.3 * (feel.energy - 0.5), 0.0, 1.0)
    return float(round(lo + (hi - lo) * position))


def _key_and_seed_chords(requested: str | None, seed: SeedMaterial | None, feel: Feel,
                         rng: np.random.Generator, size: int) -> tuple[Key, list[Chord]]:
    target = parse_key(requested) if requested is not None else None
    if seed is None or (not seed.chords and not seed.notes):
        if target is None:
            target = Key(int(rng.choice(_TONICS)), "major" if feel.mode >= 0.5 else "minor")
        return target, []
    weights = [(pc, 1.0 + (pc == c.root)) for c in seed.chords for pc in c.pitch_classes]
    weights += [(n.pitch % 12, n.duration) for n in seed.notes]
    seed_key = infer_key(weights, seed.chords[0].root if seed.chords else None)
    if target is None:
        target = seed_key
    shift = ((target.tonic if target.mode == seed_key.mode else target.relative.tonic) - seed_key.tonic) % 12
    chords = [enrich(c.transpose(shift, target), size, target) for c in seed.chords]  # respelt in key
    return target, chords
