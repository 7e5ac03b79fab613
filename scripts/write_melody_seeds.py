"""Writes the melody-seed MIDI files shipped in maestro_core/data/melodies (original motifs written by Maestro).

Each seed has a melody track and a chord track (block chords, one per bar), so an engine can take both the motif
and the harmony from it. Run: `.venv/bin/python scripts/write_melody_seeds.py` (deterministic output).
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi

OUT = Path(__file__).resolve().parent.parent / "maestro_core" / "data" / "melodies"

# name: (tempo BPM, [(note or 'r', beats)], [chord per bar as note names])
SEEDS: dict[str, tuple[int, list[tuple[str, float]], list[list[str]]]] = {
    "001_rain_on_glass": (72, [("E5", 1), ("D5", .5), ("C5", .5), ("B4", 1), ("G4", 1), ("A4", 1.5), ("C5", .5),
                               ("B4", 1), ("r", 1), ("E5", 1), ("G5", 1), ("F#5", 1), ("D5", 1), ("E5", 4)],
                          [["C4", "E4", "G4", "B4"], ["A3", "C4", "E4", "G4"], ["D4", "F#4", "A4", "C5"],
                           ["G3", "B3", "D4", "F#4"]]),
    "002_harbour_lights": (96, [("A4", .5), ("C5", .5), ("E5", 1), ("D5", .5), ("C5", .5), ("B4", 1), ("A4", 2),
                                ("G4", 1), ("A4", .5), ("B4", .5), ("C5", 2), ("E5", 1), ("D5", 1), ("C5", 2)],
                           [["A3", "C4", "E4"], ["F3", "A3", "C4"], ["C4", "E4", "G4"], ["G3", "B3", "D4"]]),
    "003_northern_road": (120, [("D5", 1), ("D5", .5), ("E5", .5), ("F#5", 1), ("A5", 1), ("G5", 1), ("F#5", 1),
                                ("E5", 2), ("D5", 1), ("B4", 1), ("A4", 2), ("F#4", 1), ("A4", 1), ("D5", 2)],
                          [["D4", "F#4", "A4"], ["B3", "D4", "F#4"], ["G3", "B3", "D4"], ["A3", "C#4", "E4"]]),
    "004_velvet_hour": (84, [("F4", 1.5), ("A4", .5), ("C5", 1), ("E5", 1), ("D5", 2), ("Bb4", 1), ("G4", 1),
                             ("A4", 3), ("r", 1), ("C5", 1), ("Bb4", 1), ("A4", 1), ("G4", 1), ("F4", 4)],
                        [["F3", "A3", "C4", "E4"], ["Bb3", "D4", "F4", "A4"], ["G3", "Bb3", "D4", "F4"],
                         ["C4", "E4", "G4", "Bb4"]]),
    "005_iron_pulse": (128, [("E4", .5), ("E4", .5), ("G4", .5), ("E4", .5), ("A4", .5), ("G4", .5), ("E4", 1),
                             ("D4", .5), ("E4", .5), ("G4", .5), ("B4", .5), ("A4", 1), ("G4", 1)] * 2,
                        [["E3", "G3", "B3"], ["C3", "E3", "G3"], ["D3", "F#3", "A3"], ["E3", "G3", "B3"]]),
    "006_paper_moons": (66, [("G4", 2), ("B4", 1), ("D5", 1), ("C5", 2), ("A4", 2), ("B4", 1), ("G4", 1),
                             ("A4", 1), ("F#4", 1), ("G4", 4)],
                        [["G3", "B3", "D4"], ["C4", "E4", "G4"], ["E3", "G3", "B3"], ["D4", "F#4", "A4"]]),
    "007_ember_dance": (110, [("C5", .5), ("Eb5", .5), ("G5", 1), ("F5", .5), ("Eb5", .5), ("D5", 1), ("C5", 1),
                              ("Bb4", 1), ("C5", 2), ("G4", 1), ("Ab4", 1), ("G4", 1), ("F4", 1), ("G4", 2)],
                         [["C4", "Eb4", "G4"], ["Ab3", "C4", "Eb4"], ["Bb3", "D4", "F4"], ["G3", "B3", "D4"]]),
    "008_glass_cathedral": (60, [("E4", 2), ("B4", 2), ("A4", 1), ("G4", 1), ("F#4", 2), ("G4", 2), ("E4", 2),
                                 ("D4", 2), ("E4", 2)],
                            [["E3", "G3", "B3"], ["C3", "E3", "G3"], ["D3", "F#3", "A3"], ["E3", "G3", "B3"]]),
    "009_summer_static": (104, [("G4", .5), ("A4", .5), ("B4", .5), ("D5", 1.5), ("B4", 1), ("A4", 1), ("G4", 1),
                                ("E4", 2), ("G4", .5), ("A4", .5), ("B4", 1), ("C5", 1), ("B4", 1), ("A4", 2)],
                           [["G3", "B3", "D4"], ["E3", "G3", "B3"], ["C4", "E4", "G4"], ["D4", "F#4", "A4"]]),
    "010_low_tide_blues": (88, [("C4", 1), ("Eb4", .5), ("F4", .5), ("F#4", .5), ("G4", 1.5), ("Bb4", 1),
                                ("G4", 1), ("F4", 1), ("Eb4", 1), ("C4", 3), ("r", 1)],
                           [["C3", "E3", "G3", "Bb3"], ["F3", "A3", "C4", "Eb4"], ["C3", "E3", "G3", "Bb3"],
                            ["G3", "B3", "D4", "F4"]]),
}


def write_seed(name: str, tempo: int, melody: list[tuple[str, float]], chords: list[list[str]]) -> Path:
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo, resolution=480)
    beat = 60.0 / tempo
    lead = pretty_midi.Instrument(program=0, name="melody")
    t = 0.0
    for note, beats in melody:
        if note != "r":
            lead.notes.append(pretty_midi.Note(96, pretty_midi.note_name_to_number(note), t, t + beats * beat * 0.95))
        t += beats * beat
    pad = pretty_midi.Instrument(program=48, name="chords")
    bars = max(1, round(t / (4 * beat)))
    for bar in range(bars):
        start = bar * 4 * beat
        for note in chords[bar % len(chords)]:
            pad.notes.append(pretty_midi.Note(64, pretty_midi.note_name_to_number(note), start, start + 4 * beat))
    pm.instruments.extend([lead, pad])
    path = OUT / f"{name}.mid"
    pm.write(str(path))
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (tempo, melody, chords) in SEEDS.items():
        print(write_seed(name, tempo, melody, chords))


if __name__ == "__main__":
    main()
