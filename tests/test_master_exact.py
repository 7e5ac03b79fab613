"""Mastering's fast paths read the same numbers as the slow ones: the pruned true peak equals the full 4x meter,
and the chunked passes give the bytes a single whole-signal pass gives."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from inference import master as mastering
from inference.qc.levels import true_peak

SR = 44100


def _quantised(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``audio`` (channels first, float) through the master's quantiser at unity gain."""
    frames = audio.shape[1]
    blocks = -(-frames // mastering.BLOCK)
    padded = np.zeros((2, blocks * mastering.BLOCK), dtype=np.float32)
    padded[:, :frames] = audio
    return mastering._quantise(padded, np.ones(blocks), frames)


def _full_meter_dbtp(pcm: np.ndarray) -> float:
    return 20 * math.log10(true_peak(pcm.astype(np.float32) / 32768.0))


def _quarter_rate_tone(frames: int, amplitude: float) -> np.ndarray:
    """A tone at a quarter of the sample rate sampled 45 degrees off its crests: every sample is 3 dB under the
    true peak, the largest overshoot a 4x meter sees in practice."""
    return amplitude * np.sin(np.pi / 2 * np.arange(frames) + np.pi / 4)


@pytest.mark.parametrize("frames", [SR, SR + 7, 16 * 997 + 15])
def test_true_peak_between_samples_of_a_quieter_block_is_found(frames: int) -> None:
    # Loud clicks (sample peak 0.8, little overshoot) and, 2.5 dB lower, a tone whose true peak is 0.85: a reading
    # taken only near the loudest samples would report the clicks.
    audio = np.zeros((2, frames))
    audio[0, 1000:1003] = 0.8
    audio[1, frames // 2:frames // 2 + 400] = _quarter_rate_tone(400, 0.6)
    pcm, framed, block_peaks = _quantised(audio)
    measured = mastering._true_peak_db(framed, block_peaks, frames)[0]
    assert measured == pytest.approx(_full_meter_dbtp(pcm), abs=1e-4)
    assert measured > 20 * math.log10(0.84)


def test_true_peak_counts_the_first_and_the_last_frames() -> None:
    frames = 16 * 40 + 5  # a partial last block
    rng = np.random.default_rng(3)
    for where in (slice(0, 4), slice(frames - 4, frames)):
        audio = rng.uniform(-0.05, 0.05, (2, frames))
        audio[:, where] = _quarter_rate_tone(4, 0.7)
        pcm, framed, block_peaks = _quantised(audio)
        assert mastering._true_peak_db(framed, block_peaks, frames)[0] == pytest.approx(_full_meter_dbtp(pcm), abs=1e-4)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_true_peak_equals_the_full_meter_on_noisy_music(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = 3 * SR + int(rng.integers(0, 64))
    envelope = np.repeat(rng.uniform(0.05, 1.0, frames // 512 + 1), 512)[:frames]
    audio = rng.standard_normal((2, frames)) * 0.25 * envelope
    np.clip(audio, -0.99, 0.99, out=audio)
    pcm, framed, block_peaks = _quantised(audio)
    assert mastering._true_peak_db(framed, block_peaks, frames)[0] == pytest.approx(_full_meter_dbtp(pcm), abs=1e-4)


def test_chunked_passes_match_one_whole_signal_pass() -> None:
    # Longer than several chunks, and not a whole number of blocks.
    frames = 3 * mastering._CHUNK + 1234
    rng = np.random.default_rng(5)
    audio = (rng.standard_normal((2, frames)) * 0.2).astype(np.float32)
    blocks = -(-frames // mastering.BLOCK)
    padded = np.zeros((2, blocks * mastering.BLOCK), dtype=np.float32)
    padded[:, :frames] = audio
    energy, peaks = mastering._block_energy_and_peaks(padded, SR)
    import scipy.signal

    weighted = scipy.signal.sosfilt(mastering._k_weighting(SR), padded, axis=1)
    whole_energy = np.square(weighted, dtype=np.float32).reshape(2, -1, mastering.BLOCK).sum(axis=2, dtype=np.float64)
    assert np.array_equal(energy, whole_energy)
    assert np.array_equal(peaks, np.abs(padded).reshape(2, blocks, mastering.BLOCK).max(axis=(0, 2)))
    gain = rng.uniform(0.5, 2.0, blocks)
    pcm, _, _ = mastering._quantise(padded, gain, frames)
    y = padded * np.repeat(gain.astype(np.float32), mastering.BLOCK)[None, :] * np.float32(32768.0)
    whole_pcm = np.rint(np.clip(y, -32767.0, 32767.0))[:, :frames].astype(np.int16).T
    assert pcm.dtype == np.int16 and np.array_equal(pcm, whole_pcm)


def test_master_of_a_long_track_is_on_target() -> None:
    rng = np.random.default_rng(8)
    frames = 40 * SR
    beat = np.exp(-np.arange(SR // 2) / 2000.0)
    audio = np.zeros((2, frames))
    for start in range(0, frames - SR // 2, SR // 2):
        audio[:, start:start + SR // 2] += beat * rng.uniform(0.2, 1.0) * np.sin(0.05 * np.arange(SR // 2))
    audio += rng.standard_normal((2, frames)) * 0.01
    result = mastering.master(audio.astype(np.float32), SR)
    assert abs(pyloudnorm.Meter(SR).integrated_loudness(result.pcm / 32768.0) + 14.0) <= 0.1
    assert result.true_peak_dbtp == pytest.approx(_full_meter_dbtp(result.pcm), abs=1e-3)
    assert result.true_peak_dbtp <= -1.0





@pytest.mark.parametrize("tone", [0.30, 0.31, 0.45])
def test_a_quiet_block_whose_true_peak_overshoots_is_limited_instead_of_failing(tone: float) -> None:
    # A steady bed and a short tone whose samples sit 3 dB under its true peak: after normalisation the tone's
    # samples are below the limiter's sample ceiling while its true peak is above -1 dBTP. Lowering only the
    # ceiling, a little per round, never reached those samples (RuntimeError "did not converge" at 0.31).
    rng = np.random.default_rng(1)
    audio = rng.standard_normal((2, 6 * SR)) * 0.05
    audio[:, SR:SR + 2000] += _quarter_rate_tone(2000, tone)
    result = mastering.master(audio.astype(np.float32), SR)
    assert result.true_peak_dbtp <= -1.0
    assert result.true_peak_dbtp == pytest.approx(_full_meter_dbtp(result.pcm), abs=1e-3)
    assert abs(pyloudnorm.Meter(SR).integrated_loudness(result.pcm / 32768.0) + 14.0) <= 0.1
