"""Tape wow and flutter kernel (numba): a read position that drifts slowly behind the write position.

Compiled once with ``cache=True``; deterministic (no noise: the modulation is two sine LFOs, run as rotating
phasors so the loop has no transcendental call per sample).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, fastmath=True)
def wow(x: np.ndarray, out: np.ndarray, sample_rate: float, depth_samples: float, wow_hz: float,
        flutter_hz: float) -> None:  # pragma: no cover - compiled
    """``out[c, n] = x[c, n - d(n)]`` with ``d(n) = depth * (1 + 0.9 sin(wow) + 0.1 sin(flutter))`` samples,
    read with linear interpolation; ``x`` and ``out`` are float32 of shape ``(2, frames)``."""
    frames = x.shape[1]
    cw, sw = math.cos(2.0 * math.pi * wow_hz / sample_rate), math.sin(2.0 * math.pi * wow_hz / sample_rate)
    cf, sf = math.cos(2.0 * math.pi * flutter_hz / sample_rate), math.sin(2.0 * math.pi * flutter_hz / sample_rate)
    a_c, a_s, b_c, b_s = 1.0, 0.0, 1.0, 0.0
    for n in range(frames):
        d = depth_samples * (1.0 + 0.9 * a_s + 0.1 * b_s)
        a_c, a_s = a_c * cw - a_s * sw, a_s * cw + a_c * sw
        b_c, b_s = b_c * cf - b_s * sf, b_s * cf + b_c * sf
        if n & 4095 == 0:  # keep the phasors on the unit circle
            ra, rb = 1.0 / math.sqrt(a_c * a_c + a_s * a_s), 1.0 / math.sqrt(b_c * b_c + b_s * b_s)
            a_c, a_s, b_c, b_s = a_c * ra, a_s * ra, b_c * rb, b_s * rb
        pos = n - d
        if pos <= 0.0:
            out[0, n] = x[0, 0]
            out[1, n] = x[1, 0]
            continue
        i = int(pos)
        fr = np.float32(pos - i)
        j = min(i + 1, frames - 1)
        out[0, n] = x[0, i] + (x[0, j] - x[0, i]) * fr
        out[1, n] = x[1, i] + (x[1, j] - x[1, i]) * fr
