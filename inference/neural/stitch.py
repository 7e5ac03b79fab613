"""Joining generated windows into one track: equal-power crossfades, window plans and seam measurements.

Neural engines write a bounded window (MusicGen 30 s, Stable Audio Open ~47 s). A longer track is a chain of
windows, each starting where the previous one ends minus an overlap, joined by a crossfade over that overlap.

The crossfade keeps the *power* of the mix constant through the overlap. For two uncorrelated signals that is the
classic equal-power fade, ``cos``/``sin`` gains whose squares sum to 1. For correlated ones (a continuation
window that reproduces its prompt audio) the same gains would add up in amplitude, a +3 dB bump at the middle of
the fade, so the gains are scaled by ``1 / sqrt(1 + 2 r cos sin)`` for the overlap's measured correlation
``r`` clipped to [0, 1]: power is preserved for any ``r``, the fade is equal-power at ``r = 0`` and becomes the
amplitude-preserving (linear-sum) fade at ``r = 1``, which rebuilds identical overlaps exactly. (Two signals
of power ``P`` and correlation ``r`` mixed with gains ``g1, g2`` have power ``P (g1^2 + g2^2 + 2 r g1 g2)``;
dividing ``cos, sin`` by the square root of that bracket makes it 1.)

Arrays are ``(channels, frames)`` float32 throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_FLOOR = 1e-10  # amplitude floor for dB readings of silence (-200 dB)


def equal_power_crossfade(a: np.ndarray, b: np.ndarray, overlap: int) -> np.ndarray:
    """``a`` then ``b``, the last ``overlap`` frames of ``a`` crossfaded with the first ``overlap`` of ``b``.

    Args:
        a: the earlier audio, shape (channels, frames_a), frames_a >= overlap.
        b: the later audio, shape (channels, frames_b), frames_b >= overlap, same channel count.
        overlap: frames shared by the two; 0 concatenates.

    Returns:
        float32 audio of shape (channels, frames_a + frames_b - overlap).

    Raises:
        ValueError: shapes disagree, or ``overlap`` is negative or longer than either input.
    """
    return stitch_windows([a, b], overlap)


def stitch_windows(windows: Sequence[np.ndarray], overlap: int) -> np.ndarray:
    """Join consecutive windows, each overlapping the previous one by ``overlap`` frames, with crossfades.

    The result equals folding :func:`equal_power_crossfade` over the windows, written into one buffer.

    Args:
        windows: audio windows in order, each (channels, frames) with frames >= overlap.
        overlap: frames each window shares with the previous one.

    Returns:
        float32 audio, shape (channels, sum(frames) - overlap * (len(windows) - 1)).

    Raises:
        ValueError: no windows, channel counts differ, or a window is shorter than the overlap.
    """
    arrays = [_as_audio(w, f"windows[{i}]") for i, w in enumerate(windows)]
    if not arrays:
        raise ValueError("windows must hold at least one audio window")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0 frames, got {overlap}")
    channels = arrays[0].shape[0]
    for i, w in enumerate(arrays):
        if w.shape[0] != channels:
            raise ValueError(f"windows[{i}] has {w.shape[0]} channels, windows[0] has {channels}")
        if w.shape[1] < overlap and len(arrays) > 1:
            raise ValueError(f"windows[{i}] has {w.shape[1]} frames, fewer than the overlap of {overlap}")
    total = sum(w.shape[1] for w in arrays) - overlap * (len(arrays) - 1)
    out = np.zeros((channels, total), dtype=np.float32)
    out[:, : arrays[0].shape[1]] = arrays[0]
    end = arrays[0].shape[1]
    for w in arrays[1:]:
        start = end - overlap
        if overlap:
            tail, head = out[:, start:end], w[:, :overlap]
            fade_out, fade_in = crossfade_gains(overlap, overlap_correlation(tail, head))
            out[:, start:end] = tail * fade_out + head * fade_in
        out[:, end : start + w.shape[1]] = w[:, overlap:]
        end = start + w.shape[1]
    return out


def crossfade_gains(overlap: int, correlation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains over ``overlap`` frames that keep the mix's power constant.

    Args:
        overlap: frames, > 0.
        correlation: normalised correlation of the two overlapping signals, clipped to [0, 1]; 0 gives the
            plain ``cos``/``sin`` equal-power fade, 1 a fade whose gains sum to 1.

    Returns:
        (fade_out, fade_in), float32 arrays of shape (overlap,), sampled at frame centres.
    """
    theta = (np.arange(overlap, dtype=np.float64) + 0.5) / overlap * (math.pi / 2.0)
    fade_out, fade_in = np.cos(theta), np.sin(theta)
    r = min(1.0, max(0.0, float(correlation)))
    norm = np.sqrt(1.0 + 2.0 * r * fade_out * fade_in)
    return (fade_out / norm).astype(np.float32), (fade_in / norm).astype(np.float32)


