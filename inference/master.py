"""Mastering: integrated loudness to -14 LUFS (ITU-R BS.1770-4), true peak at or below -1 dBTP, 16-bit output.

Speed (NOTES.md measured pyloudnorm at 0.66 s and ``resample_poly`` true peak at 1.63 s per 3 minutes):

* Loudness: the signal is K-weighted once (pyloudnorm's own filter coefficients, float32 ``sosfilt``) and its
  energy kept per 64-sample block. A limiter gain that is constant per block scales those energies exactly, so
  every later loudness reading is a cheap sum over blocks with pyloudnorm's 400 ms / 75 % overlap gating.
* Limiter: a look-ahead gain per 64-sample block (minimum filter, then a moving average of the same radius, so
  the smoothed gain never exceeds what any block needs), iterated with the pre-gain until loudness converges.
* True peak: the BS.1770 Annex 2 4x interpolator (12 taps per phase) runs only on blocks whose sample peak is
  within 2 dB of the ceiling; quieter blocks cannot reach it (inter-sample overshoot of band-limited music
  stays under 2 dB; tests check against the full meter). It runs on the 16-bit samples actually written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from inference.qc.levels import TRUE_PEAK_PHASES

TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
BLOCK = 64
_MARGIN_DB = 0.15  # keep the measured true peak this far under the ceiling
_CANDIDATE_DB = 2.0
_TP_BLOCK = 2048
_TP_BATCH = 32
# ITU-R BS.1770 Annex 2 true-peak interpolator, shared with the QC meter so both read the same peak.
_TAPS_MATRIX = np.ascontiguousarray(TRUE_PEAK_PHASES[:, ::-1].T, dtype=np.float32)  # (12, 4), reversed for convolution


@dataclass(frozen=True)
class MasterResult:
    """Mastered audio and its measured levels.

    Attributes:
        pcm: int16 samples, shape ``(frames, 2)``, interleaved order, ready to encode.
        loudness_lufs: integrated loudness, LUFS (BS.1770-4 gating as pyloudnorm implements it).
        true_peak_dbtp: 4x-oversampled peak of ``pcm``, dBTP.
        gain_db: overall gain applied before limiting, dB.
        limited_db: deepest limiter gain reduction, dB (<= 0).
    """

    pcm: np.ndarray
    loudness_lufs: float
    true_peak_dbtp: float
    gain_db: float
    limited_db: float


def master(audio: np.ndarray, sample_rate: int, target_lufs: float = TARGET_LUFS,
           ceiling_dbtp: float = CEILING_DBTP, fade_out_s: float = 0.25) -> MasterResult:
    """Normalise ``audio`` (float32, channels first, shape ``(2, frames)``) to ``target_lufs``, limit, quantise.

    Raises:
        ValueError: the audio is shorter than one 400 ms gating block or silent (nothing to normalise).
    """
    x = np.array(audio, dtype=np.float32, order="C", copy=True)  # the fade must not touch the caller's array
    frames = x.shape[1]
    _fade_out(x, int(fade_out_s * sample_rate))
    blocks = -(-frames // BLOCK)
    padded = np.zeros((2, blocks * BLOCK), dtype=np.float32)
    padded[:, :frames] = x
    energy = _k_weighted_block_energy(padded, sample_rate)
    peaks = np.abs(padded).reshape(2, blocks, BLOCK).max(axis=2).max(axis=0).astype(np.float64)
    meter = _Meter(energy, frames, sample_rate)
    loudness = meter.loudness(np.ones(blocks))
    if not math.isfinite(loudness):
        raise ValueError("audio is silent or shorter than 400 ms; nothing to normalise")
    radius = max(1, int(0.012 * sample_rate / BLOCK))
    ceiling = 10 ** ((ceiling_dbtp - _MARGIN_DB - 0.35) / 20)  # sample-peak ceiling; true peak checked below
    gain = 10 ** ((target_lufs - loudness) / 20)
    for _ in range(8):
        curve = _limiter_curve(peaks * gain, ceiling, radius)
        level = meter.loudness((gain * curve) ** 2)
        gain *= 10 ** ((target_lufs - level) / 20)
        curve = _limiter_curve(peaks * gain, ceiling, radius)
        pcm = _quantise(padded, gain * curve, frames)
        tp = _true_peak_db(pcm, 10 ** ((ceiling_dbtp - _MARGIN_DB - _CANDIDATE_DB) / 20))
        if tp <= ceiling_dbtp - _MARGIN_DB + 1e-9:
            break
        ceiling *= 10 ** ((ceiling_dbtp - _MARGIN_DB - tp - 0.05) / 20)
    else:
        raise RuntimeError("true-peak limiting did not converge")  # pragma: no cover - invariant
    final = meter.loudness((gain * curve) ** 2)
    return MasterResult(pcm=pcm, loudness_lufs=round(final, 3), true_peak_dbtp=round(tp, 3),
                        gain_db=round(20 * math.log10(gain), 3), limited_db=round(20 * math.log10(curve.min()), 3))


def _fade_out(x: np.ndarray, frames: int) -> None:
    frames = min(frames, x.shape[1])
    if frames > 1:
        x[:, -frames:] *= np.linspace(1.0, 0.0, frames, dtype=np.float32) ** 2


def _k_weighted_block_energy(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Sum of squared K-weighted samples per channel and 64-sample block, float64, shape ``(2, blocks)``."""
    import pyloudnorm
    import scipy.signal

    filters = pyloudnorm.Meter(sample_rate)._filters  # the exact stage coefficients pyloudnorm measures with
    sos = np.array([np.concatenate([f.b, f.a]) for f in filters.values()], dtype=np.float32)
    weighted = scipy.signal.sosfilt(sos, x, axis=1)
    return np.square(weighted, dtype=np.float32).reshape(2, -1, BLOCK).sum(axis=2, dtype=np.float64)


