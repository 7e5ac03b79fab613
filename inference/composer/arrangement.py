"""Plan -> arrangement: every part's notes over the form, with swing and per-section dynamics.

Parts enter and leave by section (intros are thin, breaks drop the drums' kick and the bass, choruses are full)
and velocities follow each section's energy, so the dynamics change across the piece.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from inference.composer.accompaniment import bass_bar, comp_bar, drum_bar, ending_hits, voice
from inference.composer.form import Section
from inference.composer.gm import CLOSED_HAT, CRASH, KICK, RIDE, SHAKER, TAMBOURINE
from inference.composer.melody import (
    STEP,
    TPB,
    MelodyWriter,
    MotifNote,
    Note,
    make_motif,
    motif_from_seed,
    write_melody,
)
from inference.composer.midi_input import SeedMaterial
from inference.composer.plan import Plan
from inference.composer.theory import Chord

# Mixer settings per role: (channel volume 0..127, pan 0 left .. 127 right).
_MIX = {"bass": (104, 64), "keys": (88, 50), "guitar": (86, 44), "strings": (92, 56), "pad": (84, 60),
        "lead": (96, 78), "drums": (100, 64), "brass": (80, 70)}
_SWELL_GENRES = ("cinematic",)  # sustained parts swell (crescendo) into every section change
_LIGHT_KEYS = {CLOSED_HAT, SHAKER, TAMBOURINE, RIDE, KICK}


@dataclass(frozen=True)
class Part:
    """One instrument: GM program (or drum kit on channel 10), mixer settings and its notes in ticks."""

    role: str
    program: int
    channel: int
    is_drum: bool
    volume: int
    pan: int
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class Arrangement:
    """The whole piece in MIDI ticks (``ticks_per_beat`` per quarter note) at a constant tempo."""

    tempo_bpm: float
    beats_per_bar: int
    ticks_per_beat: int
    total_ticks: int
    parts: tuple[Part, ...]
    plan: Plan

    @property
    def tempo_us(self) -> int:
        """Microseconds per beat, as written to the MIDI file (the render uses the same value)."""
        return int(round(60e6 / self.tempo_bpm))

    def seconds(self, tick: int) -> float:
        return tick * self.tempo_us / (1e6 * self.ticks_per_beat)


def arrange(plan: Plan, seed: SeedMaterial | None, rng: np.random.Generator) -> Arrangement:
    """Write every part of ``plan``; ``seed``'s notes, when present, become the verse motif."""
    beats = plan.beats_per_bar
    bar_ticks = beats * TPB
    level = 0.7 + 0.4 * plan.feel.energy
    parts: list[Part] = []
    channel = 0
    for v in plan.voices:
        if v.is_drum:
            notes = _drums(plan, rng, level)
            ch = 9
        else:
            notes = {"bass": _bass, "lead": _lead, "brass": _brass}.get(v.role, _comp)(plan, seed, rng, level)
            ch = channel
            channel += 1 if channel != 8 else 2
        volume, pan = _MIX.get(v.role, (90, 64))
        notes = _swing(notes, plan.genre.swing, plan.genre.swing_step) if plan.genre.swing else notes
        parts.append(Part(v.role, v.program, ch, v.is_drum, volume, pan, tuple(sorted(notes))))
    return Arrangement(plan.tempo_bpm, beats, TPB, plan.total_bars * bar_ticks, tuple(parts), plan)


def _bars(plan: Plan) -> Iterator[tuple[Section, int, Chord, Chord, bool]]:
    """(section, bar index in piece, chord, next chord, is final bar) for every bar."""
    flat = [(s, s.start_bar + i, c) for s, chords in zip(plan.sections, plan.chords, strict=True)
            for i, c in enumerate(chords)]
    for i, (section, bar, chord) in enumerate(flat):
        nxt = flat[i + 1][2] if i + 1 < len(flat) else chord
        yield section, bar, chord, nxt, i == len(flat) - 1


