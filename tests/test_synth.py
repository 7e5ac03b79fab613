"""Maestro's own synthesis (inference.synth): drum kits and subtractive voices, measured on their audio."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from inference.synth import KITS, PATCHES, _dsp, render_drums, render_voice

SR = 44100


def _hit(kit: str, name: str, velocity: int = 127, seed: int = 0, duration_s: float = 3.0) -> np.ndarray:
    """One hit at t=0."""
    return render_drums(kit, [(0.0, name, velocity)], duration_s, SR, seed)


def _note(patch: str, pitch: int = 48, length_s: float = 1.0, velocity: int = 100, seed: int = 0,
          duration_s: float = 3.0) -> np.ndarray:
    """One note at t=0."""
    return render_voice(patch, [(0.0, length_s, pitch, velocity)], duration_s, SR, seed)


def _power_spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies Hz, power) of a mono signal."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    return np.fft.rfftfreq(len(x), 1.0 / SR), spec


def _centroid(x: np.ndarray) -> float:
    """Spectral centroid of a mono signal (magnitude-weighted, as librosa defines it), Hz."""
    f, p = _power_spectrum(x)
    mag = np.sqrt(p)
    return float(np.sum(f * mag) / np.sum(mag))


def _groove(kit: str) -> list[tuple[float, str, int]]:
    """Two bars touching every instrument of ``kit``."""
    names = KITS[kit]
    return [(i * 0.25, names[i % len(names)], 40 + (i * 37) % 88) for i in range(16)]


def _phrase() -> list[tuple[float, float, int, int]]:
    return [(0.0, 0.4, 36, 110), (0.5, 0.4, 43, 70), (1.0, 1.2, 48, 100), (1.0, 1.2, 55, 90), (2.5, 0.2, 60, 127)]


@pytest.mark.parametrize("kit", sorted(KITS))
def test_same_seed_gives_byte_identical_drums_and_other_seeds_differ(kit: str) -> None:
    a = render_drums(kit, _groove(kit), 4.5, SR, 7)
    b = render_drums(kit, _groove(kit), 4.5, SR, 7)
    c = render_drums(kit, _groove(kit), 4.5, SR, 8)
    assert a.tobytes() == b.tobytes()
    assert a.shape == c.shape and not np.array_equal(a, c)


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_same_seed_gives_byte_identical_voice(patch: str) -> None:
    a = render_voice(patch, _phrase(), 4.0, SR, 3)
    b = render_voice(patch, _phrase(), 4.0, SR, 3)
    assert a.tobytes() == b.tobytes()


def test_a_fresh_process_renders_the_same_bytes() -> None:
    code = ("import hashlib; from inference.synth import render_drums, render_voice; "
            "h = hashlib.sha256(render_drums('lofi', [(0.0, 'kick', 100), (0.25, 'hat_open', 90), (0.5, 'snare', 110)],"
            " 1.0, 44100, 11).tobytes()); h.update(render_voice('supersaw_pad', [(0.0, 0.5, 60, 90)], 1.0, 44100, 11)"
            ".tobytes()); print(h.hexdigest())")
    here = hashlib.sha256(render_drums("lofi", [(0.0, "kick", 100), (0.25, "hat_open", 90), (0.5, "snare", 110)],
                                       1.0, SR, 11).tobytes())
    here.update(render_voice("supersaw_pad", [(0.0, 0.5, 60, 90)], 1.0, SR, 11).tobytes())
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert there == here.hexdigest()


def test_different_seeds_change_unison_phases_and_detune() -> None:
    a = _note("supersaw_pad", seed=1)
    b = _note("supersaw_pad", seed=2)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("kit", sorted(KITS))
def test_every_instrument_is_audible_finite_stereo_float32_and_never_clips_at_full_velocity(kit: str) -> None:
    for name in KITS[kit]:
        x = _hit(kit, name)
        assert x.shape == (2, 3 * SR) and x.dtype == np.float32, name
        assert np.all(np.isfinite(x)), name
        peak = float(np.max(np.abs(x)))
        assert 0.1 < peak <= 1.0, (kit, name, peak)


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_every_patch_is_audible_finite_stereo_float32(patch: str) -> None:
    x = render_voice(patch, _phrase(), 4.0, SR, 0)
    assert x.shape == (2, 4 * SR) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    assert float(np.max(np.abs(x))) > 0.05


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_one_note_at_full_velocity_never_clips_in_any_register(patch: str) -> None:
    for pitch in (0, 28, 40, 52, 64, 76, 88, 108, 127):
        peak = float(np.max(np.abs(_note(patch, pitch=pitch, velocity=127))))
        assert peak <= 1.0, (patch, pitch, peak)
        assert peak > 0.05 or not 28 <= pitch <= 88, (patch, pitch, peak)  # audible across the musical range


def test_boom_808_is_tuned_to_the_note_and_drops_into_it() -> None:
    x = _note("boom_808", pitch=31, length_s=1.0, velocity=120).sum(axis=0)
    f, p = _power_spectrum(x)
    assert abs(float(f[np.argmax(p)]) - 49.0) < 2.0  # MIDI 31 = 49.0 Hz
    inst = np.diff(np.unwrap(np.angle(signal.hilbert(x)))) * SR / (2 * np.pi)
    assert np.median(inst[int(0.005 * SR): int(0.03 * SR)]) > 1.3 * np.median(inst[int(0.3 * SR): int(0.6 * SR)])


@pytest.mark.parametrize("kit", sorted(KITS))
def test_kick_fundamental_sits_between_40_and_70_hz(kit: str) -> None:
    x = _hit(kit, "kick").sum(axis=0)
    f, p = _power_spectrum(x)
    band = (f > 20) & (f < 1000)
    peak_hz = float(f[band][np.argmax(p[band])])
    assert 40.0 <= peak_hz <= 70.0, (kit, peak_hz)


def test_808_kick_pitch_falls_during_the_hit() -> None:
    x = _hit("808", "kick").sum(axis=0)

    def crossings_hz(a: float, b: float) -> float:
        seg = x[int(a * SR): int(b * SR)]
        return float(np.count_nonzero(np.diff(np.signbit(seg)))) / 2.0 / (b - a)

    assert crossings_hz(0.002, 0.012) > 1.5 * crossings_hz(0.25, 0.45)


@pytest.mark.parametrize("kit", sorted(k for k in KITS if "hat_closed" in KITS[k]))
@pytest.mark.parametrize("name", ["hat_closed", "hat_open"])
def test_hats_carry_most_of_their_energy_above_5_khz(kit: str, name: str) -> None:
    f, p = _power_spectrum(_hit(kit, name).sum(axis=0))
    assert p[f > 5000].sum() / p.sum() > 0.6, kit


@pytest.mark.parametrize("kit", sorted(KITS))
def test_closed_hat_is_short_and_open_hat_rings(kit: str) -> None:
    def ring_s(name: str) -> float:
        env = np.abs(_hit(kit, name).sum(axis=0))
        return float(np.nonzero(env > env.max() * 0.01)[0][-1]) / SR

    closed, opened = ring_s("hat_closed"), ring_s("hat_open")
    assert closed < 0.12 and opened > 3 * closed, (closed, opened)


def test_closed_hat_chokes_a_ringing_open_hat() -> None:
    alone = render_drums("808", [(0.0, "hat_open", 110)], 1.0, SR, 0)
    choked = render_drums("808", [(0.0, "hat_open", 110), (0.1, "hat_closed", 1)], 1.0, SR, 0)
    after = slice(int(0.2 * SR), int(0.3 * SR))
    assert np.abs(alone[:, after]).max() > 0.01
    assert np.abs(choked[:, after]).max() == 0.0


def test_clap_is_several_bursts_about_10_ms_apart() -> None:
    x = np.abs(_hit("808", "clap").sum(axis=0))[: int(0.05 * SR)]
    env = np.convolve(x, np.ones(44) / 44, mode="same")  # 1 ms smoothing
    peaks = [i for i in range(1, len(env) - 1) if env[i] >= env[i - 1] and env[i] > env[i + 1]
             and env[i] > 0.3 * env.max()]
    onsets = [p for k, p in enumerate(peaks) if k == 0 or p - peaks[k - 1] > 0.005 * SR]
    assert len(onsets) >= 3
    assert all(0.005 * SR < b - a < 0.02 * SR for a, b in zip(onsets, onsets[1:], strict=False))


def test_gated_snare_has_a_dense_tail_cut_hard_by_the_gate() -> None:
    def rms(x: np.ndarray, a: float, b: float) -> float:
        return float(np.sqrt(np.mean(x[:, int(a * SR): int(b * SR)] ** 2)))

    gated, dry = _hit("gated", "snare"), _hit("808", "snare")
    assert rms(gated, 0.2, 0.28) > 3 * rms(dry, 0.2, 0.28)  # the room is still loud while the gate is open
    assert rms(gated, 0.36, 0.6) < 1e-3 * rms(gated, 0.0, 0.05)  # and gone once it shuts


def test_brush_swish_swells_slowly_while_a_tap_is_immediate() -> None:
    def peak_time(name: str) -> float:
        return float(np.argmax(np.abs(_hit("brushes", name).sum(axis=0)))) / SR

    assert peak_time("brush_snare") < 0.02 < 0.08 < peak_time("brush_swish")


def test_lofi_kit_is_darker_than_the_808_it_imitates() -> None:
    assert _centroid(_hit("lofi", "snare").sum(axis=0)) < _centroid(_hit("808", "snare").sum(axis=0))


def test_louder_velocity_gives_a_louder_hit() -> None:
    assert np.abs(_hit("909", "snare", 127)).max() > 2 * np.abs(_hit("909", "snare", 50)).max()


def test_hits_land_at_their_time() -> None:
    x = render_drums("909", [(0.5, "kick", 100)], 1.0, SR, 0)
    assert np.abs(x[:, : int(0.5 * SR)]).max() == 0.0
    assert np.abs(x[:, int(0.5 * SR): int(0.505 * SR)]).max() > 0.05


@pytest.mark.parametrize("patch", ["pluck_arp", "acid_bass", "chord_stab"])
def test_filter_envelope_moves_the_spectral_centroid_over_a_note(patch: str) -> None:
    x = _note(patch, pitch=45, length_s=1.0, velocity=120).sum(axis=0)
    early = _centroid(x[int(0.005 * SR): int(0.045 * SR)])
    late = _centroid(x[int(0.2 * SR): int(0.24 * SR)])
    assert early > 1.5 * late, (early, late)


def test_synth_brass_swells_brighter_after_its_attack() -> None:
    x = _note("synth_brass", pitch=55, length_s=1.0, velocity=110).sum(axis=0)
    assert _centroid(x[int(0.08 * SR): int(0.12 * SR)]) > 1.3 * _centroid(x[int(0.005 * SR): int(0.025 * SR)])


def test_acid_accent_opens_the_filter_further() -> None:
    plain = _centroid(_note("acid_bass", pitch=36, velocity=90).sum(axis=0)[: int(0.1 * SR)])
    accent = _centroid(_note("acid_bass", pitch=36, velocity=127).sum(axis=0)[: int(0.1 * SR)])
    assert accent > 1.3 * plain


def test_unison_detune_widens_the_stereo_while_bass_stays_mono() -> None:
    pad = _note("supersaw_pad", pitch=60, length_s=2.0)
    corr = float(np.corrcoef(pad[0, SR: 2 * SR], pad[1, SR: 2 * SR])[0, 1])
    assert not np.array_equal(pad[0], pad[1]) and corr < 0.9
    sub = _note("sub_bass", pitch=36)
    assert np.array_equal(sub[0], sub[1])


def test_sub_bass_is_a_clean_low_sine_at_the_played_pitch() -> None:
    x = _note("sub_bass", pitch=33, length_s=2.0, duration_s=2.0).sum(axis=0)[int(0.2 * SR): int(1.8 * SR)]
    f, p = _power_spectrum(x)
    assert abs(float(f[np.argmax(p)]) - 55.0) < 1.0
    assert p[f > 200].sum() / p.sum() < 0.05


def test_pad_attack_is_slow_and_release_rings_past_the_note() -> None:
    x = np.abs(_note("supersaw_pad", length_s=1.0, duration_s=3.0)).max(axis=0)
    assert x[: int(0.05 * SR)].max() < 0.2 * x.max()
    assert x[int(1.3 * SR): int(1.4 * SR)].max() > 0.05 * x.max()


def test_polyblep_saw_aliases_far_less_than_a_naive_saw() -> None:
    hz, n = 2637.0, 1 << 15  # MIDI 100: a naive saw folds many harmonics back into the audio band
    xl, xr = np.zeros(n), np.zeros(n)
    _dsp._oscillators(xl, xr, np.array([hz]), np.zeros(1), np.ones(1), np.ones(1), _dsp.WAVE_SAW, 0.5, float(SR))
    naive = 2.0 * np.mod(hz / SR * np.arange(n), 1.0) - 1.0

    def alias_share(x: np.ndarray) -> float:
        f, p = _power_spectrum(x)
        harmonic = np.abs(f / hz - np.round(f / hz)) * hz < 15.0
        return float(p[~harmonic].sum() / p.sum())

    assert alias_share(xl) < 0.25 * alias_share(naive)


def test_a_mono_patch_cuts_each_note_when_the_next_starts_while_a_pad_rings_on() -> None:
    line = [(0.0, 0.3, 57, 100), (0.5, 0.3, 64, 100)]

    def level_of(x: np.ndarray, hz: float) -> float:
        f, p = _power_spectrum(x.sum(axis=0)[int(0.55 * SR): int(0.75 * SR)])
        return float(p[np.abs(f - hz) < 8].sum())

    lead = render_voice("square_lead", line, 1.0, SR, 0)
    pad = render_voice("warm_pad", line, 1.0, SR, 0)
    assert level_of(lead, 220.0) < 1e-3 * level_of(lead, 329.6)  # the A is gone once the E starts
    assert level_of(pad, 220.0) > 0.05 * level_of(pad, 329.6)  # a pad's release overlaps the next chord


def test_a_pad_restruck_on_the_same_key_replaces_its_ringing_release() -> None:
    once = render_voice("supersaw_pad", [(0.0, 1.0, 60, 100)], 3.0, SR, 0)
    twice = render_voice("supersaw_pad", [(0.0, 1.0, 60, 100), (1.2, 1.0, 60, 100)], 3.0, SR, 0)
    later = render_voice("supersaw_pad", [(1.2, 1.0, 60, 100)], 3.0, SR, 0)
    after = slice(int(1.25 * SR), int(2.0 * SR))
    assert np.array_equal(twice[:, after], later[:, after])  # the first note's tail no longer sounds there
    assert np.abs(once[:, after]).max() > 0.01  # though on its own it would


def test_acid_bass_slides_into_a_tied_note_but_not_into_a_detached_one() -> None:
    def pitch_hz(notes: list[tuple[float, float, int, int]], a: float, b: float) -> float:
        x = render_voice("acid_bass", notes, 1.0, SR, 0).sum(axis=0)
        seg = x[int(a * SR): int(b * SR)]
        return float(np.count_nonzero(np.diff(np.signbit(seg)))) / 2.0 / (b - a)

    tied = [(0.0, 0.55, 33, 100), (0.5, 0.4, 45, 100)]  # A1 held into A2: slides up an octave
    detached = [(0.0, 0.4, 33, 100), (0.5, 0.4, 45, 100)]
    assert pitch_hz(tied, 0.503, 0.52) < 0.8 * pitch_hz(detached, 0.503, 0.52)
    assert abs(pitch_hz(tied, 0.7, 0.9) - pitch_hz(detached, 0.7, 0.9)) < 10.0


def test_a_chord_on_a_mono_patch_still_sounds_every_note() -> None:
    both = render_voice("saw_bass", [(0.0, 1.0, 36, 100), (0.0, 1.0, 43, 100)], 1.0, SR, 0)
    one = render_voice("saw_bass", [(0.0, 1.0, 36, 100)], 1.0, SR, 0)
    assert not np.array_equal(both, one) and np.abs(both - one).max() > 0.05


def test_an_empty_part_is_silence_of_the_requested_length() -> None:
    for part in (render_drums("gated", [], 1.5, SR, 0), render_voice("warm_pad", [], 1.5, SR, 0)):
        assert part.shape == (2, int(1.5 * SR)) and part.dtype == np.float32 and not part.any()


def test_a_zero_length_note_still_sounds() -> None:
    assert np.abs(render_voice("pluck_arp", [(0.0, 0.0, 60, 100)], 0.5, SR, 0)).max() > 0.01


def test_notes_ring_out_and_are_cut_at_the_part_end() -> None:
    x = render_voice("warm_pad", [(1.5, 1.0, 60, 100)], 2.0, SR, 0)
    assert x.shape == (2, 2 * SR)
    assert np.abs(x[:, : int(1.5 * SR)]).max() == 0.0 and np.abs(x[:, -100:]).max() > 0.0


@pytest.mark.timeout(120)
def test_a_180_second_part_renders_to_the_end() -> None:
    beat = 0.5
    hits = [(i * beat / 2, "kick" if i % 4 == 0 else "hat_closed", 100) for i in range(720)]
    drums = render_drums("909", hits, 180.0, SR, 1)
    notes = [(i * beat, beat * 0.9, 36 + (i % 8) * 2, 100) for i in range(360)]
    bass = render_voice("acid_bass", notes, 180.0, SR, 1)
    for part in (drums, bass):
        assert part.shape == (2, 180 * SR) and np.all(np.isfinite(part))
        assert np.abs(part[:, -SR:]).max() > 0.01


@pytest.mark.parametrize(("call", "field"), [
    (lambda: render_drums("tr606", [], 1.0, SR, 0), "kit"),
    (lambda: render_drums("808", [(0.0, "cowbell", 100)], 1.0, SR, 0), "hits[0].instrument"),
    (lambda: render_drums("808", [(0.0, "kick", 0)], 1.0, SR, 0), "hits[0].velocity"),
    (lambda: render_drums("808", [(-1.0, "kick", 90)], 1.0, SR, 0), "hits[0].time_s"),
    (lambda: render_voice("moog", [], 1.0, SR, 0), "patch"),
    (lambda: render_voice("saw_bass", [(0.0, -0.1, 40, 90)], 1.0, SR, 0), "notes[0].length_s"),
    (lambda: render_voice("saw_bass", [(0.0, 1.0, 140, 90)], 1.0, SR, 0), "notes[0].midi_pitch"),
    (lambda: render_voice("saw_bass", [], -1.0, SR, 0), "duration_s"),
    (lambda: render_voice("saw_bass", [], 1.0, 0, 0), "sr"),
])
def test_bad_arguments_name_the_field(call: object, field: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(field) + ": "):
        call()  # type: ignore[operator]
