"""Song form: whole bars, ending within one bar of the request, sections tiling the piece."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inference.composer.form import bars_for_duration, plan_form


@settings(max_examples=200, deadline=None)
@given(duration=st.floats(5, 900), tempo=st.floats(30, 300), beats=st.integers(2, 7), seed=st.integers(0, 2**32))
def test_form_fills_the_duration_on_bar_lines_within_one_bar(duration: float, tempo: float, beats: int,
                                                             seed: int) -> None:
    bars = bars_for_duration(duration, tempo, beats)
    bar_s = beats * 60 / tempo
    assert bars >= 1 and abs(bars * bar_s - duration) <= bar_s
    sections = plan_form(bars, np.random.default_rng(seed))
    assert sections[0].start_bar == 0 and sections[-1].end_bar == bars
    assert all(a.end_bar == b.start_bar for a, b in zip(sections, sections[1:], strict=False))
    assert all(s.bars >= 1 and 0 <= s.energy <= 1 for s in sections)


def test_a_three_minute_form_has_intro_verses_choruses_and_outro() -> None:
    sections = plan_form(bars_for_duration(180, 72, 4), np.random.default_rng(0))
    kinds = [s.kind for s in sections]
    assert kinds[0] == "intro" and kinds[-1] == "outro"
    assert kinds.count("verse") >= 2 and kinds.count("chorus") >= 2 and ("break" in kinds or "bridge" in kinds)


def test_choruses_are_louder_than_intros() -> None:
    sections = plan_form(64, np.random.default_rng(1))
    energy = {s.kind: s.energy for s in sections}
    assert energy["chorus"] > energy["verse"] > energy["intro"]
