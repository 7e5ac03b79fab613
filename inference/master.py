"""Mastering: integrated loudness to -14 LUFS (ITU-R BS.1770-4), true peak at or below -1 dBTP, 16-bit output.

Speed (NOTES.md measured pyloudnorm at 0.66 s and ``resample_poly`` true peak at 1.63 s per 3 minutes). Every
full-length pass runs in chunks of 256k frames, so its temporaries are 2 MB instead of fresh 64 MB arrays (page
faults and memory traffic were half of the cost); the chunked results are bit-identical. Smaller chunks were
faster alone but not in a Ray worker: at 64k frames a 5 s track took ~20 ms longer there (hundreds of numpy calls,
each releasing and re-taking the GIL, which the worker's own threads also take), so a short track is one chunk.

* Loudness: the signal is K-weighted once (pyloudnorm's own filter coefficients in float32, scipy's ``sosfilt``
  bit for bit, both channels in one numba loop: :mod:`inference._sos`; its state carried from chunk to chunk)
  and its energy kept per 64-sample block. A limiter gain that is constant per block
  scales those energies exactly, so every later loudness reading is a cheap sum over blocks with pyloudnorm's
  400 ms / 75 % overlap gating.
* Limiter: a look-ahead gain per 64-sample block (minimum filter, then a moving average of the same radius, so
  the smoothed gain never exceeds what any block needs), iterated with the pre-gain until loudness converges.
* True peak, exact: the BS.1770 Annex 2 4x interpolator (12 taps per phase) runs on the 16-bit samples actually
  written, but only on 16-sample blocks whose outputs could exceed the largest value found so far. No phase's
  output exceeds the sum of its taps' magnitudes (at most 2.023, +6.1 dB) times the largest input sample in its
  12-sample window, so blocks are visited loudest bound first and the rest skipped once their bound is below the
  running maximum: the same reading as interpolating every sample (``inference.qc.levels.true_peak``), on about
  a tenth of them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from inference.qc.levels import TRUE_PEAK_PHASES

TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
BLOCK = 64
_MARGIN_DB = 0.15  # keep the measured true peak this far under the ceiling
_SETTLED_LU = 0.05  # the pre-gain is settled when the limited level is this close to the target, LU
_SETTLE_ROUNDS = 8
_CHUNK = 1 << 18  # frames per chunk of a full-length pass (a multiple of BLOCK; see the module docstring)
_TP_BLOCK = 16  # frames per true-peak block (divides BLOCK)
_TP_BATCH = 2048  # true-peak blocks interpolated per matrix product
_TAPS = TRUE_PEAK_PHASES.shape[1]
# ITU-R BS.1770 Annex 2 true-peak interpolator, shared with the QC meter so both read the same peak.
_TAPS_MATRIX = np.ascontiguousarray(TRUE_PEAK_PHASES[:, ::-1].T, dtype=np.float32)  # (12, 4), reversed for convolution
# |output| <= this x the largest |input| in the window: the largest L1 norm of a phase, with room for float32 error.
_TP_GAIN_BOUND = float(np.abs(TRUE_PEAK_PHASES).sum(axis=1).max()) * (1.0 + 1e-5)


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
    frames = audio.shape[1]
    blocks = -(-frames // BLOCK)
    padded = np.zeros((2, blocks * BLOCK), dtype=np.float32)  # a copy: the fade must not touch the caller's array
    padded[:, :frames] = audio
    _fade_out(padded[:, :frames], int(fade_out_s * sample_rate))
    energy, peaks = _block_energy_and_peaks(padded, sample_rate)
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
        for _ in range(_SETTLE_ROUNDS):  # heavy limiting pulls the level under the target again: settle the gain
            level = meter.loudness((gain * curve) ** 2)
            if abs(level - target_lufs) <= _SETTLED_LU:
                break
            gain *= 10 ** ((target_lufs - level) / 20)
            curve = _limiter_curve(peaks * gain, ceiling, radius)
        pcm, framed, block_peaks = _quantise(padded, gain * curve, frames)
        tp, source = _true_peak_db(framed, block_peaks, frames)
        if tp <= ceiling_dbtp - _MARGIN_DB + 1e-9:
            break
        # Lower the sample ceiling under the samples the peak was interpolated from, by the excess: a block whose
        # overshoot is large can sit far below the ceiling, and lowering only the ceiling may never reach it.
        ceiling = min(ceiling, source / 32768.0) * 10 ** ((ceiling_dbtp - _MARGIN_DB - tp - 0.05) / 20)
    else:
        raise RuntimeError("true-peak limiting did not converge")  # pragma: no cover - invariant
    final = meter.loudness((gain * curve) ** 2)
    return MasterResult(pcm=pcm, loudness_lufs=round(final, 3), true_peak_dbtp=round(tp, 3),
                        gain_db=round(20 * math.log10(gain), 3), limited_db=round(20 * math.log10(curve.min()), 3))


def _fade_out(x: np.ndarray, frames: int) -> None:
    frames = min(frames, x.shape[1])
    if frames > 1:
        x[:, -frames:] *= np.linspace(1.0, 0.0, frames, dtype=np.float32) ** 2


@functools.lru_cache(maxsize=8)
def _k_weighting(sample_rate: int) -> np.ndarray:
    """pyloudnorm's K-weighting stages at ``sample_rate`` as float32 second-order sections (once per rate)."""
    import pyloudnorm

    filters = pyloudnorm.Meter(sample_rate)._filters  # the exact stage coefficients pyloudnorm measures with
    return np.array([np.concatenate([f.b, f.a]) for f in filters.values()], dtype=np.float32)


