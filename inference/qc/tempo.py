"""Tempo estimation: librosa onset strength, then a global autocorrelation read with sub-frame precision.

``librosa.feature.tempo`` reads a tempogram whose lag grid is ~2-5% coarse at common tempi (NOTES.md: 120 BPM
read as 117.5), which eats the whole 4% tolerance of the check. For a track at a constant tempo, one
autocorrelation over the whole onset envelope is sharper: the best lag is found under librosa's log-normal
tempo prior (centred at 120 BPM, one octave wide), refined by parabolic interpolation, and averaged with the
peaks at 2, 3 and 4 times that lag, which quadruples the resolution. Octave errors (x2, x0.5) remain possible by
design of any such estimator; the check tolerates them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP = 256  # samples at 22050 Hz: 11.6 ms onset frames
MIN_BPM, MAX_BPM = 30.0, 300.0
PRIOR_CENTRE_BPM, PRIOR_OCTAVES = 120.0, 1.0


@dataclass(frozen=True)
class TempoEstimate:
    """An estimated tempo.

    Attributes:
        bpm: beats per minute.
        confidence: autocorrelation at the beat lag relative to lag 0, in [0, 1]: ~0 noise, near 1 a steady pulse.
    """

    bpm: float
    confidence: float


def estimate_tempo(mono: np.ndarray, sample_rate: int) -> TempoEstimate | None:
    """Estimate the global tempo of a mono signal.

    Args:
        mono: float samples, shape (frames,); 22050 Hz is plenty.
        sample_rate: Hz.

    Returns:
        The estimate, or None when the signal has no onsets (silence, a steady tone) or lasts under ~4 s.
    """
    import librosa  # lazy: ~1 s of submodule loading on first use

    envelope = librosa.onset.onset_strength(y=mono.astype(np.float32, copy=False), sr=sample_rate, hop_length=HOP)
    envelope = envelope.astype(np.float64) - float(np.mean(envelope))
    frames_per_s = sample_rate / HOP
    max_lag = int(frames_per_s * 60.0 / MIN_BPM)
    if len(envelope) < 2 * max_lag // 3 or not np.any(envelope):
        return None
    ac = librosa.autocorrelate(envelope, max_size=min(len(envelope), 4 * max_lag + 4))
    # Unbiased: divide by the number of overlapping frames, so long lags are not penalised for being long.
    ac = ac / (len(envelope) - np.arange(len(ac)))
    if ac[0] <= 0.0:
        return None
    lags = np.arange(len(ac), dtype=np.float64)
    with np.errstate(divide="ignore"):
        bpm = np.where(lags > 0, 60.0 * frames_per_s / np.maximum(lags, 1e-9), np.inf)
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_OCTAVES) ** 2)
    weighted = np.where((bpm >= MIN_BPM) & (bpm <= MAX_BPM), np.maximum(ac, 0.0) * prior, -np.inf)
    best = int(np.argmax(weighted))
    if not np.isfinite(weighted[best]) or weighted[best] <= 0.0:
        return None
    lag = _refined_lag(ac, best)
    confidence = min(1.0, max(0.0, float(ac[best] / ac[0])))
    return TempoEstimate(bpm=round(60.0 * frames_per_s / lag, 2), confidence=round(confidence, 4))


def _refined_lag(ac: np.ndarray, best: int) -> float:
    """Sub-frame beat lag: parabolic peaks at 1..4 times ``best``, each divided by its multiple, averaged."""
    estimates = []
    for multiple in range(1, 5):
        centre = multiple * best
        lo, hi = centre - multiple, centre + multiple + 1
        if lo < 1 or hi + 1 > len(ac):
            break
        peak = lo + int(np.argmax(ac[lo:hi]))
        if not 1 <= peak < len(ac) - 1 or ac[peak] <= 0.0:
            break
        estimates.append(_parabolic_peak(ac, peak) / multiple)
    return float(np.mean(estimates)) if estimates else float(best)


def _parabolic_peak(values: np.ndarray, index: int) -> float:
    a, b, c = values[index - 1], values[index], values[index + 1]
    curvature = a - 2.0 * b + c
    offset = 0.5 * (a - c) / curvature if curvature < 0.0 else 0.0
    return index + float(np.clip(offset, -0.5, 0.5))


def tempo_matches(measured_bpm: float, requested_bpm: float, tolerance: float = 0.04,
                  factors: tuple[float, ...] = (1.0, 2.0, 0.5)) -> bool:
    """True when ``measured_bpm`` is within ``tolerance`` (relative) of ``requested_bpm`` times one of ``factors``.

    Args:
        measured_bpm: estimated tempo, BPM.
        requested_bpm: the tempo asked for, BPM.
        tolerance: relative error allowed, 0.04 = 4%.
        factors: octave readings accepted; (1, 2, 0.5) tolerates the usual double/half-tempo errors.
    """
    return any(abs(measured_bpm - requested_bpm * f) <= tolerance * requested_bpm * f for f in factors)
