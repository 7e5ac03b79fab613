"""Drum-hit synthesis: one function per kind of drum, each parameterised by the kit that uses it.

Designs follow the analogue machines and their classic analyses (Sound On Sound "Synth Secrets" 1999-2002:
"Practical Bass Drum Synthesis", "Synthesizing Realistic Snare Drums", "Practical Cymbal Synthesis",
"Synthesizing Claps"; the Roland TR-808 service notes):

- kick: a sine whose pitch falls exponentially (e.g. 150 -> 50 Hz), a long or short exponential decay, a click
  (and for a 909 a short noise burst), soft tanh saturation;
- snare: two detuned sine modes with a small pitch drop plus high-passed noise ("snappy");
- clap: three or four band-passed (~1 kHz) noise bursts about 10 ms apart, then a longer tail;
- hats and crashes: six square oscillators at the 808's inharmonic frequencies (205.3, 304.4, 369.6, 522.7,
  540, 800 Hz) plus noise, band-passed around 7-10 kHz; closed ~50 ms, open ~400 ms;
- ride: a modal bank of a few dozen decaying inharmonic sines (2-10 kHz), a stick ping and a bell;
- toms: pitch-dropping sines with a little noise; rim: two short high sines;
- brushes: band-passed noise taps and slow swishes whose band moves (a swept state-variable filter);
- gated snare/toms: the hit plus a dense reverb-like noise tail shaped to the hit's band, cut hard by a gate
  (the 1980s "gated reverb" of a gated room mic).

Each function returns float64 stereo ``(2, n)``; ``v`` is velocity 0..1 (tone only: the caller sets the level).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from inference.synth import _dsp

METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)  # TR-808 cymbal/hat oscillators


def _t(n: int, sr: int) -> np.ndarray:
    """Sample times, seconds."""
    return np.arange(n) / sr


def _decay(n: int, sr: int, time_s: float) -> np.ndarray:
    """Exponential decay reaching -40 dB at ``time_s``."""
    return np.exp(-4.6 * _t(n, sr) / max(time_s, 1e-4))


def _band(x: np.ndarray, sr: int, lo: float | None, hi: float | None, order: int = 2) -> np.ndarray:
    """Butterworth high-pass (``lo``), low-pass (``hi``) or band-pass (both), along the last axis."""
    if not lo and not hi:
        return x
    return signal.sosfilt(_design(sr, lo, hi, order), x, axis=-1)


@lru_cache(maxsize=256)
def _design(sr: int, lo: float | None, hi: float | None, order: int) -> np.ndarray:
    """Second-order sections of a Butterworth filter (cached: kits reuse a few dozen designs)."""
    nyq = 0.5 * sr
    if lo and hi:
        return signal.butter(order, [lo / nyq, min(hi / nyq, 0.98)], "bandpass", output="sos")
    if lo:
        return signal.butter(order, lo / nyq, "highpass", output="sos")
    assert hi is not None  # _band only asks for a design when one of the edges is set
    return signal.butter(order, min(hi / nyq, 0.98), "lowpass", output="sos")


def _sweep_sine(n: int, sr: int, f_start: float, f_end: float, sweep_s: float, phase: float = 0.0) -> np.ndarray:
    """A sine gliding exponentially from ``f_start`` to ``f_end`` Hz with time constant ``sweep_s``."""
    f = f_end + (f_start - f_end) * np.exp(-_t(n, sr) / max(sweep_s, 1e-4))
    return np.sin(2 * np.pi * (np.cumsum(f) / sr) + phase)


def _stereo(mono: np.ndarray) -> np.ndarray:
    """Duplicate a mono signal to (2, n)."""
    return np.vstack([mono, mono])


def kick(sr: int, rng: np.random.Generator, v: float, f_start: float, f_end: float, sweep_s: float,
         decay_s: float, click: float, noise: float = 0.0, drive: float = 1.0,
         lp_hz: float | None = None) -> np.ndarray:
    """Bass drum: pitch-dropping sine, click and optional noise transient; ``decay_s`` to -40 dB."""
    n = int((decay_s * 1.5 + 0.01) * sr)
    depth = 0.7 + 0.3 * v  # harder hits sweep from higher up
    body = _sweep_sine(n, sr, f_end + (f_start - f_end) * depth, f_end, sweep_s) * _decay(n, sr, decay_s)
    body *= np.minimum(1.0, _t(n, sr) / 0.0008)  # 0.8 ms de-click of the onset
    m = int(0.004 * sr)
    transient = np.zeros(n)
    # the click: a 1.5 ms decaying 1-3 kHz blip (the beater, or the 808's trigger pulse)
    transient[:m] += click * (0.5 + 0.5 * v) * _band(rng.standard_normal(m), sr, 1000, 5000) * _decay(m, sr, 0.0015)
    if noise:
        k = int(0.02 * sr)
        transient[:k] += noise * v * _band(rng.standard_normal(k), sr, 2000, None) * _decay(k, sr, 0.012)
    x = body + transient
    if drive:
        x = np.tanh(drive * x) / np.tanh(drive)
    if lp_hz:
        x = _band(x, sr, None, lp_hz)
    return _stereo(x)


def snare(sr: int, rng: np.random.Generator, v: float, tones: tuple[float, ...], tone_decay_s: float,
          noise_band: tuple[float, float], noise_decay_s: float, snappy: float, crack: float = 0.3) -> np.ndarray:
    """Snare: sine modes of the head (each higher one quieter and shorter) with a 12% pitch drop, plus
    band-limited noise for the wires ("snappy"), stereo-decorrelated. Two modes give the 808's tone; an acoustic
    head uses the membrane's ratios (1, 1.59, 2.14, 2.30, 2.65)."""
    n = int((max(tone_decay_s, noise_decay_s) * 1.5 + 0.01) * sr)
    body = np.zeros(n)
    for k, f in enumerate(tones):
        body += 0.6 ** k * _sweep_sine(n, sr, f * 1.12, f, 0.01) * _decay(n, sr, tone_decay_s / (1.0 + 0.4 * k))
    wires = _band(rng.standard_normal((2, n)), sr, noise_band[0], noise_band[1]) * _decay(n, sr, noise_decay_s)
    wires[1] = 0.7 * wires[1] + 0.3 * wires[0]  # partly correlated: wide but not phasey
    m = int(0.003 * sr)
    body[:m] += crack * v * _band(rng.standard_normal(m), sr, 3000, None) * _decay(m, sr, 0.002)
    mix = (1.0 - 0.5 * snappy) * body + snappy * (0.7 + 0.3 * v) * wires
    return np.tanh(1.2 * mix)


