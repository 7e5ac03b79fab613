"""Per-genre drum kits and ``render_drums``: each hit is synthesised once per call and placed by slice-add.

A kit maps instrument names to a sound recipe (a function of ``_drum_sounds`` with the kit's parameters), a pan
position and a level. ``render_drums`` renders each distinct (instrument, velocity bucket, round-robin variant)
once, peak-normalises it to the instrument's level (so one hit at velocity 127 never exceeds 1.0), and adds it at
every hit time with the hit's exact velocity gain. Open hats are choked by the next hat hit, and an 808's boom by
the next kick, as on the machines.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from inference.synth import _drum_sounds as ds
from inference.synth import _dsp
from inference.synth.voices import _frames

VELOCITY_BUCKET = 16  # default width of a tone bucket (hits in one bucket share a render, at their own gain)
VARIANTS = 3  # round-robin renders per (instrument, bucket): analogue noise differs hit to hit
CHOKE_FADE_S = 0.006


@dataclass(frozen=True)
class DrumSound:
    """One instrument of a kit.

    Attributes:
        make: ``make(sr, rng, v)`` gives (2, n) float64 for velocity ``v`` 0..1.
        pan: -1 (left) .. 1 (right).
        level: peak of a velocity-127 hit, 0..1.
        choked_by: instruments whose next hit cuts this one short.
        bucket: width of a tone bucket in velocity steps (long cymbals use wide ones: they are costly to render
            and their tone barely moves with velocity).
    """

    make: Callable[..., np.ndarray]
    pan: float = 0.0
    level: float = 0.9
    choked_by: tuple[str, ...] = ()
    bucket: int = VELOCITY_BUCKET


def _kit_808() -> dict[str, DrumSound]:
    """TR-808, hip-hop/trap tuning: long tuned boom, snappy snare, wide clap, metallic hats."""
    return {
        "kick": DrumSound(partial(ds.kick, f_start=150.0, f_end=49.0, sweep_s=0.045, decay_s=1.1, click=0.5,
                                  drive=1.4), 0.0, 0.8, ("kick",)),
        "snare": DrumSound(partial(ds.snare, tones=(185.0, 330.0), tone_decay_s=0.12, noise_band=(1800.0, 9000.0),
                                   noise_decay_s=0.2, snappy=0.65), 0.0, 0.95),
        "clap": DrumSound(partial(ds.clap, centre_hz=1050.0, tail_s=0.22), 0.0, 0.95),
        "hat_closed": DrumSound(partial(ds.hat, decay_s=0.05, band=(7000.0, 12000.0), metallic=0.85), 0.25, 0.6),
        "hat_open": DrumSound(partial(ds.hat, decay_s=0.42, band=(7000.0, 12000.0), metallic=0.85), 0.25, 0.55,
                              ("hat_closed", "hat_open")),
        "rim": DrumSound(partial(ds.rim, tones=(455.0, 1667.0), decay_s=0.025), -0.15, 0.6),
        "tom_low": DrumSound(partial(ds.tom, f_hz=88.0, drop=0.25, decay_s=0.45), -0.3, 0.8),
        "tom_high": DrumSound(partial(ds.tom, f_hz=150.0, drop=0.25, decay_s=0.35), 0.3, 0.75),
        "crash": DrumSound(partial(ds.cymbal, decay_s=1.6, lo_hz=3500.0, bell=0.0, scale=1.4), -0.35, 0.55, bucket=64),
        "ride": DrumSound(partial(ds.cymbal, decay_s=1.8, lo_hz=3000.0, bell=0.25, scale=1.9, wash=0.3),
                          0.35, 0.5, bucket=64),
    }


def _kit_909() -> dict[str, DrumSound]:
    """TR-909, house/techno: short punchy kick with a noise attack, bright snare and clap, crisp hats."""
    return {
        "kick": DrumSound(partial(ds.kick, f_start=230.0, f_end=52.0, sweep_s=0.022, decay_s=0.42, click=0.9,
                                  noise=0.35, drive=1.8), 0.0, 0.95),
        "snare": DrumSound(partial(ds.snare, tones=(195.0, 350.0), tone_decay_s=0.09, noise_band=(1200.0, 11000.0),
                                   noise_decay_s=0.24, snappy=0.8, crack=0.5), 0.0, 0.9),
        "clap": DrumSound(partial(ds.clap, centre_hz=1250.0, tail_s=0.3), 0.0, 0.95),
        "hat_closed": DrumSound(partial(ds.hat, decay_s=0.045, band=(8000.0, 14000.0), metallic=0.45, scale=1.3),
                                0.2, 0.7),
        "hat_open": DrumSound(partial(ds.hat, decay_s=0.38, band=(7500.0, 14000.0), metallic=0.45, scale=1.3),
                              0.2, 0.6, ("hat_closed", "hat_open")),
        "rim": DrumSound(partial(ds.rim, tones=(500.0, 1800.0), decay_s=0.02), -0.15, 0.6),
        "tom_low": DrumSound(partial(ds.tom, f_hz=95.0, drop=0.4, decay_s=0.35), -0.3, 0.8),
        "tom_high": DrumSound(partial(ds.tom, f_hz=165.0, drop=0.4, decay_s=0.3), 0.3, 0.75),
        "crash": DrumSound(partial(ds.cymbal, decay_s=1.5, lo_hz=4000.0, bell=0.0, scale=1.6, wash=0.7),
                           -0.35, 0.55, bucket=64),
        "ride": DrumSound(partial(ds.cymbal, decay_s=1.6, lo_hz=3500.0, bell=0.35, scale=2.1, wash=0.35),
                          0.35, 0.5, bucket=64),
    }


def _lofi(sound: Callable[..., np.ndarray], lp_hz: float = 7500.0) -> Callable[..., np.ndarray]:
    """Wrap a recipe in sampler grit (saturation, 2x sample-and-hold, 12-bit, low-pass)."""

    def make(sr: int, rng: np.random.Generator, v: float) -> np.ndarray:
        return ds.lofi(sound(sr, rng, v), sr, lp_hz, 12, 1.6)

    return make


def _kit_lofi() -> dict[str, DrumSound]:
    """Dusty boom-bap: a round kick and a fat snare, low-passed, crushed and saturated like an old sampler."""
    return {
        "kick": DrumSound(_lofi(partial(ds.kick, f_start=125.0, f_end=54.0, sweep_s=0.035, decay_s=0.55,
                                        click=0.6, drive=1.6)), 0.0, 0.95),
        "snare": DrumSound(_lofi(partial(ds.snare, tones=(200.0, 290.0), tone_decay_s=0.14,
                                         noise_band=(900.0, 6000.0), noise_decay_s=0.22, snappy=0.6)), 0.0, 0.85),
        "clap": DrumSound(_lofi(partial(ds.clap, centre_hz=950.0, tail_s=0.2)), 0.0, 0.8),
        "hat_closed": DrumSound(_lofi(partial(ds.hat, decay_s=0.06, band=(6000.0, 10500.0), metallic=0.3),
                                      11000.0), 0.2, 0.5),
        "hat_open": DrumSound(_lofi(partial(ds.hat, decay_s=0.35, band=(6000.0, 10500.0), metallic=0.3),
                                    11000.0), 0.2, 0.45, ("hat_closed", "hat_open")),
        "rim": DrumSound(_lofi(partial(ds.rim, tones=(420.0, 1500.0), decay_s=0.035, wood=0.5)), -0.15, 0.6),
        "tom_low": DrumSound(_lofi(partial(ds.tom, f_hz=90.0, drop=0.15, decay_s=0.4)), -0.3, 0.75),
        "tom_high": DrumSound(_lofi(partial(ds.tom, f_hz=145.0, drop=0.15, decay_s=0.3)), 0.3, 0.7),
        "crash": DrumSound(_lofi(partial(ds.cymbal, decay_s=1.4, lo_hz=3000.0, bell=0.0, scale=1.3), 11000.0),
                           -0.3, 0.45, bucket=64),
        "ride": DrumSound(_lofi(partial(ds.cymbal, decay_s=1.5, lo_hz=2500.0, bell=0.3, scale=1.7, wash=0.3),
                                11000.0), 0.3, 0.45, bucket=64),
    }


def _gated(sound: Callable[..., np.ndarray], band: tuple[float, float], hold_s: float,
           level: float) -> Callable[..., np.ndarray]:
    """Wrap a recipe in a gated-reverb tail."""

    def make(sr: int, rng: np.random.Generator, v: float) -> np.ndarray:
        return ds.gate_tail(sr, rng, sound(sr, rng, v), band, hold_s, level)

    return make


def _kit_gated() -> dict[str, DrumSound]:
    """1980s synthwave: punchy kick, huge gated-reverb snare and claps, Simmons-style gated toms."""
    return {
        "kick": DrumSound(partial(ds.kick, f_start=170.0, f_end=57.0, sweep_s=0.025, decay_s=0.38, click=0.8,
                                  noise=0.2, drive=1.6), 0.0, 0.95),
        "snare": DrumSound(_gated(partial(ds.snare, tones=(180.0, 320.0), tone_decay_s=0.16,
                                          noise_band=(1200.0, 9000.0), noise_decay_s=0.25, snappy=0.6),
                                  (250.0, 7000.0), 0.3, 0.45), 0.0, 0.9),
        "clap": DrumSound(_gated(partial(ds.clap, centre_hz=1100.0, tail_s=0.18), (600.0, 6000.0), 0.26, 0.4),
                          0.0, 0.85),
        "hat_closed": DrumSound(partial(ds.hat, decay_s=0.05, band=(7500.0, 13000.0), metallic=0.6), 0.3, 0.55),
        "hat_open": DrumSound(partial(ds.hat, decay_s=0.4, band=(7500.0, 13000.0), metallic=0.6), 0.3, 0.5,
                              ("hat_closed", "hat_open")),
        "rim": DrumSound(partial(ds.rim, tones=(480.0, 1700.0), decay_s=0.025), -0.2, 0.6),
        "tom_low": DrumSound(_gated(partial(ds.tom, f_hz=100.0, drop=1.2, decay_s=0.4, noise=0.3),
                                    (150.0, 4000.0), 0.32, 0.3), -0.4, 0.85),
        "tom_high": DrumSound(_gated(partial(ds.tom, f_hz=170.0, drop=1.2, decay_s=0.35, noise=0.3),
                                     (200.0, 5000.0), 0.28, 0.3), 0.4, 0.8),
        "crash": DrumSound(partial(ds.cymbal, decay_s=2.0, lo_hz=3500.0, bell=0.0, scale=1.5), -0.35, 0.55, bucket=64),
        "ride": DrumSound(partial(ds.cymbal, decay_s=2.0, lo_hz=3000.0, bell=0.3, scale=2.0, wash=0.35),
                          0.35, 0.5, bucket=64),
    }


def _kit_acoustic() -> dict[str, DrumSound]:
    """A played kit for pop, rock and folk: tight kick, wired snare, cross-stick, toms and cymbals."""
    return {
        "kick": DrumSound(partial(ds.kick, f_start=115.0, f_end=60.0, sweep_s=0.03, decay_s=0.33, click=1.0,
                                  noise=0.25, drive=1.3, lp_hz=6000.0), 0.0, 0.95),
        "snare": DrumSound(partial(ds.snare, tones=(190.0, 302.0, 407.0, 437.0, 504.0), tone_decay_s=0.15,
                                   noise_band=(2000.0, 10000.0),
                                   noise_decay_s=0.26, snappy=0.55, crack=0.6), 0.05, 0.85),
        "clap": DrumSound(partial(ds.clap, centre_hz=1100.0, tail_s=0.2), 0.0, 0.75),
        "hat_closed": DrumSound(partial(ds.hat, decay_s=0.07, band=(6500.0, 14000.0), metallic=0.5, scale=1.7),
                                0.3, 0.5),
        "hat_open": DrumSound(partial(ds.hat, decay_s=0.6, band=(6000.0, 14000.0), metallic=0.5, scale=1.7),
                              0.3, 0.45, ("hat_closed", "hat_open")),
        "rim": DrumSound(partial(ds.rim, tones=(520.0, 1350.0), decay_s=0.04, wood=0.8), 0.05, 0.6),
        "tom_low": DrumSound(partial(ds.tom, f_hz=82.0, drop=0.12, decay_s=0.55, noise=0.25), -0.35, 0.8),
        "tom_high": DrumSound(partial(ds.tom, f_hz=140.0, drop=0.12, decay_s=0.45, noise=0.25), 0.25, 0.75),
        "crash": DrumSound(partial(ds.cymbal, decay_s=2.2, lo_hz=3000.0, bell=0.0, scale=1.45, wash=0.65),
                           -0.4, 0.55, bucket=64),
        "ride": DrumSound(partial(ds.ride, decay_s=2.6, lo_hz=2600.0, hi_hz=10000.0, bell=0.3), 0.4, 0.5, bucket=64),
    }


def _kit_brushes() -> dict[str, DrumSound]:
    """Jazz: brushes on the snare (taps and swishes), a soft open-tuned bass drum, ride and feathered hats."""
    tap = partial(ds.brush_tap, decay_s=0.14, body=0.15)
    return {
        "kick": DrumSound(partial(ds.kick, f_start=85.0, f_end=64.0, sweep_s=0.05, decay_s=0.45, click=0.15,
                                  drive=0.8, lp_hz=2500.0), 0.0, 0.8),
        "snare": DrumSound(partial(ds.brush_tap, decay_s=0.16, body=0.35), 0.0, 0.75),
        "brush_snare": DrumSound(tap, 0.0, 0.85),
        "brush_swish": DrumSound(partial(ds.brush_swish, length_s=0.45), 0.0, 0.5),
        "hat_closed": DrumSound(partial(ds.hat, decay_s=0.04, band=(6000.0, 12000.0), metallic=0.7, scale=1.5),
                                0.35, 0.4),
        "hat_open": DrumSound(partial(ds.hat, decay_s=0.35, band=(6000.0, 12000.0), metallic=0.7, scale=1.5),
                              0.35, 0.35, ("hat_closed", "hat_open")),
        "rim": DrumSound(partial(ds.rim, tones=(560.0, 1400.0), decay_s=0.035, wood=0.9), 0.05, 0.5),
        "tom_low": DrumSound(partial(ds.tom, f_hz=98.0, drop=0.08, decay_s=0.5, noise=0.1), -0.3, 0.65),
        "tom_high": DrumSound(partial(ds.tom, f_hz=165.0, drop=0.08, decay_s=0.4, noise=0.1), 0.25, 0.6),
        "crash": DrumSound(partial(ds.cymbal, decay_s=2.4, lo_hz=2500.0, bell=0.0, scale=1.3, wash=0.6),
                           -0.4, 0.45, bucket=64),
        "ride": DrumSound(partial(ds.ride, decay_s=3.0, lo_hz=2200.0, hi_hz=9000.0, bell=0.35), 0.4, 0.45, bucket=64),
    }


_KITS: dict[str, dict[str, DrumSound]] = {"808": _kit_808(), "909": _kit_909(), "lofi": _kit_lofi(),
                                           "gated": _kit_gated(), "brushes": _kit_brushes(),
                                           "acoustic": _kit_acoustic()}
KITS: dict[str, tuple[str, ...]] = {name: tuple(sounds) for name, sounds in _KITS.items()}


def render_drums(kit: str, hits: Sequence[tuple[float, str, int]], duration_s: float, sr: int,
                 seed: int) -> np.ndarray:
    """Render a drum part; returns float32 stereo, shape (2, round(duration_s * sr)).

    Args:
        kit: a key of ``KITS``.
        hits: (time s, instrument in ``KITS[kit]``, velocity 1..127); tails ring on and are cut at ``duration_s``.
        duration_s: length of the part, seconds.
        sr: sample rate, Hz.
        seed: seeds every noise source and the round-robin choice; same arguments give byte-identical audio.

    Raises:
        ValueError: naming the field at fault (kit, a hit's field, duration_s, sr).
    """
    sounds = _kit(kit)
    n_total = _frames(duration_s, sr)
    checked = sorted((_check_hit(i, hit, sounds, kit) for i, hit in enumerate(hits)), key=lambda h: (h[0], h[1]))
    out = np.zeros((2, n_total), dtype=np.float32)
    pick_rng = np.random.default_rng([int(seed) % (1 << 64), zlib.crc32(kit.encode()), 1])
    pick = pick_rng.integers(0, VARIANTS, len(checked))
    choke = _choke_points(checked, sounds, sr)
    index: dict[tuple[str, int, int], int] = {}
    samples: list[np.ndarray] = []
    which = np.zeros(len(checked), dtype=np.int64)
    for j, (_, name, velocity) in enumerate(checked):
        width = sounds[name].bucket
        key = (name, min(127, (velocity // width) * width + width // 2), int(pick[j]))
        if key not in index:
            index[key] = len(samples)
            samples.append(_render_hit(sounds[name], kit, name, key[1], key[2], seed, sr))
        which[j] = index[key]
    if not samples:
        return out
    lengths = np.array([x.shape[1] for x in samples], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    begins = np.array([int(round(h[0] * sr)) for h in checked], dtype=np.int64)
    ends = np.minimum(np.array(choke, dtype=np.int64), n_total)
    gains = (np.array([h[2] for h in checked], dtype=np.float64) / 127.0) ** 1.6
    choked = np.array(choke, dtype=np.int64) <= n_total
    _dsp.place(out, np.concatenate(samples, axis=1), offsets, lengths, which, begins, ends, gains, choked,
               int(CHOKE_FADE_S * sr))
    return out


def _render_hit(sound: DrumSound, kit: str, name: str, velocity: int, variant: int, seed: int,
                sr: int) -> np.ndarray:
    """Synthesise one hit at ``velocity``, pan it and peak-normalise it to ``sound.level``; float32 (2, n)."""
    rng = np.random.default_rng([int(seed) % (1 << 64), zlib.crc32(f"{kit}/{name}".encode()), velocity, variant])
    # Round-robin variants differ in their noise and, slightly, in how hard they were struck (tone, not level).
    x = sound.make(sr, rng, min(1.0, velocity / 127.0 * (1.0 + 0.06 * (variant - 1))))
    angle = (sound.pan + 1.0) * np.pi / 4.0
    x = x * np.array([[np.cos(angle)], [np.sin(angle)]]) * np.sqrt(2.0)
    peak = float(np.max(np.abs(x)))
    x = x * (sound.level / peak) if peak > 0 else x
    mag = np.max(np.abs(x), axis=0)
    keep = int(np.nonzero(mag > sound.level * 1e-3)[0][-1]) + 1 if peak > 0 else 1  # trim below -60 dB
    x = x[:, :keep]
    fade = min(keep, int(0.003 * sr))
    x[:, keep - fade:] *= np.linspace(1.0, 0.0, fade)
    return x.astype(np.float32)


def _choke_points(hits: list[tuple[float, str, int]], sounds: dict[str, DrumSound], sr: int) -> list[int]:
    """For each hit, the frame where a later hit of its choke group silences it (a huge number when none)."""
    never = 1 << 62
    out = [never] * len(hits)
    next_frame: dict[str, int] = {}
    for j in range(len(hits) - 1, -1, -1):
        time_s, name, _ = hits[j]
        frame = int(round(time_s * sr))
        later = [next_frame[c] for c in sounds[name].choked_by if next_frame.get(c, -1) > frame]
        if later:
            out[j] = min(later)
        next_frame[name] = frame
    return out


def _kit(name: str) -> dict[str, DrumSound]:
    """Look up a kit, or raise naming the accepted ones."""
    try:
        return _KITS[name]
    except (KeyError, TypeError):
        raise ValueError(f"kit: {name!r} is not a drum kit; accepted: {', '.join(_KITS)}") from None


def _check_hit(i: int, hit: tuple[float, str, int], sounds: dict[str, DrumSound],
               kit: str) -> tuple[float, str, int]:
    """Validate one hit tuple; returns it with plain Python types."""
    try:
        time_s, name, velocity = hit
    except (TypeError, ValueError):
        raise ValueError(f"hits[{i}]: {hit!r} is not (time_s, instrument, velocity)") from None
    if not np.isfinite(time_s) or time_s < 0:
        raise ValueError(f"hits[{i}].time_s: {time_s!r} must be finite and >= 0")
    if name not in sounds:
        raise ValueError(f"hits[{i}].instrument: {name!r} is not in kit {kit!r}; accepted: {', '.join(sounds)}")
    if int(velocity) != velocity or not 1 <= velocity <= 127:
        raise ValueError(f"hits[{i}].velocity: {velocity!r} must be an integer 1..127")
    return float(time_s), str(name), int(velocity)
