"""Stitching generated windows into one track (``inference.neural.stitch``): lengths, crossfade power, seams.

Bounds, and why:
- a continuous signal cut into overlapping windows (identical overlaps, correlation 1) must come back as the
  signal itself, to float32 rounding (1e-5), so its seams can jump no more than the signal does there anyway;
- two independent noises of equal power joined by the crossfade keep their power through the overlap: the
  short-term level may move only by the estimation noise of a 50 ms RMS reading (about 0.3 dB at 2205 samples,
  checked against the same reading of an unfaded noise), not by the -3 dB dip of a linear fade;
- the seam measure itself must see a real jump: a hard cut from -6 dB to 0 dB or from 200 Hz to 3 kHz.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference.neural.stitch import (
    crossfade_gains,
    equal_power_crossfade,
    seam_jumps,
    seam_positions,
    stitch_windows,
    window_lengths,
)

SR = 8000


def continuous_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Stereo chirp plus two partials plus a little noise: changes slowly, never repeats within the test."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    chirp = np.sin(2 * np.pi * (200.0 * t + 15.0 * t**2))
    partials = 0.3 * np.sin(2 * np.pi * 330.0 * t) + 0.2 * np.sin(2 * np.pi * 1250.0 * t + 0.3)
    left = 0.4 * chirp + partials + 0.05 * rng.standard_normal(t.size)
    right = 0.4 * np.roll(chirp, 17) + partials + 0.05 * rng.standard_normal(t.size)
    return np.stack([left, right]).astype(np.float32)


def cut_into_windows(audio: np.ndarray, lengths: list[int], overlap: int) -> list[np.ndarray]:
    windows, start = [], 0
    for length in lengths:
        windows.append(audio[:, start:start + length].copy())
        start += length - overlap
    return windows


@pytest.mark.parametrize(("total_s", "window_s", "overlap_s"), [(180.0, 30.0, 10.0), (47.0, 47.55, 5.0),
                                                                (100.0, 47.55, 5.0), (7.3, 3.072, 0.768)])
def test_windows_stitch_to_exactly_the_requested_length(total_s: float, window_s: float, overlap_s: float) -> None:
    total, window, overlap = round(total_s * SR), round(window_s * SR), round(overlap_s * SR)
    lengths = window_lengths(total, window, overlap)
    assert all(overlap < n <= window for n in lengths[1:]) and lengths[0] <= window
    windows = [np.zeros((2, n), dtype=np.float32) for n in lengths]
    assert stitch_windows(windows, overlap).shape == (2, total)


def test_crossfade_length_is_the_sum_minus_the_overlap() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 1000)).astype(np.float32), rng.standard_normal((2, 700)).astype(np.float32)
    out = equal_power_crossfade(a, b, 300)
    assert out.shape == (2, 1400) and out.dtype == np.float32
    assert np.array_equal(out[:, :700], a[:, :700]) and np.array_equal(out[:, 1000:], b[:, 300:])
    assert equal_power_crossfade(a, b, 0).shape == (2, 1700)


def test_continuous_signal_split_into_windows_comes_back_without_seams() -> None:
    signal = continuous_signal(40.0)
    overlap = 4 * SR
    lengths = window_lengths(signal.shape[1], 12 * SR, overlap)
    stitched = stitch_windows(cut_into_windows(signal, lengths, overlap), overlap)

    assert stitched.shape == signal.shape
    assert np.max(np.abs(stitched - signal)) < 1e-5
    seams = seam_positions(lengths, overlap)
    assert len(seams) == len(lengths) - 1 >= 3
    for got, own in zip(seam_jumps(stitched, SR, seams), seam_jumps(signal, SR, seams), strict=True):
        assert abs(got["loudness_jump_db"] - own["loudness_jump_db"]) < 0.01
        assert abs(got["centroid_jump_ratio"] - own["centroid_jump_ratio"]) < 0.01
        assert abs(got["loudness_jump_db"]) < 1.0 and got["centroid_jump_ratio"] < 1.2  # the signal's own drift


def test_independent_windows_keep_their_power_through_the_crossfade() -> None:
    rng = np.random.default_rng(2)
    overlap = 4 * SR
    a = rng.standard_normal((2, 8 * SR)).astype(np.float32)
    b = rng.standard_normal((2, 8 * SR)).astype(np.float32)
    out = equal_power_crossfade(a, b, overlap)
    block = SR // 20  # 50 ms
    start = a.shape[1] - overlap

    def levels(x: np.ndarray) -> np.ndarray:
        frames = x[:, : x.shape[1] // block * block].reshape(2, -1, block)
        return 10 * np.log10(np.mean(frames**2, axis=(0, 2)))

    fade = levels(out[:, start:start + overlap])
    reference = levels(a[:, :overlap])  # the same reading of unfaded noise: its spread is estimation noise
    assert abs(np.mean(fade)) < 0.1  # unit-power noise, unit power through the fade
    assert np.max(np.abs(fade)) < np.max(np.abs(reference)) + 0.2
    middle = levels(out[:, start + overlap // 2 - 4 * block:start + overlap // 2 + 4 * block])
    assert abs(np.mean(middle)) < 0.3  # a linear fade would read -3 dB here
    jumps = seam_jumps(out, SR, [start + overlap // 2, start, start + overlap], window_s=0.5)
    assert all(abs(j["loudness_jump_db"]) < 0.5 and j["centroid_jump_ratio"] < 1.1 for j in jumps)


def test_gains_preserve_power_for_any_correlation() -> None:
    for r in (0.0, 0.3, 0.7, 1.0):
        out, fade_in = crossfade_gains(256, r)
        power = out.astype(np.float64) ** 2 + fade_in.astype(np.float64) ** 2 + 2 * r * out * fade_in
        assert np.allclose(power, 1.0, atol=1e-6)
    out, fade_in = crossfade_gains(256, 1.0)
    assert np.allclose(out + fade_in, 1.0, atol=1e-6)  # identical signals add back to themselves


def test_seam_measure_sees_a_hard_cut() -> None:
    rng = np.random.default_rng(4)
    quiet, loud = 0.5 * rng.standard_normal((2, SR)), rng.standard_normal((2, SR))
    (jump,) = seam_jumps(np.concatenate([quiet, loud], axis=1), SR, [SR])
    assert jump["loudness_jump_db"] == pytest.approx(6.02, abs=0.3)

    t = np.arange(SR) / SR
    low, high = np.sin(2 * np.pi * 200.0 * t), np.sin(2 * np.pi * 3000.0 * t)
    (jump,) = seam_jumps(np.stack([np.concatenate([low, high])] * 2), SR, [SR])
    assert jump["centroid_jump_ratio"] > 10.0


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="fewer than the overlap"):
        stitch_windows([np.zeros((2, 100)), np.zeros((2, 50))], 80)
    with pytest.raises(ValueError, match="channels"):
        stitch_windows([np.zeros((2, 100)), np.zeros((1, 100))], 10)
    with pytest.raises(ValueError, match="at least one"):
        stitch_windows([], 10)
    with pytest.raises(ValueError, match="longer than overlap"):
        window_lengths(1000, 100, 100)
    with pytest.raises(ValueError, match="on each side"):
        seam_jumps(np.zeros((2, 1000)), SR, [10])
