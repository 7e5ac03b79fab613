"""Keys, chord symbols, Roman numerals and key inference."""

from __future__ import annotations

import pytest

from inference.composer.harmony import progression, roman_chord
from inference.composer.theory import Key, infer_key, parse_chord, parse_key, parse_note
from maestro_core.errors import InputError


@pytest.mark.parametrize(("text", "name"), [
    ("A minor", "A minor"), ("F# minor", "F# minor"), ("Gb minor", "F# minor"), ("Bb major", "Bb major"),
    ("A# major", "Bb major"), ("c# min", "C# minor"), ("Am", "A minor"), ("C", "C major"), ("Eb", "Eb major"),
    ("d minor", "D minor"), ("F sharp minor", "F# minor"),
])
def test_keys_accept_sharps_flats_and_short_forms(text: str, name: str) -> None:
    assert parse_key(text).name == name


@pytest.mark.parametrize("text", ["H major", "C lydian", "", "7", "Cb# minor x"])
def test_malformed_key_names_the_field(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_key(text, field="key")
    assert caught.value.field == "key"


def test_relative_keys_pair_major_and_minor() -> None:
    assert parse_key("A minor").relative == Key(0, "major")
    assert parse_key("Eb major").relative.name == "C minor"


@pytest.mark.parametrize(("symbol", "pcs"), [
    ("Cmaj7", (0, 4, 7, 11)), ("G6", (7, 11, 2, 4)), ("Am7", (9, 0, 4, 7)), ("F#m7b5", (6, 9, 0, 4)),
    ("Bb", (10, 2, 5)), ("Ebmaj9", (3, 7, 10, 2, 5)), ("Dsus4", (2, 7, 9)), ("C/E", (0, 4, 7)),
])
def test_chord_symbols_give_their_pitch_classes(symbol: str, pcs: tuple[int, ...]) -> None:
    chord = parse_chord(symbol)
    assert chord is not None and chord.pitch_classes == pcs


def test_slash_chord_keeps_its_bass_and_nonsense_is_not_a_chord() -> None:
    assert parse_chord("C/E").bass == 4  # type: ignore[union-attr]
    assert parse_chord("Hmaj7") is None and parse_chord("Cfoo") is None and parse_chord("midi") is None


def test_notes_with_octaves_are_midi_pitches() -> None:
    assert (parse_note("C4"), parse_note("A4"), parse_note("F#3"), parse_note("Bb-1")) == (60, 69, 54, 10)
    assert parse_note("Cmaj7") is None and parse_note("C") is None


def test_roman_numerals_realise_diatonic_chords_in_major_and_minor() -> None:
    c = Key(0, "major")
    assert [ch.symbol for ch in progression(c, "I vi ii V", 4)] == ["Cmaj7", "Am7", "Dm7", "G7"]
    a = Key(9, "minor")
    assert [ch.symbol for ch in progression(a, "i iv V i", 3)] == ["Am", "Dm", "E", "Am"]
    assert roman_chord(a, "ii", 3).symbol == "Bdim"
    assert roman_chord(c, "bVII", 3).symbol == "Bb"


def test_progressions_are_rotated_to_start_on_the_tonic() -> None:
    assert [ch.symbol for ch in progression(Key(7, "major"), "ii V I vi", 3)] == ["G", "Em", "Am", "D"]


def test_key_inference_finds_tonic_and_mode() -> None:
    c_major = [(pc, 1.0) for pc in (0, 2, 4, 5, 7, 9, 11)] + [(0, 2.0), (7, 1.0), (4, 1.0)]
    assert infer_key(c_major, first_root=0) == Key(0, "major")
    a_minor = [(pc, 1.0) for pc in (9, 11, 0, 2, 4, 5, 7)] + [(9, 2.5), (0, 1.5), (4, 1.0)]
    assert infer_key(a_minor, first_root=9) == Key(9, "minor")