def clap(sr: int, rng: np.random.Generator, v: float, centre_hz: float, tail_s: float, bursts: int = 4) -> np.ndarray:
    """Hand clap: ``bursts`` noise bursts ~10 ms apart, band-passed around ``centre_hz``, then a decaying tail."""
    n = int((0.035 + tail_s * 1.5) * sr)
    env = np.zeros(n)
    t = _t(n, sr)
    onset = 0.0
    for _ in range(bursts - 1):
        i = int(onset * sr)
        env[i:] += np.exp(-(t[: n - i]) / 0.003)
        onset += 0.008 + 0.004 * rng.random()
    i = int(onset * sr)
    env[i:] += 1.6 * np.exp(-4.6 * t[: n - i] / tail_s)
    noise = rng.standard_normal((2, n))
    noise[1] = 0.6 * noise[1] + 0.4 * noise[0]
    x = _band(noise, sr, centre_hz * 0.65, centre_hz * 2.2) * env
    x += 0.25 * _band(noise, sr, 3000, None) * env  # a little air on top
    return x * (0.8 + 0.2 * v)


def metal(sr: int, n: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Sum of six band-limited squares at the 808's cymbal frequencies (times ``scale``), random phases."""
    return _dsp.square_bank(np.array(METAL_HZ) * scale, rng.random(len(METAL_HZ)), n, float(sr))


def hat(sr: int, rng: np.random.Generator, v: float, decay_s: float, band: tuple[float, float], metallic: float,
        scale: float = 1.0) -> np.ndarray:
    """Hi-hat: metallic squares plus noise through a 7-10 kHz-ish band-pass; short (closed) or long (open)."""
    n = int((decay_s * 1.5 + 0.005) * sr)
    src = metallic * metal(sr, n, rng, scale) + (1.0 - metallic) * 0.5 * rng.standard_normal(n)
    src2 = metallic * metal(sr, n, rng, scale * 1.003) + (1.0 - metallic) * 0.5 * rng.standard_normal(n)
    lo = band[0] * (0.9 + 0.15 * v)
    x = _band(np.vstack([src, src2]), sr, lo, band[1], order=3)
    x = _band(x, sr, lo * 0.85, None, order=2)  # steeper low side: hats carry nothing below ~5 kHz
    env = _decay(n, sr, decay_s) * np.minimum(1.0, _t(n, sr) / 0.0005)
    return x * env


def cymbal(sr: int, rng: np.random.Generator, v: float, decay_s: float, lo_hz: float, bell: float,
           scale: float = 1.0, wash: float = 0.6) -> np.ndarray:
    """Crash or ride: metallic squares, noise wash above ``lo_hz`` and (for a ride) a bell of inharmonic sines."""
    n = int((decay_s * 1.3 + 0.01) * sr)
    out = np.empty((2, n))
    t = _t(n, sr)
    for c in range(2):
        src = (1.0 - wash) * metal(sr, n, rng, scale * (1.0 + 0.004 * c)) + wash * 0.4 * rng.standard_normal(n)
        out[c] = _band(src, sr, lo_hz, 16000.0, order=2)
    out *= _decay(n, sr, decay_s) * (0.6 + 0.4 * v)
    if bell:
        tone = sum(np.sin(2 * np.pi * f * t) * a for f, a in ((520.0 * scale, 1.0), (1245.0 * scale, 0.6),
                                                              (2712.0 * scale, 0.4)))
        out += bell * tone * _decay(n, sr, decay_s * 0.45)
    onset = int(0.002 * sr)
    out[:, :onset] *= np.linspace(0.0, 1.0, onset)
    return out


def ride(sr: int, rng: np.random.Generator, v: float, decay_s: float, lo_hz: float, hi_hz: float, bell: float,
         partials: int = 48) -> np.ndarray:
    """Ride cymbal: ``partials`` inharmonic modes (log-spaced at random in ``lo_hz``..``hi_hz``, the higher ones
    dying sooner), a stick "ping" and a bell; each channel draws its own modes, so the wash is wide."""
    n = int((decay_s * 1.2 + 0.01) * sr)
    out = np.empty((2, n))
    for c in range(2):
        freqs = np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz), partials))
        amps = rng.uniform(0.3, 1.0, partials) / np.sqrt(partials)
        decays = decay_s * (lo_hz / freqs) ** 0.5 * rng.uniform(0.6, 1.2, partials)
        out[c] = _dsp.partial_bank(freqs, amps, decays, rng.random(partials), n, float(sr))
    k = int(0.04 * sr)
    ping = _band(rng.standard_normal((2, k)), sr, 4000.0, 12000.0) * _decay(k, sr, 0.03) * (0.5 + 0.5 * v)
    out[:, :k] += 0.6 * ping
    if bell:
        t = _t(n, sr)
        tone = sum(np.sin(2 * np.pi * f * t) * a for f, a in ((612.0, 1.0), (1468.0, 0.6), (2935.0, 0.35)))
        out += bell * tone * _decay(n, sr, decay_s * 0.4)
    return out


