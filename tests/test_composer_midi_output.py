"""The MIDI writer: byte for byte what mido's MidiFile.save writes for the same events, for every genre."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import mido
import pytest

from inference.composer.gm import program_name
from inference.composer.midi_output import _variable_int, midi_bytes
from inference.composer.presets import GENRES, MOODS
from inference.engine import GenerationRequest


def mido_reference(arrangement: Any, title: str) -> bytes:
    """The same file written through mido's message objects and its own writer (the writer used before)."""
    tpb = arrangement.ticks_per_beat
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    tonic, mode = arrangement.plan.key.name.split()
    conductor = [
        (0, mido.MetaMessage("track_name", name=title[:120])),
        (0, mido.MetaMessage("set_tempo", tempo=arrangement.tempo_us)),
        (0, mido.MetaMessage("time_signature", numerator=arrangement.beats_per_bar, denominator=4)),
        (0, mido.MetaMessage("key_signature", key=tonic + ("m" if mode == "minor" else ""))),
    ]
    bar_ticks = arrangement.beats_per_bar * tpb
    conductor += [(s.start_bar * bar_ticks, mido.MetaMessage("marker", text=s.name)) for s in arrangement.plan.sections]
    tracks = [conductor]
    for part in arrangement.parts:
        ch = part.channel
        label = "drums" if part.is_drum else f"{part.role}: {program_name(part.program)}"
        events = [(0, mido.MetaMessage("track_name", name=label)),
                  (0, mido.Message("program_change", channel=ch, program=part.program)),
                  (0, mido.Message("control_change", channel=ch, control=7, value=part.volume)),
                  (0, mido.Message("control_change", channel=ch, control=10, value=part.pan))]
        timed = sorted([(s, 1, p, v) for s, _, p, v in part.notes] + [(e, 0, p, 0) for _, e, p, _ in part.notes])
        events += [(t, mido.Message("note_on" if on else "note_off", channel=ch, note=p, velocity=v))
                   for t, on, p, v in timed]
        tracks.append(events)
    for events in tracks:
        track, now = mido.MidiTrack(), 0
        for tick, msg in events:
            tick = min(max(tick, now), arrangement.total_ticks)
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, arrangement.total_ticks - now)))
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_every_genre_writes_the_bytes_mido_writes(composer_engine: Any, genre: str) -> None:
    mood = sorted(MOODS)[len(genre) % len(MOODS)]
    comp = composer_engine.compose(GenerationRequest(genre=genre, mood=mood, duration_s=45.0, seed=len(genre) * 7919))
    assert comp.midi == mido_reference(comp.arrangement, comp.plan.title)
    parsed = mido.MidiFile(file=io.BytesIO(comp.midi))
    assert len(parsed.tracks) == 1 + len(comp.arrangement.parts)
    notes = sum(1 for msg in parsed.tracks[1] if msg.type == "note_on" and msg.velocity > 0)
    assert notes == len(comp.arrangement.parts[0].notes)


def test_events_past_the_end_are_clamped_and_long_deltas_encode_as_mido_does(composer_engine: Any) -> None:
    comp = composer_engine.compose(GenerationRequest(genre="ambient", mood="dreamy", duration_s=30.0, seed=3))
    arrangement = comp.arrangement
    part = arrangement.parts[0]
    *_, pitch, vel = part.notes[-1]
    late = (*part.notes, (arrangement.total_ticks - 5, arrangement.total_ticks + 500, pitch, vel))
    clamped = replace(arrangement, parts=(replace(part, notes=late),))  # a note off past the end is pulled back
    assert midi_bytes(clamped, "late") == mido_reference(clamped, "late")
    stretched = replace(clamped, total_ticks=arrangement.total_ticks * 300)  # a multi-byte end-of-track delta
    assert midi_bytes(stretched, "long") == mido_reference(stretched, "long")
    assert midi_bytes(clamped, "late") != midi_bytes(stretched, "late")
    for value in (0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**28 - 1):
        assert _variable_int(value) == bytes(mido.midifiles.meta.encode_variable_int(value))


def test_a_note_out_of_midi_range_names_the_part_and_field(composer_engine: Any) -> None:
    comp = composer_engine.compose(GenerationRequest(genre="pop", mood="uplifting", duration_s=20.0, seed=1))
    part = comp.arrangement.parts[0]
    bad = replace(comp.arrangement, parts=(replace(part, notes=((0, 10, 128, 90),)),))
    with pytest.raises(ValueError, match=r"pitch 128 is not an integer in 0\.\.127"):
        midi_bytes(bad, "bad")
