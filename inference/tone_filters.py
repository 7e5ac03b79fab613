"""The effects chain's tone filters (high-pass, low-pass, low shelf, high shelf) in one numba pass over stereo.

They compute, sample for sample and bit for bit, what pedalboard's ``HighpassFilter``, ``LowpassFilter``,
``LowShelfFilter`` and ``HighShelfFilter`` (JUCE's ``dsp::IIR`` filters) computed in a ``Pedalboard`` of them at
``buffer_size=8192``, which is what the composer rendered with before (``tests/test_dsp_kernels.py`` holds the two
side by side):

* **Coefficients** are JUCE's, in float32 and in JUCE's order of operations: a first-order bilinear low-pass or
  high-pass (``n = tan(pi f / fs)``) and the Audio EQ Cookbook shelves (R. Bristow-Johnson) with JUCE's default
  Q of sqrt(2)/2, each normalised by ``1 / a0``. ``tanf``, ``sinf``, ``cosf`` and ``powf`` come from the C maths
  library that pedalboard's own build calls (numpy's float32 functions where there is none, which may differ from
  it in the last bit).
* **Filtering** is JUCE's transposed direct form II per channel, float32, with no fused multiply-add (compiled
  without ``fastmath``), and JUCE's ``snapToZero`` of every state (to 0 when within 1e-8) at the end of each
  8192-frame block, as pedalboard processed them.

pedalboard ran each filter over the whole buffer in turn, one channel at a time; here every filter runs in the
same loop over the frames, both channels side by side (independent recurrences the CPU overlaps), which makes the
filter pass about twice as fast. Compiled once with ``cache=True``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

BLOCK = 8192  # frames between the state snaps: pedalboard's default buffer_size, which the chain used
SLOTS = ("highpass", "lowpass", "low_shelf", "high_shelf")  # the chain's fixed order
_F = np.float32
_PI = _F(np.pi)
_SQRT2_OVER_2 = _F(_F(np.sqrt(2.0)) / _F(2.0))  # JUCE's default shelf Q (MathConstants<float>::sqrt2 / 2)


@dataclass(frozen=True)
class ToneFilters:
    """The chain's tone filters; None leaves a slot out. Frequencies in Hz, gains in dB."""

    highpass_hz: float | None = None
    lowpass_hz: float | None = None
    low_shelf: tuple[float, float] | None = None  # (cutoff Hz, gain dB)
    high_shelf: tuple[float, float] | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.highpass_hz, self.lowpass_hz, self.low_shelf, self.high_shelf))

    def coefficients(self, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """(float32 ``(4, 5)`` rows ``b0, b1, b2, a1, a2`` in :data:`SLOTS` order, bool ``(4,)`` enabled)."""
        table = np.zeros((4, 5), dtype=np.float32)
        enabled = np.zeros(4, dtype=np.bool_)
        if self.highpass_hz is not None:
            table[0], enabled[0] = first_order("highpass", sample_rate, self.highpass_hz), True
        if self.lowpass_hz is not None:
            table[1], enabled[1] = first_order("lowpass", sample_rate, self.lowpass_hz), True
        if self.low_shelf is not None:
            table[2], enabled[2] = shelf("low", sample_rate, *self.low_shelf), True
        if self.high_shelf is not None:
            table[3], enabled[3] = shelf("high", sample_rate, *self.high_shelf), True
        return table, enabled


def apply_tone_filters(filters: ToneFilters, x: np.ndarray, sample_rate: int,
                       out: np.ndarray | None = None) -> np.ndarray:
    """``filters`` over float32 ``(2, frames)`` ``x`` from rest; ``out`` (``x`` itself for in place) receives the
    result, a new array when None."""
    table, enabled = filters.coefficients(sample_rate)
    out = np.empty_like(x) if out is None else out
    filter_chain(x, out, table, enabled, BLOCK)
    return out


def first_order(kind: str, sample_rate: int, frequency: float) -> np.ndarray:
    """JUCE's ``makeFirstOrderLowPass`` / ``makeFirstOrderHighPass`` as normalised ``b0, b1, 0, a1, 0``."""
    n = _libm("tanf")(_F(_PI * _F(frequency)) / _F(sample_rate))
    b = (n, n) if kind == "lowpass" else (_F(1.0), _F(-1.0))
    a0_inv = _F(1.0) / _F(n + _F(1.0))
    return np.array([b[0] * a0_inv, b[1] * a0_inv, 0.0, _F(n - _F(1.0)) * a0_inv, 0.0], dtype=np.float32)


def shelf(kind: str, sample_rate: int, frequency: float, gain_db: float) -> np.ndarray:
    """JUCE's ``makeLowShelf`` / ``makeHighShelf`` (pedalboard's cutoff clamp, gain from dB, default Q) as
    normalised ``b0, b1, b2, a1, a2``."""
    powf, sqrtf, sinf, cosf = _libm("powf"), _libm("sqrtf"), _libm("sinf"), _libm("cosf")
    fs = _F(sample_rate)
    cutoff = _F(min(max(_F(frequency), _F(1e-2)), _F(fs / _F(2.0)) - _F(1e2)))  # pedalboard's clampCutoffFrequency
    db = _F(gain_db)
    gain = powf(_F(10.0), _F(db * _F(0.05))) if db > _F(-100.0) else _F(0.0)  # Decibels::decibelsToGain
    gain = max(gain, powf(_F(10.0), _F(_F(-300.0) * _F(0.05))))  # gainWithLowerBound(gain, -300 dB)
    a = sqrtf(gain)
    a_minus, a_plus = _F(a - _F(1.0)), _F(a + _F(1.0))
    omega = _F(_F(_F(2.0) * _PI) * _F(max(cutoff, _F(2.0)))) / fs
    cos_o = cosf(omega)
    beta = _F(sinf(omega) * sqrtf(a)) / _SQRT2_OVER_2
    a_minus_cos = _F(a_minus * cos_o)
    if kind == "high":
        b0 = a * _F(_F(a_plus + a_minus_cos) + beta)
        b1 = _F(a * _F(-2.0)) * _F(a_minus + _F(a_plus * cos_o))
        b2 = a * _F(_F(a_plus + a_minus_cos) - beta)
        a0 = _F(_F(a_plus - a_minus_cos) + beta)
        a1 = _F(2.0) * _F(a_minus - _F(a_plus * cos_o))
        a2 = _F(_F(a_plus - a_minus_cos) - beta)
    else:
        b0 = a * _F(_F(a_plus - a_minus_cos) + beta)
        b1 = _F(a * _F(2.0)) * _F(a_minus - _F(a_plus * cos_o))
        b2 = a * _F(_F(a_plus - a_minus_cos) - beta)
        a0 = _F(_F(a_plus + a_minus_cos) + beta)
        a1 = _F(-2.0) * _F(a_minus + _F(a_plus * cos_o))
        a2 = _F(_F(a_plus + a_minus_cos) - beta)
    a0_inv = _F(1.0) / a0
    return np.array([b0 * a0_inv, b1 * a0_inv, b2 * a0_inv, a1 * a0_inv, a2 * a0_inv], dtype=np.float32)


@functools.cache
def _libm(name: str) -> Callable[..., np.float32]:
    """The C library's float32 function ``name`` (what C++'s ``std::tan(float)`` and friends call), returning
    numpy float32; numpy's own where there is no C maths library to load."""
    path = ctypes.util.find_library("m")
    try:
        fn = getattr(ctypes.CDLL(path), name)
    except (OSError, AttributeError, TypeError):
        numpy_fn = {"tanf": np.tan, "sinf": np.sin, "cosf": np.cos, "sqrtf": np.sqrt, "powf": np.power}[name]
        return lambda *args: _F(numpy_fn(*(_F(v) for v in args)))
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float] * (2 if name == "powf" else 1)
    return lambda *args: _F(fn(*(float(_F(v)) for v in args)))