class _Meter:
    """pyloudnorm's gated integrated loudness, read from per-block energies scaled by a per-block power gain."""

    def __init__(self, energy: np.ndarray, frames: int, sample_rate: int) -> None:
        self.energy = energy
        t_g, step = 0.4, 0.25
        count = int(np.round((frames / sample_rate - t_g) / (t_g * step))) + 1
        j = np.arange(max(count, 0))
        self.lower = (t_g * (j * step) * sample_rate).astype(np.int64)  # same float expressions as pyloudnorm
        self.upper = (t_g * (j * step + 1) * sample_rate).astype(np.int64)
        self.norm = t_g * sample_rate

    def loudness(self, power_gain: np.ndarray) -> float:
        if not len(self.lower):
            return -math.inf
        weighted = self.energy * power_gain[None, :]
        cum = np.concatenate([np.zeros((2, 1)), np.cumsum(weighted, axis=1)], axis=1)
        z = (_interp_cum(cum, self.upper) - _interp_cum(cum, self.lower)) / self.norm  # (2, blocks)
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10 * np.log10(z.sum(axis=0))
        gated = block_lufs >= -70.0
        if not gated.any():
            return -math.inf
        relative = -0.691 + 10 * np.log10(z[:, gated].mean(axis=1).sum()) - 10.0
        gated &= block_lufs > relative
        if not gated.any():
            return -math.inf
        return float(-0.691 + 10 * np.log10(z[:, gated].mean(axis=1).sum()))


def _interp_cum(cum: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Cumulative energy up to ``sample`` (exclusive), linear inside a block."""
    block, within = np.divmod(sample, BLOCK)
    block = np.minimum(block, cum.shape[1] - 2)
    frac = (sample - block * BLOCK) / BLOCK
    del within
    return cum[:, block] + (cum[:, block + 1] - cum[:, block]) * frac


def _limiter_curve(peaks: np.ndarray, ceiling: float, radius: int) -> np.ndarray:
    """Per-block gain <= 1 keeping every block's peak under ``ceiling``, smoothed without ever exceeding it."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    if need.min() >= 1.0:
        return need
    held = minimum_filter1d(need, size=2 * radius + 1, mode="nearest")
    smooth = uniform_filter1d(held, size=2 * radius + 1, mode="nearest")
    return np.minimum(smooth, need)  # the moving average of a min-filter is below need; guard float rounding


def _quantise(padded: np.ndarray, block_gain: np.ndarray, frames: int) -> np.ndarray:
    """Apply a per-block gain and round to int16, shape ``(frames, 2)``."""
    g = np.repeat(block_gain.astype(np.float32), BLOCK)[None, :]
    y = padded * g
    y *= 32768.0
    np.clip(y, -32767.0, 32767.0, out=y)
    return np.rint(y[:, :frames]).astype(np.int16).T.copy()


def _true_peak_db(pcm: np.ndarray, candidate_level: float) -> float:
    """dBTP of int16 audio ``(frames, 2)``: BS.1770 4x interpolation on blocks that could come near the peak."""
    x = pcm.T.astype(np.float32) / 32768.0
    frames = x.shape[1]
    taps = _TAPS_MATRIX.shape[0]
    blocks = -(-frames // _TP_BLOCK)
    padded = np.zeros((2, blocks * _TP_BLOCK + taps - 1), dtype=np.float32)
    padded[:, taps - 1:taps - 1 + frames] = x
    sample_peak = float(np.abs(x).max()) if frames else 0.0
    block_peak = np.abs(padded[:, taps - 1:]).reshape(2, blocks, _TP_BLOCK).max(axis=(0, 2))
    near = np.maximum(block_peak, np.concatenate([[0.0], block_peak[:-1]]))  # a block's first outputs see the last
    peak = sample_peak
    # Blocks near the ceiling decide compliance; blocks within 2 dB of the loudest make the reading exact.
    threshold = min(candidate_level, sample_peak * 10 ** (-_CANDIDATE_DB / 20))
    candidates = np.flatnonzero(near >= threshold)
    offsets = np.arange(_TP_BLOCK + taps - 1)
    for i in range(0, len(candidates), _TP_BATCH):  # gather blocks, then one matrix product per batch
        starts = candidates[i:i + _TP_BATCH] * _TP_BLOCK
        segments = padded[:, starts[:, None] + offsets[None, :]]  # (2, batch, block + taps - 1)
        windows = sliding_window_view(segments, taps, axis=2)  # (2, batch, block, taps)
        peak = max(peak, float(np.abs(windows @ _TAPS_MATRIX).max()))
    return 20 * math.log10(peak) if peak > 0 else -math.inf
