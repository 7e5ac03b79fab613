"""Melody: a motif (from the seed, or generated) developed by repetition, sequence and variation over the form.

Motifs live in scale degrees, so they fit any key and chord: notes on strong beats are drawn to the nearest
chord tone, the rest stay in the scale. Times are in MIDI ticks (``TPB`` per beat); a note is the tuple
``(start_tick, end_tick, pitch, velocity)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.composer.form import Section
from inference.composer.midi_input import SeedNote
from inference.composer.theory import MAJOR_SCALE, MINOR_SCALE, Chord, Key

TPB = 480
STEP = TPB // 4  # one sixteenth, in ticks
Note = tuple[int, int, int, int]
_STEPS = np.array([-2, -1, 1, 2, 0, 3, -3, 4, -4])
_STEP_P = np.array([0.16, 0.26, 0.26, 0.14, 0.06, 0.05, 0.05, 0.01, 0.01])
_MAX_MOTIF_NOTES = 16


@dataclass(frozen=True)
class MotifNote:
    """A motif note: onset and length in sixteenths from the motif's start, and a scale-degree offset."""

    onset: int
    length: int
    degree: int


def make_motif(rng: np.random.Generator, beats_per_bar: int, rate: float) -> tuple[MotifNote, ...]:
    """A one-bar motif with about ``rate`` notes per beat; the downbeat always sounds.

    Args:
        rng: the request's random generator.
        beats_per_bar: beats in a bar.
        rate: target notes per beat (0.3 sparse .. 2.5 busy).
    """
    steps = 4 * beats_per_bar
    weights = np.array([1.0 if s == 0 else 0.75 if s % 4 == 0 else 0.45 if s % 2 == 0 else 0.12
                        for s in range(steps)])
    prob = np.clip(weights * rate / max(1e-6, weights.mean() * 4), 0.0, 0.97)
    prob[0] = 1.0
    onsets = [s for s in range(steps) if rng.random() < prob[s]]
    if len(onsets) < 2:
        onsets = [0, 2 * beats_per_bar]
    degrees = [0]
    for _ in onsets[1:]:
        degrees.append(int(degrees[-1] + rng.choice(_STEPS, p=_STEP_P)))
    notes = []
    for i, onset in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else steps
        length = nxt - onset
        if length > 1 and rng.random() < 0.2:
            length -= 1  # a breath before the next note
        notes.append(MotifNote(onset, max(1, length), degrees[i]))
    return tuple(notes)


def motif_from_seed(seed: Sequence[SeedNote], key: Key,
                    beats_per_bar: int) -> tuple[tuple[MotifNote, ...], int, int]:
    """The seed's first one or two bars as a motif in scale degrees.

    Returns:
        (motif, bars it spans, home: the MIDI pitch of its first note).
    """
    first = seed[0].start
    bar_steps = 4 * beats_per_bar
    picked = [n for n in seed if n.start - first < 2 * beats_per_bar][:_MAX_MOTIF_NOTES]
    base = _degree_of(picked[0].pitch, key)
    motif = []
    for n in picked:
        onset = int(round((n.start - first) * 4))
        length = max(1, min(int(round(n.duration * 4)), 2 * bar_steps - onset))
        motif.append(MotifNote(onset, length, _degree_of(n.pitch, key) - base))
    bars = 1 if motif[-1].onset < bar_steps and motif[-1].onset + motif[-1].length <= bar_steps else 2
    return tuple(m for m in motif if m.onset < bars * bar_steps), bars, picked[0].pitch


def _degree_of(pitch: int, key: Key) -> int:
    """Scale degree (0 = tonic of octave 4, 7 = an octave up) nearest to ``pitch``."""
    steps = MAJOR_SCALE if key.mode == "major" else MINOR_SCALE
    rel = pitch - (60 + key.tonic)
    octave, within = divmod(rel, 12)
    idx = min(range(8), key=lambda i: (abs((steps + (12,))[i] - within), i))
    return octave * 7 + idx


