"""Melody seeds: chord strings, note strings, .mid paths and bytes, broken and hostile files."""

from __future__ import annotations

import io
import time
from pathlib import Path

import mido
import pytest

from inference.composer.midi_input import MAX_NOTE_BEATS, MAX_NOTES, parse_seed
from maestro_core.errors import InputError


def _midi(notes: list[tuple[int, int, int]], tpb: int = 480, tempo: int = 500_000) -> bytes:
    """Type-0 MIDI from (pitch, start_tick, length_ticks)."""
    events = []
    for pitch, start, length in notes:
        events += [(start, 1, pitch), (start + length, 0, pitch)]
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    now = 0
    for tick, on, pitch in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(mido.Message("note_on" if on else "note_off", note=pitch, velocity=80 if on else 0,
                                  time=tick - now))
        now = tick
    midi = mido.MidiFile(type=0, ticks_per_beat=tpb)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def test_issue_example_string_yields_its_two_chords() -> None:
    seed = parse_seed("midi_string_example_Cmaj7_G6")
    assert [c.symbol for c in seed.chords] == ["Cmaj7", "G6"] and seed.notes == ()


def test_space_separated_chords_and_notes_are_parsed() -> None:
    assert [c.symbol for c in parse_seed("Cmaj7 G6 Am7").chords] == ["Cmaj7", "G6", "Am7"]
    notes = parse_seed("C4 E4 G4:2").notes
    assert [(n.pitch, n.start, n.duration) for n in notes] == [(60, 0, 1), (64, 1, 1), (67, 2, 2)]


def test_ambiguous_tokens_follow_the_unambiguous_ones() -> None:
    assert [c.symbol for c in parse_seed("G7 C7 F7").chords] == ["G7", "C7", "F7"]
    assert len(parse_seed("C5 E5 G5").notes) == 3
    assert [c.symbol for c in parse_seed("Dm7 G7 C6").chords] == ["Dm7", "G7", "C6"]


@pytest.mark.parametrize(("text", "says"), [
    ("Cmaj7 Xmaj7", "'Xmaj7'"), ("midi_string_example", "no chord symbols"), ("C4:zero", "beats"),
    ("   ", "empty"),
])
def test_malformed_strings_name_the_field(text: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_seed(text)
    assert caught.value.field == "melody_midi" and says in str(caught.value)


def test_midi_file_path_and_bytes_give_the_same_seed(tmp_path: Path) -> None:
    data = _midi([(60, 0, 480), (62, 480, 480), (64, 960, 960)], tempo=600_000)
    path = tmp_path / "seed.mid"
    path.write_bytes(data)
    from_path, from_bytes = parse_seed(path), parse_seed(data)
    assert from_path == from_bytes == parse_seed(str(path))
    assert [n.pitch for n in from_bytes.notes] == [60, 62, 64] and from_bytes.tempo_bpm == pytest.approx(100)


def test_block_chords_in_a_midi_file_become_the_harmonic_basis() -> None:
    bar = 1920
    triads = [(48, 52, 55), (55, 59, 62), (57, 60, 64), (53, 57, 60)]
    notes = [(p, i * bar, bar) for i, chord in enumerate(triads) for p in chord]
    assert [c.symbol for c in parse_seed(_midi(notes)).chords] == ["C", "G", "Am", "F"]


@pytest.mark.parametrize(("data", "says"), [
    (b"MThd\x00\x00\x00\x06\x00\x01", "header"), (b"RIFF1234WAVE", "no 'MThd'"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x00\x90", "truncated"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\xe7\x28MTrk\x00\x00\x00\x04\x00\xff\x2f\x00", "SMPTE"),
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00", "no notes"),
])
def test_broken_midi_is_refused_with_the_field_named(data: bytes, says: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_seed(data)
    assert caught.value.field == "melody_midi" and says in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        parse_seed(str(tmp_path / "nope.mid"))


def test_thousands_of_notes_are_read_in_bounded_time_and_count() -> None:
    data = _midi([(40 + i % 40, i * 60, 50) for i in range(50_000)])
    started = time.perf_counter()
    seed = parse_seed(data)
    assert time.perf_counter() - started < 2.0
    assert len(seed.notes) <= MAX_NOTES


def test_absurd_note_lengths_are_clamped() -> None:
    data = _midi([(60, 0, 480 * 100_000), (64, 0, 480 * 40), (67, 480, 240)])
    seed = parse_seed(data)
    assert seed.notes and max(n.duration for n in seed.notes) <= MAX_NOTE_BEATS
