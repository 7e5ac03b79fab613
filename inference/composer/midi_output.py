"""Arrangement -> Standard MIDI File bytes (type 1, one track per part), byte-stable for the same arrangement.

The notes are encoded here, straight into bytes, the way mido writes them (delta times as variable-length
quantities, running status for channel messages, none across meta events): mido builds, checks and copies an
object per message, which cost a 180 s track about 25 ms, and the file is byte for byte what mido's ``MidiFile.save``
writes (``tests/test_composer_midi_output.py`` holds the two side by side). mido still encodes the handful of meta
events (names, tempo, metre, key, markers).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from numbers import Integral

import mido

from inference.composer.arrangement import Arrangement, Part
from inference.composer.gm import program_name

NOTE_OFF, NOTE_ON, CONTROL_CHANGE, PROGRAM_CHANGE = 0x80, 0x90, 0xB0, 0xC0
_END_OF_TRACK = bytes(mido.MetaMessage("end_of_track").bytes())

# An event: (tick, message bytes, True for a channel message that may use running status).
Event = tuple[int, bytes, bool]


def midi_bytes(arrangement: Arrangement, title: str) -> bytes:
    """The arrangement as a type-1 MIDI file: a conductor track (tempo, metre, key, section markers) + parts."""
    plan = arrangement.plan
    tpb = arrangement.ticks_per_beat
    conductor: list[Event] = [
        (0, _meta("track_name", name=title[:120]), False),
        (0, _meta("set_tempo", tempo=arrangement.tempo_us), False),
        (0, _meta("time_signature", numerator=arrangement.beats_per_bar, denominator=4), False),
        (0, _meta("key_signature", key=_mido_key(plan.key.name)), False),
    ]
    bar_ticks = arrangement.beats_per_bar * tpb
    for section in plan.sections:
        conductor.append((section.start_bar * bar_ticks, _meta("marker", text=section.name), False))
    tracks = [_track(conductor, arrangement.total_ticks)]
    tracks += [_track(_part_events(part), arrangement.total_ticks) for part in arrangement.parts]
    header = b"MThd" + struct.pack(">Lhhh", 6, 1, len(tracks), tpb)
    return header + b"".join(b"MTrk" + struct.pack(">L", len(data)) + data for data in tracks)


def _meta(kind: str, **fields: object) -> bytes:
    return bytes(mido.MetaMessage(kind, **fields).bytes())


def _mido_key(name: str) -> str:
    tonic, mode = name.split()
    return tonic + ("m" if mode == "minor" else "")


def _part_events(part: Part) -> list[Event]:
    ch = part.channel
    label = "drums" if part.is_drum else f"{part.role}: {program_name(part.program)}"
    _check(f"part {label!r}", channel=(ch, 15), program=(part.program, 127), volume=(part.volume, 127),
           pan=(part.pan, 127))
    events: list[Event] = [
        (0, _meta("track_name", name=label), False),
        (0, bytes((PROGRAM_CHANGE | ch, part.program)), True),
        (0, bytes((CONTROL_CHANGE | ch, 7, part.volume)), True),
        (0, bytes((CONTROL_CHANGE | ch, 10, part.pan)), True),
    ]
    timed: list[tuple[int, int, int, int]] = []  # (tick, 0 off | 1 on, pitch, velocity): offs first on ties
    for start, end, pitch, vel in part.notes:
        _check(f"part {label!r} note", pitch=(pitch, 127), velocity=(vel, 127))
        timed.append((start, 1, pitch, vel))
        timed.append((end, 0, pitch, 0))
    timed.sort()
    on, off = NOTE_ON | ch, NOTE_OFF | ch
    events += [(tick, bytes((on if is_on else off, pitch, vel)), True) for tick, is_on, pitch, vel in timed]
    return events


def _check(what: str, **values: tuple[int, int]) -> None:
    """Every value an integer in 0..its maximum (what mido checks per message)."""
    for name, (value, top) in values.items():
        if not isinstance(value, Integral) or not 0 <= value <= top:
            raise ValueError(f"{what}: {name} {value!r} is not an integer in 0..{top}")


def _track(events: Iterable[Event], end_tick: int) -> bytes:
    """A track chunk's data: delta-timed events (each clamped to [previous, end_tick]) and the end of track."""
    data = bytearray()
    now = 0
    running = -1
    for tick, message, channel_message in events:
        tick = min(max(tick, now), end_tick)
        data += _variable_int(tick - now)
        if channel_message and message[0] == running:
            data += message[1:]
        else:
            data += message
        running = message[0] if channel_message else -1
        now = tick
    data += _variable_int(max(0, end_tick - now))
    data += _END_OF_TRACK
    return bytes(data)


def _variable_int(value: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits a byte, most significant first, the high bit on all but the last."""
    if value < 0x80:
        return bytes((value,))
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))
