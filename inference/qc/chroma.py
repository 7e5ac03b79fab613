"""Constant-Q chroma with its filter bank built once per process: ``librosa.feature.chroma_cqt``'s numbers, faster.

``chroma_cqt`` designs its 252 wavelet filters (7 octaves x 36 bins, C1 upwards) and their FFTs on every call:
about 0.1 s, which is more than generating a 5 s track. The bank depends only on the sample rate and the hop, so
:func:`chroma_bank` builds it once (``functools.lru_cache``) and :func:`chroma_cqt` runs only what depends on
the signal: librosa's octave-by-octave VQT (early downsampling, one STFT per octave with
:func:`inference.qc.spectrum.stft`, halving the rate with ``soxr_hq`` between octaves), the magnitude, and the
fold into 12 pitch classes. Same parameters as ``librosa.feature.chroma_cqt(y, sr, hop_length, norm=None,
tuning=0.0)``; ``tests/test_qc.py`` checks the output against librosa's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from inference.qc.spectrum import stft

BINS_PER_OCTAVE = 36
N_OCTAVES = 7
_RES_TYPE = "soxr_hq"


@dataclass(frozen=True)
class ChromaBank:
    """The signal-independent part of constant-Q chroma at one sample rate and hop.

    Attributes:
        sample_rate: rate of the input signal, Hz.
        hop_length: frames between chroma columns, samples at ``sample_rate``.
        early_factor: the input is first downsampled by this power of two (1: not at all).
        octaves: per octave, top first: (sparse FFT filter basis already scaled, FFT size, hop at that rate).
        length_norm: per CQT bin, ``1 / sqrt(filter length)`` (librosa's ``scale=True``), shape ``(252, 1)``.
        to_chroma: the CQT-to-chroma fold, shape ``(12, 252)``.
    """

    sample_rate: float
    hop_length: int
    early_factor: int
    octaves: tuple[tuple[object, int, int], ...]
    length_norm: np.ndarray
    to_chroma: np.ndarray


@functools.lru_cache(maxsize=4)
def chroma_bank(sample_rate: float, hop_length: int) -> ChromaBank:
    """The filters, once per process: read from the bank cache (:mod:`inference.qc.banks`), or designed now."""
    import scipy.sparse

    from inference.qc.banks import cached_bank

    arrays = cached_bank("chroma", {"sample_rate": float(sample_rate), "hop_length": int(hop_length),
                                    "bins_per_octave": BINS_PER_OCTAVE, "octaves": N_OCTAVES},
                         lambda: _design_chroma_bank(float(sample_rate), int(hop_length)))
    octaves = []
    for i in range(N_OCTAVES):
        basis = scipy.sparse.csr_matrix((arrays[f"data{i}"], arrays[f"indices{i}"], arrays[f"indptr{i}"]),
                                        shape=tuple(arrays[f"shape{i}"]))
        octaves.append((basis, int(arrays[f"n_fft{i}"]), int(arrays[f"hop{i}"])))
    return ChromaBank(sample_rate=float(sample_rate), hop_length=hop_length, early_factor=int(arrays["early_factor"]),
                      octaves=tuple(octaves), length_norm=arrays["length_norm"], to_chroma=arrays["to_chroma"])


def _design_chroma_bank(sample_rate: float, hop_length: int) -> dict[str, np.ndarray]:
    """Design the filters with librosa: wavelets, their sparse FFTs per octave, length scaling and the chroma
    fold, as the arrays :func:`chroma_bank` reads."""
    import librosa

    n_bins = N_OCTAVES * BINS_PER_OCTAVE
    fmin = float(librosa.note_to_hz("C1"))
    freqs = fmin * 2.0 ** (np.arange(n_bins) / BINS_PER_OCTAVE)
    ratio = 2.0 ** (2.0 / BINS_PER_OCTAVE)
    alpha = np.full(n_bins, (ratio - 1.0) / (ratio + 1.0))  # librosa's relative bandwidth for equal spacing
    lengths, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sample_rate, window="hann", filter_scale=1,
                                                      gamma=0, alpha=alpha)
    # librosa's early downsampling: whole octaves the top filter does not need, as far as the hop allows.
    count = max(0, int(np.ceil(np.log2(sample_rate / 2.0 / cutoff)) - 1) - 1)
    count = min(count, max(0, _two_factors(hop_length) - N_OCTAVES + 1))
    factor = 2**count
    rate, hop = sample_rate / factor, hop_length // factor
    arrays: dict[str, np.ndarray] = {"early_factor": np.array(factor)}
    for i in range(N_OCTAVES):
        part = slice(n_bins - BINS_PER_OCTAVE * (i + 1), n_bins - BINS_PER_OCTAVE * i)
        basis, filter_lengths = librosa.filters.wavelet(freqs=freqs[part], sr=rate, filter_scale=1, norm=1,
                                                        pad_fft=True, window="hann", gamma=0,
                                                        alpha=alpha[part])  # type: ignore[arg-type]
        n_fft = basis.shape[1]
        basis *= filter_lengths[:, np.newaxis] / float(n_fft)
        fft_basis = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
        fft_basis = librosa.util.sparsify_rows(fft_basis, quantile=0.01, dtype=np.complex64)
        fft_basis = (fft_basis * np.sqrt(sample_rate / factor / rate)).tocsr()
        arrays.update({f"data{i}": fft_basis.data, f"indices{i}": fft_basis.indices, f"indptr{i}": fft_basis.indptr,
                       f"shape{i}": np.array(fft_basis.shape), f"n_fft{i}": np.array(n_fft), f"hop{i}": np.array(hop)})
        if hop % 2 == 0:
            hop //= 2
            rate /= 2.0
    full_lengths, _ = librosa.filters.wavelet_lengths(freqs=freqs, sr=sample_rate / factor, window="hann",
                                                      filter_scale=1, gamma=0, alpha=alpha)
    to_chroma = librosa.filters.cq_to_chroma(n_bins, bins_per_octave=BINS_PER_OCTAVE, n_chroma=12, fmin=None)
    arrays["length_norm"] = (1.0 / np.sqrt(full_lengths))[:, np.newaxis]
    arrays["to_chroma"] = np.asarray(to_chroma)
    return arrays


def chroma_cqt(mono: np.ndarray, sample_rate: float, hop_length: int) -> np.ndarray:
    """Unnormalised constant-Q chroma of a mono signal, shape ``(12, frames)``, as librosa computes it.

    Args:
        mono: float32 samples, shape (frames,).
        sample_rate: Hz.
        hop_length: samples between chroma frames, at ``sample_rate``.
    """
    bank = chroma_bank(float(sample_rate), int(hop_length))
    y = mono.astype(np.float32, copy=False)
    if bank.early_factor > 1:
        y = downsample(y, bank.early_factor)
    responses = []
    for index, (fft_basis, n_fft, hop) in enumerate(bank.octaves):
        spectrum = stft(y, n_fft, hop, window=None)
        responses.append(fft_basis.dot(spectrum))  # type: ignore[attr-defined]
        if hop % 2 == 0 and index < len(bank.octaves) - 1:  # librosa also halves after the last octave; unused
            y = downsample(y, 2)
    columns = min(r.shape[1] for r in responses)
    cqt = np.concatenate([r[:, :columns] for r in reversed(responses)], axis=0)  # lowest octave first
    magnitude = np.abs(cqt) * bank.length_norm
    return np.asarray(bank.to_chroma @ magnitude)


def downsample(y: np.ndarray, factor: int) -> np.ndarray:
    """``librosa.resample(y, orig_sr=factor, target_sr=1, res_type="soxr_hq", scale=True)``, the same numbers,
    without importing librosa: soxr's high-quality resampler, length ``ceil(len / factor)``, scaled by
    ``sqrt(factor)`` so that band energy is kept."""
    import soxr

    ratio = 1.0 / factor
    size = int(np.ceil(y.shape[-1] * ratio))
    y_hat = soxr.resample(y, factor, 1, quality=_RES_TYPE)
    if y_hat.shape[-1] > size:
        y_hat = y_hat[:size]
    elif y_hat.shape[-1] < size:
        y_hat = np.pad(y_hat, (0, size - y_hat.shape[-1]))
    y_hat /= np.sqrt(ratio)
    return np.asarray(y_hat, dtype=y.dtype)


def _two_factors(x: int) -> int:
    """How many times ``x`` divides by 2 (0 for x <= 0)."""
    return 0 if x <= 0 else int(math.log2(x & -x))
