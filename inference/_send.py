"""The reverb send's rate changes (numba): boxcar decimation down, linear interpolation back up, added in place.

Each is one pass over the full-rate audio, both phases of the arithmetic in registers, instead of numpy's pass per
phase through chunk-sized temporaries. The float32 operations are numpy's, in numpy's order (no fused
multiply-add: compiled without ``fastmath``), so the send is bit-identical to
``inference.effects._add_reverb_send``'s whole-array formulation. Compiled once with ``cache=True``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def decimate_sum(x: np.ndarray, factor: int, level: np.float32,
                 low: np.ndarray) -> None:  # pragma: no cover - compiled
    """``low[c, k] = (x[c, k*f] + x[c, k*f+1] + ... + x[c, k*f+f-1]) * level``, summed left to right (float32;
    ``x`` is ``(2, >= n*f)``, ``low`` is ``(2, n)``, ``factor`` >= 2)."""
    for c in range(2):
        for k in range(low.shape[1]):
            i = k * factor
            acc = x[c, i] + x[c, i + 1]
            for j in range(2, factor):
                acc += x[c, i + j]
            low[c, k] = acc * level


@njit(cache=True)
def add_interpolated(x: np.ndarray, tail: np.ndarray, weights: np.ndarray) -> None:  # pragma: no cover - compiled
    """``x[c, k*f+j] += (tail[c, k+1] - tail[c, k]) * weights[j] + tail[c, k]``, the last step taken as 0 (float32;
    ``tail`` is ``(2, n)``, ``weights`` the ``f`` phase fractions ``j / f``, ``x`` is ``(2, >= n*f)``)."""
    factor = weights.shape[0]
    n = tail.shape[1]
    zero = np.float32(0.0)
    for c in range(2):
        for k in range(n):
            base = tail[c, k]
            step = tail[c, k + 1] - base if k + 1 < n else zero
            i = k * factor
            for j in range(factor):
                x[c, i + j] += step * weights[j] + base