def _bass(plan: Plan, seed: SeedMaterial | None, rng: np.random.Generator, level: float) -> list[Note]:
    out: list[Note] = []
    for section, bar, chord, nxt, final in _bars(plan):
        if section.kind == "break" or (section.kind == "intro" and bar < section.start_bar + section.bars // 2):
            continue
        style = "sustain" if section.kind == "outro" and plan.bass_style == "walking" else plan.bass_style
        out += bass_bar(style, chord, nxt, bar * plan.beats_per_bar * TPB, plan.beats_per_bar,
                        level * section.energy, rng, final)
    return out


def _comp(plan: Plan, seed: SeedMaterial | None, rng: np.random.Generator, level: float) -> list[Note]:
    return _harmony(plan, rng, level, "keys")


def _brass(plan: Plan, seed: SeedMaterial | None, rng: np.random.Generator, level: float) -> list[Note]:
    return _harmony(plan, rng, level, "brass")


def _harmony(plan: Plan, rng: np.random.Generator, level: float, role: str) -> list[Note]:
    """Chords in the plan's comp style; the mood's brightness sets the register (dark low, bright high).

    ``brass`` doubles the harmony as sustained chords a fifth lower, only in the full sections (choruses,
    bridges, outros). In the swell genres every sustained part rises in velocity through each section.
    """
    centre = int(round(52 + 16 * plan.feel.brightness)) - (7 if role == "brass" else 0)
    size = 3 if plan.comp_style in ("strum", "power8", "travis") else 4
    variant = int(rng.integers(6))
    swell = plan.genre.name in _SWELL_GENRES
    previous: list[int] | None = None
    for_brass = ("chorus", "bridge", "outro")
    out: list[Note] = []
    for section, bar, chord, _nxt, final in _bars(plan):
        if role == "brass" and section.kind not in for_brass:
            continue
        sparse = section.kind in ("break", "intro") and plan.comp_style in ("stab", "power8", "chop")
        style = "pad" if sparse or role == "brass" else plan.comp_style
        voicing = voice(chord, centre, previous, notes=size)
        previous = voicing
        gain = 0.55 + 0.45 * section.energy
        if swell:
            gain *= 0.7 + 0.45 * (bar - section.start_bar) / max(1, section.bars - 1)
        out += comp_bar(style, chord, voicing, bar * plan.beats_per_bar * TPB, plan.beats_per_bar,
                        level * gain, rng, final, variant)
    return out


def _lead(plan: Plan, seed: SeedMaterial | None, rng: np.random.Generator, level: float) -> list[Note]:
    centre = plan.genre.melody_register + int(round(12 * (plan.feel.brightness - 0.5)))
    writer = MelodyWriter(plan.key, plan.beats_per_bar, centre, rng)
    rate = plan.genre.melody_rate * (0.6 + 0.8 * plan.feel.density)
    verse: tuple[tuple[MotifNote, ...], int, int | None]
    if seed is not None and seed.notes:
        verse = motif_from_seed(seed.notes, plan.key, plan.beats_per_bar)
    else:
        verse = (make_motif(rng, plan.beats_per_bar, rate), 1, None)
    chorus = (make_motif(rng, plan.beats_per_bar, rate * 1.2), 1, None)
    bridge = (make_motif(rng, plan.beats_per_bar, rate * 0.7), 1, None)
    notes = write_melody(writer, plan.sections, plan.chords, {"A": verse, "B": chorus, "C": bridge},
                         int(80 * level))
    final_bar = (plan.total_bars - 1) * plan.beats_per_bar * TPB
    return [n for n in notes if n[0] < final_bar] + _final_note(plan, writer, final_bar, int(80 * level))


def _final_note(plan: Plan, writer: MelodyWriter, tick: int, velocity: int) -> list[Note]:
    tonic_chord: Chord = plan.chords[-1][-1]
    degree = writer.fold(0, tonic_chord)
    end = tick + int(plan.beats_per_bar * TPB * 0.75)
    return [(tick, end, writer.pitch(degree, tonic_chord), velocity)]


def _drums(plan: Plan, rng: np.random.Generator, level: float) -> list[Note]:
    genre = plan.genre
    out: list[Note] = []
    sections = plan.sections
    for idx, section in enumerate(sections):
        kind = section.kind
        groove = genre.grooves[plan.grooves.get(kind, plan.grooves["verse"])]
        keys = _LIGHT_KEYS if kind in ("intro", "break") else None
        sec_level = level * (0.45 + 0.55 * section.energy)
        next_kind = sections[idx + 1].kind if idx + 1 < len(sections) else None
        for i in range(section.bars):
            bar = section.start_bar + i
            tick = bar * plan.beats_per_bar * TPB
            if bar == plan.total_bars - 1:
                out += ending_hits(tick, sec_level, rng)
                continue
            last = i == section.bars - 1
            fill = last and next_kind in ("chorus", "verse") and section.bars >= 4 and rng.random() < 0.7
            out += drum_bar(groove, tick, plan.beats_per_bar, sec_level, rng, keys, fill,
                            ghosts=plan.feel.density >= 0.45)
            if i == 0 and kind == "chorus":
                out.append((tick, tick + STEP, CRASH, int(np.clip(100 * sec_level, 1, 127))))
    return out


def _swing(notes: list[Note], swing: float, step: int) -> list[Note]:
    """Delay off-beat subdivisions: ``step`` 1 swings sixteenths, 2 swings eighths, by ``swing`` of a step."""
    unit = STEP * step
    out = []
    for start, end, pitch, vel in notes:
        pos = start % (2 * unit)
        if pos:  # piecewise-linear time warp inside each pair of subdivisions: onsets on the grid stay put
            warped = pos * (1 + swing) if pos <= unit else unit * (1 + swing) + (pos - unit) * (1 - swing)
            shift = int(round(warped - pos))
            start, end = start + shift, max(start + shift + 1, end + shift)
        out.append((start, end, pitch, vel))
    return out