def tom(sr: int, rng: np.random.Generator, v: float, f_hz: float, drop: float, decay_s: float,
        noise: float = 0.15) -> np.ndarray:
    """Tom: a sine falling by ``drop`` (ratio) plus a second mode at 1.5x and a little noise."""
    n = int((decay_s * 1.5 + 0.01) * sr)
    x = _sweep_sine(n, sr, f_hz * (1.0 + drop * (0.6 + 0.4 * v)), f_hz, 0.05) * _decay(n, sr, decay_s)
    x += 0.25 * _sweep_sine(n, sr, f_hz * 1.5 * (1.0 + drop), f_hz * 1.5, 0.04) * _decay(n, sr, decay_s * 0.5)
    k = int(0.03 * sr)
    x[:k] += noise * _band(rng.standard_normal(k), sr, 500, 6000) * _decay(k, sr, 0.02)
    return _stereo(np.tanh(1.3 * x))


def rim(sr: int, rng: np.random.Generator, v: float, tones: tuple[float, float], decay_s: float,
        wood: float = 0.0) -> np.ndarray:
    """Rimshot / cross-stick: two short high sines (808: ~455 and ~1667 Hz), optional woody noise."""
    n = int((decay_s * 1.5 + 0.005) * sr)
    t = _t(n, sr)
    x = (np.sin(2 * np.pi * tones[0] * t) + 0.7 * np.sin(2 * np.pi * tones[1] * t)) * _decay(n, sr, decay_s)
    if wood:
        x += wood * _band(rng.standard_normal(n), sr, 600, 3000) * _decay(n, sr, decay_s * 0.6)
    return _stereo(_band(np.tanh(2.0 * x), sr, 300, None))


