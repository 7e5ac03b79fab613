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

from inference.qc.spectrum import stft_blocks

HOP = 256  # samples at 22050 Hz: 11.6 ms onset frames (scaled with the rate: the frame rate stays the same)
N_FFT = 2048  # samples at 22050 Hz: 93 ms analysis window, librosa's default (scaled with the rate)
N_MELS = 128
REFERENCE_SR = 22050
MIN_BPM, MAX_BPM = 30.0, 300.0
PRIOR_CENTRE_BPM, PRIOR_OCTAVES = 120.0, 1.0
# Onset frames transformed at a time: 8 MB of windowed frames at n_fft 1024, under malloc's 32 MiB mmap threshold,
# so each block reuses the last one's memory (inference.heap); a multiple of 64 (spectrum.stft_blocks).
ONSET_BLOCK_FRAMES = 2048


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
    hop = max(1, round(HOP * sample_rate / REFERENCE_SR))
    envelope = onset_envelope(mono, sample_rate, hop, max(16, round(N_FFT * sample_rate / REFERENCE_SR)))
    envelope = envelope.astype(np.float64) - float(np.mean(envelope))
    frames_per_s = sample_rate / hop
    max_lag = int(frames_per_s * 60.0 / MIN_BPM)
    if len(envelope) < 2 * max_lag // 3 or not np.any(envelope):
        return None
    ac = autocorrelate(envelope, max_size=min(len(envelope), 4 * max_lag + 4))
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

    Bit for bit ``librosa.onset.onset_strength(S=librosa.power_to_db(mel_power), ...)`` with its defaults
    (``power_to_db`` with ref 1, amin 1e-10 and top_db 80; lag 1; centred frames), computed with numpy so that
    measuring a track never imports librosa (``tests/test_qc_banks.py`` checks it against librosa).

    Args:
        mono: float samples, shape (frames,).
        sample_rate: Hz.
        hop_length: samples between envelope frames.
        n_fft: STFT window, samples.
    """
    bank = _mel_bank(sample_rate, n_fft)
    y = mono.astype(np.float32, copy=False)
    log_mel = np.empty((bank.shape[0], 1 + len(y) // hop_length), dtype=np.float32)
    for start, spectrum in stft_blocks(y, n_fft, hop_length, ONSET_BLOCK_FRAMES):  # the spectrum a block at a time
        power = np.abs(spectrum) ** 2
        block = 10.0 * np.log10(np.maximum(1e-10, bank @ power))  # power_to_db, ref 1
        log_mel[:, start:start + block.shape[1]] = block
    log_mel = np.maximum(log_mel, log_mel.max() - 80.0)
    flux = np.maximum(0.0, log_mel[:, 1:] - log_mel[:, :-1]).mean(axis=0)
    return np.pad(flux, (1 + n_fft // (2 * hop_length), 0))[: log_mel.shape[1]]


def autocorrelate(y: np.ndarray, max_size: int) -> np.ndarray:
    """``librosa.autocorrelate(y, max_size=max_size)`` of a real 1-D signal: the power spectrum's inverse FFT
    (``scipy.fft``, zero-padded to a fast length of at least ``2 * len - 1``), its first ``max_size`` lags."""
    import scipy.fft

    n_pad = scipy.fft.next_fast_len(2 * len(y) - 1, real=True)
    spectrum = scipy.fft.rfft(y, n=n_pad)
    autocorr = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_pad)
    return autocorr[: int(min(max_size, len(y)))]


@functools.lru_cache(maxsize=8)
def _mel_bank(sample_rate: int, n_fft: int) -> np.ndarray:
    """librosa's default mel filter bank (128 Slaney bands up to Nyquist), from the bank cache or designed now."""
    from inference.qc.banks import cached_bank

    def design() -> dict[str, np.ndarray]:
        import librosa

        return {"mel": np.asarray(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=N_MELS))}

    return cached_bank("mel", {"sample_rate": int(sample_rate), "n_fft": int(n_fft), "n_mels": N_MELS}, design)["mel"]


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
