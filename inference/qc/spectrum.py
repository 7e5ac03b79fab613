"""The short-time Fourier transform the QC estimators need, without librosa's per-call overhead.

``librosa.stft`` validates the whole signal, builds its window and frames in memory blocks on every call: about
1.5 ms of fixed cost, paid once for the onset envelope and once per octave (7) for the constant-Q chroma, which
is more than the transforms themselves on a 5 s track. :func:`stft` computes the same centred, zero-padded
transform (``center=True, pad_mode="constant"``) as one strided view and one ``scipy.fft.rfft``.

:func:`stft_blocks` gives the same transform a block of frames at a time, for a caller that reduces each block as
it comes: a whole 180 s track's onset spectrum at 11025 Hz is 63 MB of windowed frames and as much again of
spectrum, allocated afresh (past malloc's mmap threshold, :mod:`inference.heap`) and faulted in for every track.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def stft(y: np.ndarray, n_fft: int, hop_length: int, window: str | None = "hann") -> np.ndarray:
    """``librosa.stft(y, n_fft=n_fft, hop_length=hop_length, window=window or "ones", pad_mode="constant")``.

    Args:
        y: float32 mono samples, shape (frames,).
        n_fft: transform length, samples.
        hop_length: samples between frames.
        window: a ``scipy.signal.get_window`` name (periodic), or None for a rectangular window.

    Returns:
        complex64 spectrum, shape ``(n_fft // 2 + 1, 1 + len(y) // hop_length)``.
    """
    frames = _frames(y, n_fft, hop_length)
    return _transform(frames, n_fft, window)


def stft_blocks(y: np.ndarray, n_fft: int, hop_length: int, block_frames: int,
                window: str | None = "hann") -> Iterator[tuple[int, np.ndarray]]:
    """:func:`stft` of ``y``, ``block_frames`` frames at a time: ``(first frame, spectrum of the block)`` in order.

    Each block is exactly those columns of :func:`stft` (every frame is transformed on its own). For the matrix
    products a caller applies per block to give the same numbers as on the whole spectrum, ``block_frames``
    should be a multiple of 64, so that the blocks' edges fall on the same vector lanes as the whole's.
    """
    frames = _frames(y, n_fft, hop_length)
    for start in range(0, frames.shape[0], block_frames):
        yield start, _transform(frames[start:start + block_frames], n_fft, window)


def _frames(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """The centred, zero-padded frames of ``y``, shape ``(frames, n_fft)``: a view of one padded copy."""
    pad = n_fft // 2
    padded = np.zeros(len(y) + 2 * pad, dtype=np.float32)
    padded[pad:pad + len(y)] = y
    return sliding_window_view(padded, n_fft)[::hop_length]


def _transform(frames: np.ndarray, n_fft: int, window: str | None) -> np.ndarray:
    import scipy.fft

    if window is not None:
        frames = frames * _window(window, n_fft)
    return np.asarray(scipy.fft.rfft(frames, axis=1).T, dtype=np.complex64)


@functools.lru_cache(maxsize=16)
def _window(name: str, n_fft: int) -> np.ndarray:
    """A periodic analysis window as librosa builds it (``scipy.signal.get_window(name, n_fft, fftbins=True)``)."""
    import scipy.signal

    return np.asarray(scipy.signal.get_window(name, n_fft, fftbins=True), dtype=np.float32)