@njit(cache=True)
def _snap(v: np.float32) -> np.float32:  # pragma: no cover - compiled
    """JUCE's snapToZero: 0 unless |v| > 1e-8."""
    return v if (v < np.float32(-1.0e-8) or v > np.float32(1.0e-8)) else np.float32(0.0)


@njit(cache=True)
def filter_chain(x: np.ndarray, out: np.ndarray, table: np.ndarray, enabled: np.ndarray,
                 block: int) -> None:  # pragma: no cover - compiled
    """Runs the enabled rows of ``table`` (see :meth:`ToneFilters.coefficients`) in order over ``x`` (float32
    ``(2, n)``) into ``out`` (may be ``x``), from rest, snapping every state at the end of each ``block``."""
    hp, lp, ls, hs = enabled[0], enabled[1], enabled[2], enabled[3]
    hb0, hb1, ha1 = table[0, 0], table[0, 1], table[0, 3]
    lb0, lb1, la1 = table[1, 0], table[1, 1], table[1, 3]
    sb0, sb1, sb2, sa1, sa2 = table[2, 0], table[2, 1], table[2, 2], table[2, 3], table[2, 4]
    tb0, tb1, tb2, ta1, ta2 = table[3, 0], table[3, 1], table[3, 2], table[3, 3], table[3, 4]
    zero = np.float32(0.0)
    h_l, h_r, l_l, l_r = zero, zero, zero, zero
    s1_l, s2_l, s1_r, s2_r = zero, zero, zero, zero
    t1_l, t2_l, t1_r, t2_r = zero, zero, zero, zero
    n = x.shape[1]
    for start in range(0, n, block):
        for i in range(start, min(n, start + block)):
            vl, vr = x[0, i], x[1, i]
            if hp:
                ol, orr = vl * hb0 + h_l, vr * hb0 + h_r
                h_l, h_r = vl * hb1 - ol * ha1, vr * hb1 - orr * ha1
                vl, vr = ol, orr
            if lp:
                ol, orr = vl * lb0 + l_l, vr * lb0 + l_r
                l_l, l_r = vl * lb1 - ol * la1, vr * lb1 - orr * la1
                vl, vr = ol, orr
            if ls:
                ol, orr = vl * sb0 + s1_l, vr * sb0 + s1_r
                s1_l, s1_r = vl * sb1 - ol * sa1 + s2_l, vr * sb1 - orr * sa1 + s2_r
                s2_l, s2_r = vl * sb2 - ol * sa2, vr * sb2 - orr * sa2
                vl, vr = ol, orr
            if hs:
                ol, orr = vl * tb0 + t1_l, vr * tb0 + t1_r
                t1_l, t1_r = vl * tb1 - ol * ta1 + t2_l, vr * tb1 - orr * ta1 + t2_r
                t2_l, t2_r = vl * tb2 - ol * ta2, vr * tb2 - orr * ta2
                vl, vr = ol, orr
            out[0, i], out[1, i] = vl, vr
        h_l, h_r, l_l, l_r = _snap(h_l), _snap(h_r), _snap(l_l), _snap(l_r)
        s1_l, s2_l, s1_r, s2_r = _snap(s1_l), _snap(s2_l), _snap(s1_r), _snap(s2_r)
        t1_l, t2_l, t1_r, t2_r = _snap(t1_l), _snap(t2_l), _snap(t1_r), _snap(t2_r)
