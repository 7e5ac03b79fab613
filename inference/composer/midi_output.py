"""Arrangement -> Standard MIDI File bytes (type 1, one track per part), byte-stable for the same arrangement."""

from __future__ import annotations

import io

import mido

from inference.composer.arrangement import Arrangement, Part
from inference.composer.gm import program_name


def midi_bytes(arrangement: Arrangement, title: str) -> bytes:
    """The arrangement as a type-1 MIDI file: a conductor track (tempo, metre, key, section markers) + parts."""
    plan = arrangement.plan
    tpb = arrangement.ticks_per_beat
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    conductor = [
        (0, mido.MetaMessage("track_name", name=title[:120], time=0)),
        (0, mido.MetaMessage("set_tempo", tempo=arrangement.tempo_us, time=0)),
        (0, mido.MetaMessage("time_signature", numerator=arrangement.beats_per_bar, denominator=4, time=0)),
        (0, mido.MetaMessage("key_signature", key=_mido_key(plan.key.name), time=0)),
    ]
    bar_ticks = arrangement.beats_per_bar * tpb
    for section in plan.sections:
        conductor.append((section.start_bar * bar_ticks, mido.MetaMessage("marker", text=section.name, time=0)))
    midi.tracks.append(_track(conductor, arrangement.total_ticks))
    for part in arrangement.parts:
        midi.tracks.append(_track(_part_events(part), arrangement.total_ticks))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _mido_key(name: str) -> str:
    tonic, mode = name.split()
    return tonic + ("m" if mode == "minor" else "")


def _part_events(part: Part) -> list[tuple[int, object]]:
    ch = part.channel
    label = "drums" if part.is_drum else f"{part.role}: {program_name(part.program)}"
    events: list[tuple[int, object]] = [
        (0, mido.MetaMessage("track_name", name=label, time=0)),
        (0, mido.Message("program_change", channel=ch, program=part.program, time=0)),
        (0, mido.Message("control_change", channel=ch, control=7, value=part.volume, time=0)),
        (0, mido.Message("control_change", channel=ch, control=10, value=part.pan, time=0)),
    ]
    timed: list[tuple[int, int, int, int]] = []  # (tick, 0 off | 1 on, pitch, velocity): offs first on ties
    for start, end, pitch, vel in part.notes:
        timed.append((start, 1, pitch, vel))
        timed.append((end, 0, pitch, 0))
    timed.sort()
    for tick, on, pitch, vel in timed:
        kind = "note_on" if on else "note_off"
        events.append((tick, mido.Message(kind, channel=ch, note=pitch, velocity=vel, time=0)))
    return events


def _track(events: list[tuple[int, mido.Message | mido.MetaMessage]], end_tick: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    now = 0
    for tick, msg in events:
        tick = min(max(tick, now), end_tick)
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    return track