def overlap_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation ``<a, b> / (|a| |b|)`` of two equally shaped signals, all channels together.

    Returns 0.0 when either is silent. Audio is zero-mean, so no mean is removed.
    """
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    denom = math.sqrt(float(a64 @ a64) * float(b64 @ b64))
    return float(a64 @ b64) / denom if denom > 0.0 else 0.0


def window_lengths(total: int, window: int, overlap: int) -> list[int]:
    """Window lengths that stitch (with ``overlap``) into exactly ``total`` frames, each at most ``window``.

    The first window is as long as allowed; each later one adds ``window - overlap`` new frames, the last one
    only what is left (it is never shorter than ``overlap + 1`` frames).

    Args:
        total: frames wanted, > 0.
        window: the engine's longest window, frames, > overlap.
        overlap: frames shared by consecutive windows, >= 0.

    Raises:
        ValueError: ``window <= overlap`` or a non-positive ``total``.
    """
    if total <= 0:
        raise ValueError(f"total must be > 0 frames, got {total}")
    if overlap < 0 or window <= overlap:
        raise ValueError(f"window ({window} frames) must be longer than overlap ({overlap} frames) and overlap >= 0")
    lengths = [min(total, window)]
    covered = lengths[0]
    while covered < total:
        new = min(window - overlap, total - covered)
        lengths.append(new + overlap)
        covered += new
    return lengths


def seam_positions(lengths: Sequence[int], overlap: int) -> list[int]:
    """Frame index, in the stitched audio, of the middle of each crossfade between windows of ``lengths``."""
    positions, start = [], 0
    for length in lengths[:-1]:
        start += length - overlap
        positions.append(start + overlap // 2)
    return positions


def seam_jumps(audio: np.ndarray, sr: int, seams: Sequence[int], window_s: float = 0.5) -> list[dict[str, float]]:
    """How much loudness and spectral balance change across each seam.

    Compares the ``window_s`` seconds just before each seam with the ``window_s`` just after, on the mono mix:
    RMS level in dB, and the spectral centroid of a Hann-windowed magnitude spectrum.

    Args:
        audio: (channels, frames) float audio.
        sr: sample rate, Hz.
        seams: frame indices to measure at (e.g. :func:`seam_positions`).
        window_s: seconds on each side, > 0.

    Returns:
        Per seam: ``position_s`` (seconds), ``loudness_jump_db`` (after minus before, dB RMS; 0 = no jump) and
        ``centroid_jump_ratio`` (larger over smaller centroid, >= 1; 1 = no jump).

    Raises:
        ValueError: a seam leaves less than one full ``window_s`` on either side.
    """
    mono = _as_audio(audio, "audio").astype(np.float64).mean(axis=0)
    width = max(1, round(window_s * sr))
    jumps = []
    for seam in seams:
        if seam - width < 0 or seam + width > mono.shape[0]:
            raise ValueError(f"seam at frame {seam} needs {width} frames on each side; audio has {mono.shape[0]}")
        before, after = mono[seam - width : seam], mono[seam : seam + width]
        c_before, c_after = _centroid_hz(before, sr), _centroid_hz(after, sr)
        ratio = max(c_before, c_after) / max(min(c_before, c_after), _FLOOR)
        jumps.append({"position_s": round(seam / sr, 4), "loudness_jump_db": _rms_db(after) - _rms_db(before),
                      "centroid_jump_ratio": float(ratio)})
    return jumps


def _rms_db(x: np.ndarray) -> float:
    return 20.0 * math.log10(max(math.sqrt(float(np.mean(x * x))), _FLOOR))


def _centroid_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.shape[0])))
    freqs = np.fft.rfftfreq(x.shape[0], 1.0 / sr)
    power = float(spectrum.sum())
    return float(freqs @ spectrum) / power if power > 0.0 else 0.0


def _as_audio(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be shaped (channels, frames), got shape {arr.shape}")
    return arr
