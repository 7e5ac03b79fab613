"""A bounded Standard MIDI File reader: only what a melody seed needs, with hard limits on work done.

``mido`` parses every event of every track before returning (about 6 s for a 0.5 MB file of notes here);
this reader walks the bytes once, keeps note on/off, tempo and metre events, and stops each track at a tick
limit, the whole file at a note limit and an event limit. Malformed data raises ``ValueError`` with a reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SmfEvents:
    """What was read: ticks per beat, note events ``(tick, is_on, channel, pitch, velocity)`` in file order per
    track, the first tempo (microseconds per beat, or None) and the metre numerator at tick 0 (or None)."""

    ticks_per_beat: int
    notes: list[tuple[int, bool, int, int, int]]
    tempo_us: int | None
    numerator: int | None


def read_smf(data: bytes, max_ticks_beats: float, max_notes: int, max_events: int = 200_000) -> SmfEvents:
    """Read note events from SMF bytes, bounded by ``max_ticks_beats`` beats, ``max_notes`` note-ons, events.

    Raises:
        ValueError: not a Standard MIDI File, SMPTE timing, truncated chunk, bad running status, bad length.
    """
    if data[:4] != b"MThd":
        raise ValueError("no 'MThd' header")
    if len(data) < 14:
        raise ValueError(f"the file ends inside its header ({len(data)} bytes)")
    (length,) = struct.unpack(">I", data[4:8])
    if length < 6 or 8 + length > len(data):
        raise ValueError(f"header length {length} is invalid")
    _fmt, tracks, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000 or division == 0:
        raise ValueError(f"ticks per beat is {division} (SMPTE or zero timing is not supported)")
    limit = int(max_ticks_beats * division)
    pos = 8 + length
    notes: list[tuple[int, bool, int, int, int]] = []
    state: dict[str, Any] = {"tempo": None, "numerator": None, "events": 0, "ons": 0}
    read_tracks = 0
    while pos + 8 <= len(data) and read_tracks < max(tracks, 1) and state["ons"] < max_notes:
        chunk, (size,) = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])
        body_start, body_end = pos + 8, pos + 8 + size
        if body_end > len(data):
            raise ValueError(f"track chunk at byte {pos} is truncated ({size} bytes declared)")
        if chunk == b"MTrk":
            _read_track(data, body_start, body_end, limit, max_notes, max_events, notes, state)
            read_tracks += 1
        pos = body_end
    if read_tracks == 0:
        raise ValueError("no track chunk")
    return SmfEvents(division, notes, state["tempo"], state["numerator"])


def _vlq(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for i in range(4):
        if pos >= end:
            raise ValueError("variable-length number runs past the end of its track")
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos
        if i == 3:
            break
    raise ValueError("variable-length number longer than 4 bytes")


def _read_track(data: bytes, pos: int, end: int, limit: int, max_notes: int, max_events: int,
                notes: list[tuple[int, bool, int, int, int]], state: dict) -> None:
    tick = 0
    running = 0
    while pos < end:
        if state["events"] >= max_events or state["ons"] >= max_notes:
            return
        state["events"] += 1
        delta, pos = _vlq(data, pos, end)
        tick += delta
        if tick > limit:
            return
        if pos >= end:
            raise ValueError("event runs past the end of its track")
        status = data[pos]
        if status & 0x80:
            pos += 1
        elif running:
            status = running
        else:
            raise ValueError("data byte without a running status")
        if status == 0xFF:
            if pos >= end:
                raise ValueError("meta event runs past the end of its track")
            kind = data[pos]
            length, pos = _vlq(data, pos + 1, end)
            body = data[pos:pos + length]
            if pos + length > end:
                raise ValueError("meta event runs past the end of its track")
            pos += length
            if kind == 0x2F:
                return
            if kind == 0x51 and length == 3 and state["tempo"] is None:
                state["tempo"] = int.from_bytes(body, "big") or None
            elif kind == 0x58 and length >= 1 and tick == 0 and state["numerator"] is None:
                state["numerator"] = body[0]
            continue
        if status in (0xF0, 0xF7):
            length, pos = _vlq(data, pos, end)
            pos += length
            continue
        if status >= 0xF0:
            raise ValueError(f"status byte 0x{status:02X} is not allowed in a MIDI file")
        running = status
        size = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        if pos + size > end:
            raise ValueError("channel message runs past the end of its track")
        if status & 0xF0 in (0x80, 0x90):
            pitch, velocity = data[pos] & 0x7F, data[pos + 1] & 0x7F
            is_on = status & 0xF0 == 0x90 and velocity > 0
            notes.append((tick, is_on, status & 0x0F, pitch, velocity))
            state["ons"] += is_on
        pos += size