def _block_energy_and_peaks(padded: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per 64-sample block of ``padded`` (``(2, blocks * 64)`` float32): the sum of squared K-weighted samples per
    channel (float64, ``(2, blocks)``) and the sample peak over both channels (float64, ``(blocks,)``)."""
    from inference._sos import sosfilt_stereo

    sos = _k_weighting(sample_rate)
    blocks = padded.shape[1] // BLOCK
    energy = np.empty((2, blocks))
    peaks = np.empty(blocks)
    state = np.zeros((sos.shape[0], 2, 2), dtype=np.float32)
    scratch = np.empty((2, min(_CHUNK, padded.shape[1])), dtype=np.float32)
    for start in range(0, padded.shape[1], _CHUNK):
        chunk = padded[:, start:start + _CHUNK]
        b0, b1 = start // BLOCK, start // BLOCK + chunk.shape[1] // BLOCK
        weighted = scratch[:, :chunk.shape[1]]
        sosfilt_stereo(sos, chunk, weighted, state)  # scipy's sosfilt, bit for bit; the state makes chunks seamless
        np.square(weighted, out=weighted)
        energy[:, b0:b1] = weighted.reshape(2, -1, BLOCK).sum(axis=2, dtype=np.float64)
        np.abs(chunk, out=weighted)
        peaks[b0:b1] = _block_max(np.maximum(weighted[0], weighted[1]), BLOCK)
    return energy, peaks


def _block_max(values: np.ndarray, width: int) -> np.ndarray:
    """The largest of every ``width`` consecutive entries of the 1-D ``values`` (``width`` a power of two dividing
    its length). Column by column: numpy's reduction along a short contiguous axis is ~15x slower."""
    v = values.reshape(-1, width)
    while v.shape[1] > 16:
        half = v.shape[1] // 2
        v = np.maximum(v[:, :half], v[:, half:])
    out = v[:, 0].copy()
    for k in range(1, v.shape[1]):
        np.maximum(out, v[:, k], out=out)
    return out


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
    block = np.minimum(sample // BLOCK, cum.shape[1] - 2)
    frac = (sample - block * BLOCK) / BLOCK
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


def _quantise(padded: np.ndarray, block_gain: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply a per-block gain and round to int16, in chunks.

    Returns:
        ``pcm``, int16 ``(frames, 2)``; the buffer it is a view of, ``(taps - 1 + blocks * 64, 2)``, whose first
        ``taps - 1`` frames and tail are zeros (the true-peak interpolator's rest state); and the peak magnitude
        of every 16-frame block of ``pcm``, in LSB, float64.
    """
    # x * (g * 32768) is exactly (x * g) * 32768 in float32: scaling by a power of two does not round.
    gain = block_gain.astype(np.float32) * np.float32(32768.0)
    framed = np.zeros((_TAPS - 1 + padded.shape[1], 2), dtype=np.int16)
    pcm = framed[_TAPS - 1:_TAPS - 1 + frames]
    block_peaks = np.empty(padded.shape[1] // _TP_BLOCK)
    for start in range(0, frames, _CHUNK):
        chunk = padded[:, start:start + _CHUNK]
        b0 = start // BLOCK
        y = chunk.reshape(2, -1, BLOCK) * gain[None, b0:b0 + chunk.shape[1] // BLOCK, None]
        np.clip(y, -32767.0, 32767.0, out=y)
        np.rint(y, out=y)
        y = y.reshape(2, -1)
        rows = framed[_TAPS - 1 + start:_TAPS - 1 + start + y.shape[1]]
        rows[:, 0] = y[0]  # whole numbers: the casts are exact; a channel at a time is 4x faster than y.T
        rows[:, 1] = y[1]
        np.abs(y, out=y)
        p0 = start // _TP_BLOCK
        block_peaks[p0:p0 + y.shape[1] // _TP_BLOCK] = _block_max(np.maximum(y[0], y[1]), _TP_BLOCK)
    used = -(-frames // _TP_BLOCK)
    block_peaks[used:] = 0.0  # blocks wholly past the last frame (padding)
    return pcm, framed, block_peaks


def _true_peak_db(framed: np.ndarray, block_peaks: np.ndarray, frames: int) -> tuple[float, float]:
    """dBTP of the int16 audio in ``framed`` (see :func:`_quantise`), exact: BS.1770 4x interpolation of every
    16-frame block whose outputs could exceed the largest value found so far, loudest bound first; and the
    largest sample (LSB) in the window that peak was interpolated from."""
    # Block j's outputs (frames 16j .. 16j + 15) read frames 16j - 11 .. 16j + 15: blocks j - 1 and j.
    window_peak = np.maximum(block_peaks, np.concatenate([[0.0], block_peaks[:-1]]))
    bound = window_peak * _TP_GAIN_BOUND
    whole = frames // _TP_BLOCK  # blocks with 16 outputs; a partial last block is interpolated on its own
    peak = float(block_peaks.max())  # the samples themselves count, as in the full meter
    source = peak
    if whole * _TP_BLOCK < frames:
        last = float(_interpolated_peak(framed, np.array([whole]))[:, :, :frames % _TP_BLOCK].max())
        if last > peak:
            peak, source = last, float(window_peak[whole])
    order = np.flatnonzero(bound[:whole] > peak)
    order = order[np.argsort(-bound[order], kind="stable")]
    for i in range(0, len(order), _TP_BATCH):
        batch = order[i:i + _TP_BATCH]
        batch = batch[bound[batch] > peak]
        if not len(batch):
            break  # sorted by bound: no later block can exceed the peak found
        values = _interpolated_peak(framed, batch).max(axis=(0, 2, 3))  # per block
        best = int(np.argmax(values))
        if values[best] > peak:
            peak, source = float(values[best]), float(window_peak[batch[best]])
    return (20 * math.log10(peak / 32768.0) if peak > 0 else -math.inf), source


_SEGMENT = np.arange(_TP_BLOCK + _TAPS - 1)  # a block's outputs read its 16 frames and the 11 before


def _interpolated_peak(framed: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """|4x-interpolated values| of the 16-frame ``blocks`` of ``framed``, LSB, shape ``(2, len, 16, 4)``."""
    segments = framed[blocks[:, None] * _TP_BLOCK + _SEGMENT[None, :]].astype(np.float32)  # (len, 27, 2)
    segments = np.ascontiguousarray(segments.transpose(2, 0, 1))  # (2, len, 27): windows along the last axis
    return np.abs(sliding_window_view(segments, _TAPS, axis=2) @ _TAPS_MATRIX)
