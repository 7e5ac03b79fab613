"""The numba kernels of mastering and the reverb send are numpy's and scipy's arithmetic, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from inference._sos import sosfilt_stereo
from inference.effects import CHAINS, tone_filters
from inference.master import _k_weighting


@pytest.mark.parametrize("rate", [44100, 48000])
def test_k_weighting_matches_scipy_bit_for_bit_across_chunks_silence_and_denormals(rate: int) -> None:
    sos = _k_weighting(rate)
    rng = np.random.default_rng(rate)
    x = (rng.standard_normal((2, 3 * rate)) * 0.3).astype(np.float32)
    x[:, rate // 2:rate] = 0.0  # the tails decay through silence
    x[:, 2 * rate:2 * rate + 4000] *= np.float32(1e-36)  # subnormal inputs
    x[1] *= 0.5  # the channels differ
    expected, expected_state = scipy.signal.sosfilt(sos, x, axis=1, zi=np.zeros((len(sos), 2, 2), np.float32))
    out = np.empty_like(x)
    state = np.zeros((len(sos), 2, 2), dtype=np.float32)
    for start in range(0, x.shape[1], 7919):  # uneven chunks, the state carried over
        sosfilt_stereo(sos, x[:, start:start + 7919], out[:, start:start + 7919], state)
    assert np.array_equal(out.view(np.uint32), expected.view(np.uint32))
    assert np.array_equal(state, expected_state)
    assert not np.array_equal(out[0], out[1] * 2)  # a filter, not a copy: the channels kept their own state


def test_in_place_and_general_sections_match_scipy() -> None:
    sos = scipy.signal.butter(4, [300, 3000], "bandpass", fs=44100, output="sos").astype(np.float32)
    x = np.random.default_rng(1).standard_normal((2, 20000)).astype(np.float32)
    expected = scipy.signal.sosfilt(sos, x, axis=1)
    y = x.copy()
    sosfilt_stereo(sos, y, y, np.zeros((len(sos), 2, 2), dtype=np.float32))
    assert np.array_equal(y, expected)


def test_the_reverb_sends_rate_changes_are_numpys_whole_array_arithmetic_bit_for_bit() -> None:
    from inference._send import add_interpolated, decimate_sum

    d, level = 4, np.float32(0.3 / 4)
    x = np.random.default_rng(7).standard_normal((2, 4 * 5000 + 3)).astype(np.float32)
    usable = x.shape[1] - x.shape[1] % d
    phases = x[:, :usable].reshape(2, -1, d)
    expected_low = phases[:, :, 0] + phases[:, :, 1]
    for j in range(2, d):
        expected_low += phases[:, :, j]
    expected_low *= level
    low = np.empty_like(expected_low)
    decimate_sum(x, d, level, low)
    assert np.array_equal(low, expected_low)

    tail = np.random.default_rng(8).standard_normal(low.shape).astype(np.float32)
    step = np.zeros_like(tail)
    step[:, :-1] = tail[:, 1:] - tail[:, :-1]
    expected = x.copy()
    expected_phases = expected[:, :usable].reshape(2, -1, d)
    for j in range(d):
        expected_phases[:, :, j] += step * np.float32(j / d) + tail
    y = x.copy()
    add_interpolated(y, tail, (np.arange(d) / d).astype(np.float32))
    assert np.array_equal(y, expected) and not np.array_equal(y, x)
    assert np.array_equal(y[:, usable:], x[:, usable:])  # the remainder is the caller's to fill


def _pedalboard_chain(tone, sample_rate: int, x: np.ndarray) -> np.ndarray:
    """The same filters through pedalboard, as the effects chain ran them before (the oracle)."""
    import pedalboard

    plugins = []
    if tone.highpass_hz is not None:
        plugins.append(pedalboard.HighpassFilter(cutoff_frequency_hz=tone.highpass_hz))
    if tone.lowpass_hz is not None:
        plugins.append(pedalboard.LowpassFilter(cutoff_frequency_hz=tone.lowpass_hz))
    if tone.low_shelf is not None:
        plugins.append(pedalboard.LowShelfFilter(cutoff_frequency_hz=tone.low_shelf[0], gain_db=tone.low_shelf[1]))
    if tone.high_shelf is not None:
        plugins.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=tone.high_shelf[0],
                                                  gain_db=tone.high_shelf[1]))
    return pedalboard.Pedalboard(plugins)(x, sample_rate, buffer_size=8192, reset=True)


def _signal(frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((2, frames)) * 0.3).astype(np.float32)
    x[:, 8192 + 100:2 * 8192 + 500] = 0.0  # states decay through silence and snap to zero at a block's end
    x[1] *= 0.6
    return x


FILTERED = [(chain, b) for chain in sorted(CHAINS) for b in (0.1, 0.5, 0.93) if tone_filters(CHAINS[chain], 44100, b)]


@pytest.mark.parametrize(("chain", "brightness"), FILTERED)
def test_every_chains_tone_filters_are_pedalboards_bit_for_bit(chain: str, brightness: float) -> None:
    from inference.tone_filters import apply_tone_filters

    tone = tone_filters(CHAINS[chain], 44100, brightness)
    x = _signal(3 * 8192 + 1001, len(chain))
    expected = _pedalboard_chain(tone, 44100, x)
    got = apply_tone_filters(tone, x, 44100)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    assert not np.array_equal(got, x)


@pytest.mark.parametrize("seed", range(6))
def test_random_tone_filters_at_any_rate_and_length_are_pedalboards_bit_for_bit(seed: int) -> None:
    from inference.tone_filters import ToneFilters, apply_tone_filters

    rng = np.random.default_rng(seed)
    rate = int(rng.choice([22050, 44100, 48000]))
    pick = rng.random(4) < 0.7
    tone = ToneFilters(
        highpass_hz=float(rng.uniform(20, 400)) if pick[0] else None,
        lowpass_hz=float(rng.uniform(1000, 0.45 * rate)) if pick[1] else None,
        low_shelf=(float(rng.uniform(40, 400)), float(rng.uniform(-9, 9))) if pick[2] else None,
        high_shelf=(float(rng.uniform(2000, 0.4 * rate)), float(rng.uniform(-9, 9))) if pick[3] or not pick.any()
        else None)
    x = _signal(int(rng.integers(100, 5 * 8192)), seed)
    expected = _pedalboard_chain(tone, rate, x)
    y = x.copy()
    apply_tone_filters(tone, y, rate, out=y)  # in place
    assert np.array_equal(y.view(np.uint32), expected.view(np.uint32))


def test_no_tone_filters_is_falsy_and_leaves_the_signal_alone() -> None:
    from inference.tone_filters import ToneFilters, apply_tone_filters

    assert not ToneFilters()
    x = _signal(1000, 1)
    assert np.array_equal(apply_tone_filters(ToneFilters(), x, 44100), x)
