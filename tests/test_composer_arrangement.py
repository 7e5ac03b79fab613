"""Composition without audio: parts, rhythm on the beat, dynamics, determinism and seed sensitivity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from inference.composer.gm import KICK
from inference.composer.presets import GENRES, MOODS
from inference.engine import GenerationRequest


def _compose(engine: Any, **fields: Any) -> Any:
    base = {"genre": "pop", "mood": "uplifting", "tempo_bpm": 110, "duration_s": 60.0, "seed": 5}
    return engine.compose(GenerationRequest(**{**base, **fields}))


def _part(comp: Any, role: str) -> Any:
    return next(p for p in comp.arrangement.parts if p.role == role)


def test_presets_cover_twelve_genres_and_eight_moods() -> None:
    assert len(GENRES) >= 12 and len(MOODS) >= 8
    assert {"lofi-chill", "ambient", "house", "techno", "hip-hop", "jazz", "cinematic", "pop", "rock", "synthwave",
            "folk", "classical-piano"} <= set(GENRES)
    moods = {"ambient-focus", "melancholic", "uplifting", "energetic", "dark", "romantic", "dreamy", "tense"}
    assert moods <= set(MOODS)


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_every_genre_puts_bass_and_kick_on_the_downbeats(composer_engine: Any, genre: str) -> None:
    comp = _compose(composer_engine, genre=genre, duration_s=40.0)
    bar = comp.plan.beats_per_bar * comp.arrangement.ticks_per_beat
    bass_starts = {n[0] for n in _part(comp, "bass").notes}
    for section in comp.plan.sections:
        if section.kind in ("intro", "break"):
            continue
        downbeats = {b * bar for b in range(section.start_bar, section.end_bar)}
        assert downbeats <= bass_starts, (genre, section.name)
        if comp.plan.genre.kit is not None:
            kicks = {n[0] for n in _part(comp, "drums").notes if n[2] == KICK}
            assert downbeats <= kicks, (genre, section.name)
    assert {p.role for p in comp.arrangement.parts} >= {"bass", "lead"}


def test_dynamics_rise_from_intro_to_chorus(composer_engine: Any) -> None:
    comp = _compose(composer_engine, duration_s=180.0)
    bar = comp.plan.beats_per_bar * comp.arrangement.ticks_per_beat
    drums = _part(comp, "drums").notes

    def mean_velocity(kind: str) -> float:
        spans = [(s.start_bar * bar, s.end_bar * bar) for s in comp.plan.sections if s.kind == kind]
        return float(np.mean([n[3] for n in drums if any(a <= n[0] < b for a, b in spans)]))

    assert mean_velocity("chorus") > mean_velocity("verse") > mean_velocity("intro")


def test_same_request_and_seed_give_identical_midi(composer_engine: Any) -> None:
    assert _compose(composer_engine).midi == _compose(composer_engine).midi


@pytest.mark.parametrize("melody", [None, "Dm7 G7 Cmaj7 A7"])
def test_two_seeds_give_melodies_that_differ_in_at_least_half_their_notes(composer_engine: Any,
                                                                          melody: str | None) -> None:
    first = [n[2] for n in _part(_compose(composer_engine, seed=1, melody=melody), "lead").notes]
    second = [n[2] for n in _part(_compose(composer_engine, seed=2, melody=melody), "lead").notes]
    differing = sum(a != b for a, b in zip(first, second, strict=False)) + abs(len(first) - len(second))
    assert differing >= 0.5 * max(len(first), len(second))


def test_seed_chords_are_the_harmonic_basis_and_set_the_key(composer_engine: Any) -> None:
    comp = _compose(composer_engine, melody="Am7 Dm7 E7", key=None)
    assert comp.plan.key.name == "A minor"
    verse = next(c for s, c in zip(comp.plan.sections, comp.plan.chords, strict=True) if s.kind == "verse")
    assert [c.symbol for c in verse[:3]] == ["Am7", "Dm7", "E7"]


def test_seed_chords_are_transposed_to_a_requested_key(composer_engine: Any) -> None:
    comp = _compose(composer_engine, melody="Cmaj7 G6", key="D major")
    verse = next(c for s, c in zip(comp.plan.sections, comp.plan.chords, strict=True) if s.kind == "verse")
    assert [c.symbol for c in verse[:2]] == ["Dmaj7", "A6"]


def test_seed_notes_become_the_verse_motif(composer_engine: Any) -> None:
    comp = _compose(composer_engine, melody="C5 E5 G5 E5", key="C major", seed=9)
    verse = next(s for s in comp.plan.sections if s.kind == "verse")
    bar = comp.plan.beats_per_bar * comp.arrangement.ticks_per_beat
    lead = [n for n in _part(comp, "lead").notes if verse.start_bar * bar <= n[0] < (verse.start_bar + 1) * bar]
    steps = [b[2] - a[2] for a, b in zip(lead, lead[1:], strict=False)]
    assert steps[:3] == [4, 3, -3]  # the seed's contour C-E-G-E, repeated as the motif's first statement


def test_three_four_time_writes_three_beat_bars(composer_engine: Any) -> None:
    comp = _compose(composer_engine, time_signature="3/4", genre="folk")
    assert comp.plan.beats_per_bar == 3 and comp.plan.time_signature == "3/4"
    assert comp.arrangement.total_ticks == comp.plan.total_bars * 3 * comp.arrangement.ticks_per_beat


def test_phrases_steer_instrument_colour(composer_engine: Any) -> None:
    warm = _compose(composer_engine, genre="pop", key_phrases=("acoustic campfire song", "wooden cabin"))
    cold = _compose(composer_engine, genre="pop", key_phrases=("cyberpunk synthesizer", "robotic neon"))
    assert warm.descriptors["colour"] < cold.descriptors["colour"]
    assert warm.plan.feel.colour < cold.plan.feel.colour