class MelodyWriter:
    """Turns motifs into notes over the form, in one register around ``centre`` (MIDI pitch)."""

    def __init__(self, key: Key, beats_per_bar: int, centre: int, rng: np.random.Generator) -> None:
        self.key = key
        self.bar_steps = 4 * beats_per_bar
        self.rng = rng
        self.steps = MAJOR_SCALE if key.mode == "major" else MINOR_SCALE
        octave_base = centre - ((centre - key.tonic) % 12)
        self.base = octave_base  # MIDI pitch of the tonic at or below the centre
        self.low, self.high = centre - 9, centre + 12

    def pitch(self, degree: int, chord: Chord) -> int:
        """MIDI pitch of scale ``degree``; the 7th degree in minor is raised over a chord holding the leading tone."""
        octave, idx = divmod(degree, 7)
        pitch = self.base + self.steps[idx] + 12 * octave
        leading = (self.key.tonic + 11) % 12
        if self.key.mode == "minor" and idx == 6 and leading in chord.pitch_classes:
            pitch += 1
        return pitch

    def degree_near(self, pitch: int) -> int:
        """The scale degree (relative to this writer's tonic) whose pitch is nearest to ``pitch``."""
        octave = (pitch - self.base) // 12
        candidates = range(7 * octave - 7, 7 * octave + 15)
        return min(candidates, key=lambda d: (abs(self.base + self.steps[d % 7] + 12 * (d // 7) - pitch), d))

    def snap(self, degree: int, chord: Chord) -> int:
        """The degree nearest to ``degree`` (within a fourth) that is a chord tone; ``degree`` if none is."""
        pcs = set(chord.pitch_classes)
        for delta in (0, -1, 1, -2, 2, -3, 3):
            if self.pitch(degree + delta, chord) % 12 in pcs:
                return degree + delta
        return degree

    def fold(self, degree: int, chord: Chord) -> int:
        """Move ``degree`` by octaves into the register."""
        while self.pitch(degree, chord) > self.high:
            degree -= 7
        while self.pitch(degree, chord) < self.low:
            degree += 7
        return degree

    def phrase(self, motif: Sequence[MotifNote], motif_bars: int, chords: Sequence[Chord], start_tick: int,
               start_degree: int, velocity: int, cadence_tonic: bool) -> tuple[list[Note], int]:
        """Develop ``motif`` over ``len(chords)`` bars; returns the notes and the last degree played.

        Each group of ``motif_bars`` bars plays the motif once: as written, sequenced (moved by a scale step),
        inverted or rhythmically varied; the phrase's last bar is a cadence onto a chord tone (the tonic at the
        end of a section when ``cadence_tonic``).
        """
        notes: list[Note] = []
        bars = len(chords)
        degree = start_degree
        group = 0
        bar = 0
        while bar < bars:
            span = min(motif_bars, bars - bar)
            is_last = bar + span >= bars
            kind = "cadence" if is_last and bars > 1 else self._development(group)
            variant = self._vary(motif, kind)
            first_chord = chords[bar]
            anchor = self.fold(self.snap(degree, first_chord), first_chord)
            if kind == "sequence":
                anchor = self.fold(anchor + int(self.rng.choice([-2, -1, 1, 2])), first_chord)
            for m in variant:
                if m.onset >= span * self.bar_steps:
                    continue
                bar_i = bar + m.onset // self.bar_steps
                chord = chords[bar_i]
                d = anchor + m.degree
                strong = m.onset % 4 == 0
                d = self.snap(d, chord) if strong else d
                d = self.fold(d, chord)
                start = start_tick + (bar * self.bar_steps + m.onset) * STEP
                length = min(m.length, span * self.bar_steps - m.onset)
                accent = 10 if m.onset % self.bar_steps == 0 else 0
                vel = int(np.clip(velocity + accent + self.rng.integers(-6, 7), 20, 127))
                notes.append((start, start + length * STEP, self.pitch(d, chord), vel))
                degree = d
            if kind == "cadence":
                notes.extend(self._cadence(chords[bars - 1], start_tick + (bars - 1) * self.bar_steps * STEP,
                                           degree, velocity, cadence_tonic, notes))
            bar += span
            group += 1
        return notes, degree

    def _development(self, group: int) -> str:
        if group == 0:
            return "repeat"
        return str(self.rng.choice(["repeat", "sequence", "sequence", "invert", "vary"]))

    def _vary(self, motif: Sequence[MotifNote], kind: str) -> list[MotifNote]:
        if kind == "invert":
            return [MotifNote(m.onset, m.length, -m.degree) for m in motif]
        if kind == "vary":
            out = []
            for i, m in enumerate(motif):
                if i > 0 and self.rng.random() < 0.25:
                    continue  # drop a note: the previous one rings on
                shift = int(self.rng.choice([0, 0, 1, -1]))
                out.append(MotifNote(m.onset, m.length, m.degree + shift))
            return out
        if kind == "cadence":
            half = self.bar_steps // 2
            second = [m for m in motif if self.bar_steps <= m.onset < 1.5 * self.bar_steps]
            return [m for m in motif if m.onset < half] + second
        return list(motif)

    def _cadence(self, chord: Chord, bar_tick: int, degree: int, velocity: int, tonic: bool,
                 notes: list[Note]) -> list[Note]:
        """A long note from the bar's middle to its end, on the tonic (if in the chord) or a chord tone."""
        mid = bar_tick + (self.bar_steps // 2) * STEP
        while notes and notes[-1][0] >= mid:
            notes.pop()
        if notes and notes[-1][1] > mid:
            notes[-1] = (notes[-1][0], mid, notes[-1][2], notes[-1][3])
        target = degree
        if tonic and self.key.tonic in chord.pitch_classes:
            target = min((d for d in range(degree - 4, degree + 5) if d % 7 == 0), key=lambda d: abs(d - degree))
        target = self.fold(self.snap(target, chord), chord)
        end = bar_tick + self.bar_steps * STEP - STEP
        return [(mid, end, self.pitch(target, chord), int(np.clip(velocity - 4, 20, 127)))]


def write_melody(writer: MelodyWriter, sections: Sequence[Section], chords: Sequence[Sequence[Chord]],
                 motifs: dict[str, tuple[tuple[MotifNote, ...], int, int | None]], velocity: int) -> list[Note]:
    """The lead line over the whole form: A motif in verses and outro, B in choruses, C in bridges.

    Each motif is ``(notes, bars, home pitch or None)``; a seed's motif starts every phrase on the degree of its
    own first note (``home``), so its first statement keeps the seed's pitches. Intros and breaks stay free of melody
    (breaks hold one chord tone per bar) so the sections contrast.
    """
    notes: list[Note] = []
    degree = 2
    bar_ticks = writer.bar_steps * STEP
    for section, section_chords in zip(sections, chords, strict=True):
        start = section.start_bar * bar_ticks
        vel = int(np.clip(velocity * (0.75 + 0.35 * section.energy), 30, 120))
        if section.kind == "intro":
            continue
        if section.kind == "break":
            for i, chord in enumerate(section_chords):
                d = writer.fold(writer.snap(degree, chord), chord)
                tick = start + i * bar_ticks
                notes.append((tick, tick + bar_ticks - STEP, writer.pitch(d, chord), vel - 12))
                degree = d
            continue
        motif, motif_bars, home = motifs[{"chorus": "B", "bridge": "C"}.get(section.kind, "A")]
        lift = 2 if section.kind == "chorus" else 0
        for p in range(0, section.bars, 4):
            phrase_chords = section_chords[p:p + 4]
            is_end = p + 4 >= section.bars
            begin = writer.degree_near(home) if home is not None else (degree + lift if p == 0 else degree)
            phrase, degree = writer.phrase(motif, motif_bars, phrase_chords, start + p * bar_ticks,
                                           begin, vel, cadence_tonic=is_end)
            notes.extend(phrase)
    return notes
