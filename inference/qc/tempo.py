"""Tempo estimation: librosa onset strength, then a global autocorrelation read with sub-frame precision.

``librosa.feature.tempo`` reads a tempogram whose lag grid is ~2-5% coarse at common tempi (NOTES.md: 120 BPM
read as 117.5), which eats the whole 4% tolerance of the check. For a track at a constant tempo, one
autocorrelation over the whole onset envelope is sharper: the best lag is found under librosa's log-normal
tempo prior (centred at 120 BPM, one octave wide), refined by parabolic interpolation, and averaged with the
peaks at 2, 3 and 4 times that lag, which quadruples the resolution. Octave errors (x2, x0.5) remain possible by
design of any such estimator; the check tolerates them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from inference.qc.spectrum import stft

HOP = 256  # samples at 22050 Hz: 11.6 ms onset frames (scaled with the rate: the frame rate stays the same)
N_FFT = 2048  # samples at 22050 Hz: 93 ms analysis window, librosa's default (scaled with the rate)
N_MELS = 128
REFERENCE_SR = 22050
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
        mono: float samples, shape (frames,); 11025 Hz is plenty (hop and window scale with the rate).
        sample_rate: Hz.

    Returns:
        The estimate, or None when the signal has no onsets (silence, a steady tone) or lasts under ~4 s.
    """
    import librosa  # lazy: ~1 s of submodule loading on first use

    hop = max(1, round(HOP * sample_rate / REFERENCE_SR))
    envelope = onset_envelope(mono, sample_rate, hop, max(16, round(N_FFT * sample_rate / REFERENCE_SR)))
    envelope = envelope.astype(np.float64) - float(np.mean(envelope))
    frames_per_s = sample_rate / hop
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


def onset_envelope(mono: np.ndarray, sample_rate: int, hop_length: int, n_fft: int) -> np.ndarray:
    """librosa's ``onset_strength`` (log-power mel spectral flux, mean over 128 bands), its mel bank built once.

    Args:
        mono: float samples, shape (frames,).
        sample_rate: Hz.
        hop_length: samples between envelope frames.
        n_fft: STFT window, samples.
    """
    import librosa

    power = np.abs(stft(mono.astype(np.float32, copy=False), n_fft, hop_length)) ** 2
    log_mel = librosa.power_to_db(_mel_bank(sample_rate, n_fft) @ power)
    return np.asarray(librosa.onset.onset_strength(S=log_mel, sr=sample_rate, hop_length=hop_length, n_fft=n_fft))


@functools.lru_cache(maxsize=8)
def _mel_bank(sample_rate: int, n_fft: int) -> np.ndarray:
    """librosa's default mel filter bank (128 Slaney bands up to Nyquist), designed once per rate and window."""
    import librosa

    return np.asarray(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=N_MELS))


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
