"""Song form: intro, A and B sections, breaks, an outro, filling the requested duration on whole bars.

The piece always has ``round(duration / bar)`` bars (at least one), so it ends on a bar line within half a bar
of the requested duration. Sections are built from phrases of four bars (two for short pieces); the bars left
over lengthen the outro.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Base dynamics level of each section kind, 0 (quiet, sparse) .. 1 (full).
SECTION_ENERGY = {"intro": 0.4, "verse": 0.65, "chorus": 0.9, "break": 0.35, "bridge": 0.6, "outro": 0.45}


@dataclass(frozen=True)
class Section:
    """One section of the form.

    Attributes:
        name: display name, e.g. ``'intro'``, ``'A1'``, ``'B2'``, ``'break'``, ``'outro'``.
        kind: ``intro``, ``verse`` (A), ``chorus`` (B), ``break``, ``bridge`` or ``outro``.
        start_bar: first bar, counted from 0.
        bars: length in bars (>= 1).
        energy: dynamics level in [0, 1]; later repeats of a section are a little louder.
    """

    name: str
    kind: str
    start_bar: int
    bars: int
    energy: float

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars


def bars_for_duration(duration_s: float, tempo_bpm: float, beats_per_bar: int) -> int:
    """Whole bars closest to ``duration_s`` seconds at ``tempo_bpm`` (at least one)."""
    bar_s = beats_per_bar * 60.0 / tempo_bpm
    return max(1, int(np.floor(duration_s / bar_s + 0.5)))


def plan_form(total_bars: int, rng: np.random.Generator) -> list[Section]:
    """Lay out sections over ``total_bars`` bars; the seed varies verse lengths and where breaks fall.

    Args:
        total_bars: length of the piece in bars (>= 1).
        rng: the request's random generator.

    Returns:
        Sections in order, contiguous, covering bars ``0 .. total_bars``.
    """
    if total_bars < 4:
        return [Section("A1", "verse", 0, total_bars, SECTION_ENERGY["verse"])]
    phrase = 4 if total_bars >= 16 else 2
    phrases = total_bars // phrase
    intro = 0 if phrases < 4 else (2 if phrases >= 24 else 1)
    outro = 0 if phrases < 5 else 1
    middle = phrases - intro - outro
    plan: list[tuple[str, int]] = [("intro", intro)] if intro else []
    verse_len = 2 if middle >= 6 else 1
    chorus_len = 2 if middle >= 8 else 1
    break_kind = "break" if rng.random() < 0.6 else "bridge"
    break_after = int(rng.integers(1, 3))  # a break after the 1st or 2nd chorus
    used, choruses = 0, 0
    while used < middle:
        for kind, length in (("verse", verse_len), ("chorus", chorus_len)):
            take = min(length, middle - used)
            if take <= 0:
                break
            plan.append((kind, take))
            used += take
        choruses += 1
        if choruses == break_after and middle - used >= 3:
            plan.append((break_kind, 1))
            used += 1
        if rng.random() < 0.3:
            verse_len = max(1, verse_len - 1)  # later verses are sometimes shorter
    if outro:
        plan.append(("outro", outro))
    return _to_sections(plan, phrase, total_bars)


def _to_sections(plan: list[tuple[str, int]], phrase: int, total_bars: int) -> list[Section]:
    sections: list[Section] = []
    counts: dict[str, int] = {}
    start = 0
    for i, (kind, phrases) in enumerate(plan):
        bars = phrases * phrase
        if i == len(plan) - 1:
            bars = total_bars - start  # leftover bars lengthen the last section
        counts[kind] = counts.get(kind, 0) + 1
        label = {"verse": "A", "chorus": "B"}.get(kind)
        name = f"{label}{counts[kind]}" if label else (kind if counts[kind] == 1 else f"{kind}{counts[kind]}")
        energy = min(1.0, SECTION_ENERGY[kind] + 0.05 * (counts[kind] - 1))
        sections.append(Section(name, kind, start, bars, round(energy, 3)))
        start += bars
    return sections
