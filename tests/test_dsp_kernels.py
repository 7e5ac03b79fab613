"""The numba kernels of mastering and the reverb send are numpy's and scipy's arithmetic, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from inference._sos import sosfilt_stereo
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
