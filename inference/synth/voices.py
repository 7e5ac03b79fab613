"""Subtractive synth voices: unison polyBLEP oscillators, ADSR amplitude, resonant low-pass with its own envelope.

A patch is a frozen ``SynthPatch``; ``render_voice`` plays a list of notes through one. Each distinct note (pitch,
held length in samples, velocity bucket) is synthesised once per call by the numba kernel in ``_dsp`` and then
added in place at every start time, so a looping chord progression costs a handful of note renders. Start times
are exact to the sample; held lengths are rounded to ``GATE_STEP_S``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.synth import _dsp

VELOCITY_BUCKET = 8  # velocities sharing a bucket share one render (tone), scaled to their own exact gain
GATE_STEP_S = 0.005  # held lengths are rounded to 5 ms so humanised lengths still share renders; starts are exact
ACCENT_VELOCITY = 100  # at or above: the patch's accent (extra filter sweep, 303-style)
REF_HZ = 261.6256  # key tracking reference: middle C
NOTE_PEAK = 0.95  # no single note exceeds this, whatever the patch, pitch or velocity
MONO_FADE_S = 0.004  # a mono patch's note fades out over this when the next note takes the voice


@dataclass(frozen=True)
class SynthPatch:
    """One subtractive voice.

    Attributes:
        wave: "saw", "square", "pulse", "sine" or "triangle".
        amp: amplitude ADSR (attack s, decay s, sustain 0..1, release s); decay/release are times to -40 dB.
        filt: filter-envelope ADSR, same units.
        cutoff_hz: low-pass cutoff at middle C with the filter envelope at 0, Hz.
        env_oct: octaves the filter envelope opens the cutoff at full velocity.
        res: resonance 0..1 (near 1 rings; 0.85 is acid territory).
        poles: 2 (12 dB/oct) or 4 (24 dB/oct).
        keytrack: 0..1, how far the cutoff follows the played pitch (1 = one octave per octave).
        unison: oscillators per note, 1..7.
        detune_cents: the outermost unison voices' detune, cents (voices spread evenly between).
        spread: stereo spread of the unison voices, 0 (mono) .. 1 (hard left/right).
        pw: pulse width 0..1 for "pulse".
        sub: level of a sine one octave below, 0..1 (kept mono).
        noise: white-noise level into the filter, 0..1.
        drive: tanh drive into the filter (0 clean, ~2 gritty).
        vel_to_amp / vel_to_filter: 0..1, how much velocity scales loudness / the filter sweep.
        accent_oct: extra filter-envelope octaves at velocity >= ``ACCENT_VELOCITY``.
        lfo_hz / lfo_oct: slow sine LFO on the cutoff (octaves, peak).
        level: output gain.
        transpose: semitones added to every note.
        glide_st / glide_s: the pitch starts ``glide_st`` semitones high and falls back with time constant
            ``glide_s`` seconds (an 808's drop; 0 = steady).
        mono: one voice, like a monosynth: each note (its release included) stops when a later note starts;
            notes that start together still sound together. Poly patches cut a note only when the same pitch
            is struck again.
        slide_s: for a mono patch, a note that starts while the previous one is still held glides in from its
            pitch with this time constant, seconds (the TB-303's slide; 0 = no slide).
    """

    wave: str
    amp: tuple[float, float, float, float]
    filt: tuple[float, float, float, float]
    cutoff_hz: float
    env_oct: float
    res: float = 0.2
    poles: int = 2
    keytrack: float = 0.5
    unison: int = 1
    detune_cents: float = 0.0
    spread: float = 0.0
    pw: float = 0.5
    sub: float = 0.0
    noise: float = 0.0
    drive: float = 0.0
    vel_to_amp: float = 0.6
    vel_to_filter: float = 0.5
    accent_oct: float = 0.0
    lfo_hz: float = 0.0
    lfo_oct: float = 0.0
    level: float = 0.5
    transpose: int = 0
    glide_st: float = 0.0
    glide_s: float = 0.03
    mono: bool = False
    slide_s: float = 0.0


PATCHES: dict[str, SynthPatch] = {
    # Bass: one voice at a time (mono=True) and centred (L == R) so the low end stays solid.
    "saw_bass": SynthPatch("saw", (0.003, 0.35, 0.8, 0.06), (0.001, 0.25, 0.35, 0.08), 420.0, 2.6, 0.35, 4, 0.5,
                           sub=0.45, drive=1.2, level=0.45, mono=True),
    "sub_bass": SynthPatch("sine", (0.005, 0.6, 0.9, 0.09), (0.001, 0.1, 1.0, 0.1), 1200.0, 0.0, 0.0, 2, 0.0,
                           drive=0.9, vel_to_amp=0.4, level=0.6, mono=True),
    "acid_bass": SynthPatch("saw", (0.002, 0.5, 0.6, 0.03), (0.001, 0.22, 0.0, 0.05), 220.0, 3.4, 0.92, 4, 0.3,
                            drive=1.8, vel_to_filter=0.6, accent_oct=1.3, level=0.4, mono=True,
                            slide_s=0.025),
    "reese_bass": SynthPatch("saw", (0.01, 0.5, 0.9, 0.12), (0.01, 0.4, 0.6, 0.2), 420.0, 1.0, 0.3, 4, 0.3,
                             unison=2, detune_cents=18.0, spread=0.0, sub=0.55, drive=1.4, lfo_hz=0.25,
                             lfo_oct=0.7, level=0.4, mono=True),
    # Hip-hop/trap 808: a tuned sine boom with the drum's pitch drop, saturated so it reads on small speakers.
    "boom_808": SynthPatch("sine", (0.001, 2.2, 0.0, 0.12), (0.001, 0.1, 1.0, 0.1), 900.0, 0.0, 0.0, 2, 0.0,
                           drive=2.2, vel_to_amp=0.5, glide_st=9.0, glide_s=0.035, level=0.6,
                           mono=True, slide_s=0.04),
    # Leads
    "square_lead": SynthPatch("square", (0.005, 0.25, 0.85, 0.15), (0.003, 0.4, 0.5, 0.2), 1700.0, 1.5, 0.2, 2,
                              0.8, unison=2, detune_cents=6.0, spread=0.3, level=0.35, mono=True),
    "saw_lead": SynthPatch("saw", (0.005, 0.3, 0.85, 0.2), (0.002, 0.35, 0.55, 0.25), 2000.0, 1.8, 0.25, 2, 0.8,
                           unison=3, detune_cents=12.0, spread=0.5, level=0.32, mono=True),
    # Pads: slow attack, wide unison, gentle movement in the cutoff.
    "supersaw_pad": SynthPatch("saw", (0.6, 1.0, 0.85, 1.2), (0.8, 1.5, 0.6, 1.2), 1300.0, 1.5, 0.15, 2, 0.5,
                               unison=7, detune_cents=25.0, spread=0.9, lfo_hz=0.2, lfo_oct=0.2, vel_to_amp=0.3,
                               level=0.22),
    "warm_pad": SynthPatch("saw", (0.9, 1.5, 0.8, 1.5), (1.2, 2.0, 0.5, 1.5), 650.0, 1.0, 0.1, 4, 0.5,
                           unison=4, detune_cents=10.0, spread=0.7, lfo_hz=0.15, lfo_oct=0.25, vel_to_amp=0.3,
                           level=0.25),
    # 1980s poly brass: the filter opens more slowly than the amplitude, so each chord swells ("blat").
    "synth_brass": SynthPatch("saw", (0.03, 0.6, 0.8, 0.25), (0.07, 0.5, 0.45, 0.25), 500.0, 2.5, 0.15, 4, 0.7,
                              unison=3, detune_cents=8.0, spread=0.5, level=0.3),
    # Short, percussive: the filter envelope is most of the sound.
    "pluck_arp": SynthPatch("pulse", (0.001, 0.35, 0.0, 0.15), (0.0005, 0.13, 0.0, 0.1), 380.0, 4.0, 0.3, 2, 0.7,
                            unison=2, detune_cents=8.0, spread=0.6, pw=0.3, level=0.35),
    "chord_stab": SynthPatch("saw", (0.002, 0.28, 0.0, 0.12), (0.001, 0.16, 0.1, 0.1), 600.0, 3.0, 0.25, 4, 0.5,
                             unison=5, detune_cents=14.0, spread=0.7, level=0.25),
}


def render_voice(patch: str, notes: Sequence[tuple[float, float, int, int]], duration_s: float, sr: int,
                 seed: int) -> np.ndarray:
    """Play ``notes`` through ``PATCHES[patch]``; returns float32 stereo, shape (2, round(duration_s * sr)).

    Args:
        patch: a key of ``PATCHES``.
        notes: (start s, held length s >= 0, MIDI pitch 0..127, velocity 1..127); release tails ring past the
            length and are cut at ``duration_s``; a zero length plays the shortest gate (``GATE_STEP_S``).
        duration_s: length of the part, seconds.
        sr: sample rate, Hz.
        seed: seeds the unison phases, detune jitter and noise; the same arguments give byte-identical audio.

    Raises:
        ValueError: naming the field at fault (patch, a note's field, duration_s, sr).
    """
    spec = _patch(patch)
    n_total = _frames(duration_s, sr)
    out = np.zeros((2, n_total), dtype=np.float32)
    salt = zlib.crc32(patch.encode())
    keys: list[tuple[int, ...]] = []
    begins: list[int] = []
    gains: list[float] = []
    for i, note in enumerate(notes):
        start, length, pitch, velocity = _check_note(i, note)
        begin = int(round(start * sr))
        if begin >= n_total:
            continue
        bucket = _bucket(velocity)
        keys.append((pitch, max(1, int(round(length / GATE_STEP_S))), bucket))
        begins.append(begin)
        gains.append(_velocity_gain(spec, velocity) / _velocity_gain(spec, bucket))
    if not keys:
        return out
    starts = np.array(begins, dtype=np.int64)
    pitches = np.array([k[0] for k in keys], dtype=np.int64)
    ends = _voice_cuts(starts, np.zeros_like(pitches) if spec.mono else pitches, n_total)
    if spec.mono and spec.slide_s > 0:
        keys = _slides(keys, begins, sr)
    # How much of each distinct note is ever heard: render that much once, place it at every use.
    need: dict[tuple[int, ...], int] = {}
    for key, begin, end in zip(keys, begins, ends, strict=True):
        full = _note_frames(spec, int(round(key[1] * GATE_STEP_S * sr)), sr)
        need[key] = max(need.get(key, 0), min(full, int(end) - begin))
    index = {key: k for k, key in enumerate(need)}
    renders = [_render_note(spec, key[0], int(round(key[1] * GATE_STEP_S * sr)), key[2], sr,
                            (seed, salt, *key), n, key[3] if len(key) > 3 else -1) for key, n in need.items()]
    lengths = np.array([x.shape[1] for x in renders], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    _dsp.place(out, np.concatenate(renders, axis=1), offsets, lengths,
               np.array([index[k] for k in keys], dtype=np.int64), starts, ends, np.array(gains),
               ends < n_total, int(MONO_FADE_S * sr))
    return out


def _note_frames(spec: SynthPatch, gate_n: int, sr: int) -> int:
    """Frames from a note's onset until its envelope has died away (-60 dB)."""
    a, d, s, r = spec.amp
    n = gate_n + int(1.5 * r * sr) + 1  # the release reaches -60 dB after 1.5 release times
    if s == 0:  # a percussive envelope has died away by then whether or not the key is still held
        n = min(n, int((a + 1.5 * d) * sr) + 1)
    return n


def _slides(keys: list[tuple[int, ...]], begins: list[int], sr: int) -> list[tuple[int, ...]]:
    """Mark each note that starts while an earlier one is still held (a tie, the 303's slide) with the pitch it
    glides from: keys become (pitch, steps, bucket, from_pitch)."""
    out = list(keys)
    held_from, held_until, held_pitch = -1, -1, -1
    for j in sorted(range(len(keys)), key=lambda k: begins[k]):
        pitch, steps = keys[j][0], keys[j][1]
        if held_from < begins[j] < held_until and held_pitch != pitch:
            out[j] = (*keys[j][:3], held_pitch)
        end = begins[j] + int(round(steps * GATE_STEP_S * sr))
        if begins[j] > held_from and (end > held_until or begins[j] >= held_until):
            held_from, held_until, held_pitch = begins[j], end, pitch
    return out


def _render_note(spec: SynthPatch, pitch: int, gate_n: int, velocity: int, sr: int, entropy: tuple[int, ...],
                 n: int, slide_from: int = -1) -> np.ndarray:
    """Synthesise the first ``n`` frames of one note at ``velocity``; float32 (2, n). With ``slide_from`` >= 0
    the pitch glides in from that MIDI pitch over ``spec.slide_s`` (instead of the patch's own drop) and the
    envelopes carry on at their sustain level instead of restarting, as on a TB-303."""
    rng = np.random.default_rng([int(e) % (1 << 64) for e in entropy])  # negative seeds are valid too
    hz = 440.0 * 2.0 ** ((pitch + spec.transpose - 69) / 12.0)
    nv = spec.unison
    if nv > 1:
        spread = np.linspace(-1.0, 1.0, nv)
        cents = spec.detune_cents * spread * (1.0 + 0.08 * rng.uniform(-1.0, 1.0, nv))
        order = np.array([j // 2 if j % 2 == 0 else nv - 1 - j // 2 for j in range(nv)])
        pans = spec.spread * spread[order]  # neighbours in detune sit on opposite sides
    else:
        cents = np.zeros(1)
        pans = np.zeros(1)
    freqs = hz * 2.0 ** (cents / 1200.0)
    phases = rng.uniform(0.0, 1.0, nv) if nv > 1 else np.zeros(1)
    angle = (pans + 1.0) * np.pi / 4.0
    gain_l = np.cos(angle) * np.sqrt(2.0)
    gain_r = np.sin(angle) * np.sqrt(2.0)
    glide, glide_s = 2.0 ** (spec.glide_st / 12.0) - 1.0, spec.glide_s
    if slide_from >= 0:
        glide, glide_s = 2.0 ** ((slide_from - pitch) / 12.0) - 1.0, spec.slide_s
    v = velocity / 127.0
    env_oct = spec.env_oct * (1.0 - spec.vel_to_filter * (1.0 - v))
    if velocity >= ACCENT_VELOCITY:
        env_oct += spec.accent_oct
    cutoff = spec.cutoff_hz * (hz / REF_HZ) ** spec.keytrack
    noise = rng.standard_normal(n).astype(np.float32) if spec.noise > 0 else np.zeros(0, dtype=np.float32)
    out = np.zeros((2, n), dtype=np.float32)
    _dsp.render_note(out, freqs, phases, gain_l, gain_r, _dsp.WAVES[spec.wave], spec.pw, spec.sub, noise,
                     spec.noise, gate_n, np.array(spec.amp, dtype=np.float64), np.array(spec.filt, dtype=np.float64),
                     cutoff, env_oct, spec.res, spec.poles, spec.drive, spec.lfo_hz, spec.lfo_oct, float(sr),
                     glide, glide_s, slide_from >= 0 and spec.amp[2] > 0)  # a decaying boom re-strikes
    if n == _note_frames(spec, gate_n, sr):
        fade = min(n, 64)
        out[:, n - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    out *= np.float32(spec.level * _velocity_gain(spec, velocity))
    peak = float(np.max(np.abs(out)))
    if peak > NOTE_PEAK:  # only extreme corners (a resonant patch played very high) get here: turn them down
        out *= np.float32(NOTE_PEAK / peak)
    return out


def _voice_cuts(starts: np.ndarray, voices: np.ndarray, n_total: int) -> np.ndarray:
    """Where each note stops: at the next later onset on the same voice (``voices`` all 0 for a mono patch; the
    pitch for a poly one, which re-strikes a ringing key on the same voice, as a poly synth does), else the end.
    Notes sharing an onset and a voice sound together."""
    ends = np.full(len(starts), n_total, dtype=np.int64)
    for voice in np.unique(voices):
        idx = np.nonzero(voices == voice)[0]
        onsets = np.unique(starts[idx])
        nxt = np.searchsorted(onsets, starts[idx], side="right")
        ends[idx] = np.where(nxt < len(onsets), onsets[np.minimum(nxt, len(onsets) - 1)], n_total)
    return ends


def _velocity_gain(spec: SynthPatch, velocity: int) -> float:
    """Linear gain for ``velocity`` (1..127) under the patch's velocity sensitivity."""
    return 1.0 - spec.vel_to_amp * (1.0 - (velocity / 127.0) ** 1.5)


def _bucket(velocity: int) -> int:
    """The representative velocity of ``velocity``'s bucket (1..127)."""
    return min(127, (velocity // VELOCITY_BUCKET) * VELOCITY_BUCKET + VELOCITY_BUCKET // 2)


def _patch(name: str) -> SynthPatch:
    """Look up a patch, or raise naming the accepted ones."""
    try:
        return PATCHES[name]
    except (KeyError, TypeError):
        raise ValueError(f"patch: {name!r} is not a synth patch; accepted: {', '.join(PATCHES)}") from None


def _frames(duration_s: float, sr: int) -> int:
    """Frame count of a part, validating both arguments."""
    if not isinstance(sr, int | np.integer) or sr < 8000 or sr > 192000:
        raise ValueError(f"sr: {sr!r} is not a sample rate in Hz (an integer 8000..192000)")
    if not np.isfinite(duration_s) or duration_s < 0:
        raise ValueError(f"duration_s: {duration_s!r} must be a finite number of seconds >= 0")
    return int(round(duration_s * sr))


def _check_note(i: int, note: tuple[float, float, int, int]) -> tuple[float, float, int, int]:
    """Validate one note tuple; returns it with plain Python types."""
    try:
        start, length, pitch, velocity = note
    except (TypeError, ValueError):
        raise ValueError(f"notes[{i}]: {note!r} is not (start_s, length_s, midi_pitch, velocity)") from None
    if not np.isfinite(start) or start < 0:
        raise ValueError(f"notes[{i}].start_s: {start!r} must be finite and >= 0")
    if not np.isfinite(length) or length < 0:
        raise ValueError(f"notes[{i}].length_s: {length!r} must be finite and >= 0 (0 plays the shortest gate)")
    if int(pitch) != pitch or not 0 <= pitch <= 127:
        raise ValueError(f"notes[{i}].midi_pitch: {pitch!r} must be an integer 0..127")
    if int(velocity) != velocity or not 1 <= velocity <= 127:
        raise ValueError(f"notes[{i}].velocity: {velocity!r} must be an integer 1..127")
    return float(start), float(length), int(pitch), int(velocity)