def brush_tap(sr: int, rng: np.random.Generator, v: float, decay_s: float, body: float) -> np.ndarray:
    """A brush hitting the snare: soft-attack band-passed noise (2-7 kHz) and a faint drum-head thump."""
    n = int((decay_s * 1.5 + 0.02) * sr)
    t = _t(n, sr)
    attack = 0.002 + 0.004 * (1.0 - v)
    env = np.minimum(1.0, t / attack) * _decay(n, sr, decay_s)
    x = _band(rng.standard_normal((2, n)), sr, 1800, 7000) * env
    x += body * np.sin(2 * np.pi * 190.0 * t) * _decay(n, sr, 0.08)
    return x


def brush_swish(sr: int, rng: np.random.Generator, v: float, length_s: float) -> np.ndarray:
    """A brush swept over the head: noise whose band glides 2.5 -> 5 -> 3 kHz, swelling in and fading out."""
    n = int(length_s * sr)
    t = _t(n, sr)
    u = t / length_s
    centre = 2500.0 + 2500.0 * np.sin(np.pi * np.minimum(1.0, u * 1.2)) ** 2 - 500.0 * u
    env = np.sin(np.pi * np.minimum(1.0, u) ** 0.7) ** 1.5 * (0.7 + 0.3 * v)
    out = np.empty((2, n))
    for c in range(2):
        noise = rng.standard_normal(n).astype(np.float64)
        out[c] = _dsp.svf(noise, centre * (1.0 + 0.05 * c), 0.35, 1, float(sr)) * env
    return out


def gate_tail(sr: int, rng: np.random.Generator, dry: np.ndarray, band: tuple[float, float], hold_s: float,
              level: float) -> np.ndarray:
    """Add a dense, wide, reverb-like noise tail in ``band`` to ``dry`` and cut it hard after ``hold_s``."""
    fall = 0.012
    n = max(dry.shape[1], int((hold_s + fall + 0.01) * sr))
    t = _t(n, sr)
    tail = _band(rng.standard_normal((2, n)), sr, band[0], band[1])
    swell = (1.0 - np.exp(-t / 0.012)) * np.exp(-t / 0.9)  # a room that keeps building while the gate is open
    gate = np.clip((hold_s + fall - t) / fall, 0.0, 1.0)
    out = np.zeros((2, n))
    out[:, : dry.shape[1]] += dry * np.clip((hold_s + fall - t[: dry.shape[1]]) / fall, 0.0, 1.0)
    out += level * tail * swell * gate
    return out


def lofi(x: np.ndarray, sr: int, lp_hz: float, bits: int, drive: float) -> np.ndarray:
    """Sampler grit: tanh saturation, 2x sample-and-hold (~SP-1200 rate), bit-crush, then a low-pass."""
    y = np.tanh(drive * x) / np.tanh(drive)
    y = np.repeat(y[:, ::2], 2, axis=1)[:, : x.shape[1]]
    q = float(2 ** (bits - 1))
    y = np.round(y * q) / q
    return _band(y, sr, 30.0, lp_hz, order=4)
