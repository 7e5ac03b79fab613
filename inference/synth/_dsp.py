"""Per-sample kernels (numba): the note voice (unison oscillators, ADSR, resonant low-pass) and a swept SVF.

Everything here is compiled once with ``cache=True`` (the machine code lands in ``__pycache__`` and later
processes load it in milliseconds). The oscillators are band-limited with polyBLEP (Välimäki & Huovilainen,
"Antialiasing oscillators in subtractive synthesis", IEEE SPM 2007); the filter is the trapezoidal state-variable
filter of Andrew Simper (Cytomic, "Linear trajectory SVF", 2013), stable under fast cutoff modulation, with its
coefficients refreshed every ``CONTROL_BLOCK`` samples.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

WAVE_SAW = 0
WAVE_SQUARE = 1
WAVE_PULSE = 2
WAVE_SINE = 3
WAVE_TRIANGLE = 4
WAVES = {"saw": WAVE_SAW, "square": WAVE_SQUARE, "pulse": WAVE_PULSE, "sine": WAVE_SINE, "triangle": WAVE_TRIANGLE}
CONTROL_BLOCK = 32  # samples between filter-coefficient targets (~0.7 ms at 44.1 kHz), ramped per sample


@njit(cache=True, fastmath=True, inline="always")
def _blep(t: float, dt: float) -> float:
    """PolyBLEP residual at phase ``t`` (0..1) for a phase step ``dt``; branch-free so voice loops vectorise."""
    a = t / dt
    b = (t - 1.0) / dt
    near_start = a + a - a * a - 1.0
    near_end = b * b + b + b + 1.0
    return near_start if t < dt else (near_end if t > 1.0 - dt else 0.0)


@njit(cache=True, fastmath=True, inline="always")
def _sin2pi(t: float) -> float:
    """sin(2*pi*t) for t in [0, 1): folded odd Taylor polynomial, error < 4e-6."""
    x = t - 0.5
    if x > 0.25:
        x = 0.5 - x
    elif x < -0.25:
        x = -0.5 - x
    y = 6.283185307179586 * x
    y2 = y * y
    s = y * (1.0 - y2 / 6.0 * (1.0 - y2 / 20.0 * (1.0 - y2 / 42.0 * (1.0 - y2 / 72.0))))
    return -s


@njit(cache=True, fastmath=True, inline="always")
def _osc(wave: int, t: float, dt: float, pw: float) -> float:
    """One band-limited oscillator sample at phase ``t``."""
    if wave == 0:
        return 2.0 * t - 1.0 - _blep(t, dt)
    if wave == 3:
        return _sin2pi(t)
    if wave == 4:
        return 4.0 * abs(t - 0.5) - 1.0  # triangle: its harmonics fall at 12 dB/oct, aliasing is negligible
    w = 0.5 if wave == 1 else pw
    v = 1.0 if t < w else -1.0
    t2 = t + 1.0 - w
    if t2 >= 1.0:
        t2 -= 1.0
    return v + _blep(t, dt) - _blep(t2, dt)


@njit(cache=True, fastmath=True, inline="always")
def _adsr_step(env: float, stage: int, i: int, gate_n: int, a_inc: float, d_coef: float, sus: float,
               r_coef: float) -> tuple[float, int]:
    """Advance an ADSR one sample; stage 0 attack, 1 decay/sustain, 2 release."""
    if i == gate_n:
        stage = 2
    if stage == 0:
        env += a_inc
        if env >= 1.0:
            env = 1.0
            stage = 1
    elif stage == 1:
        env = sus + (env - sus) * d_coef
    else:
        env *= r_coef
    return env, stage


@njit(cache=True, fastmath=True)
def _oscillators(xl: np.ndarray, xr: np.ndarray, freqs: np.ndarray, phases: np.ndarray, gain_l: np.ndarray,
                 gain_r: np.ndarray, wave: int, pw: float, sr: float, glide: float = 0.0,
                 glide_n: float = 1.0) -> None:
    """Add the unison oscillators into ``xl``/``xr``.

    Phase is computed in closed form per sample (no loop-carried state), so each voice's loop vectorises. With
    ``glide`` > 0 the pitch starts ``1 + glide`` times higher and falls back exponentially with a time constant of
    ``glide_n`` samples (an 808's pitch drop): phase = f * (i + glide * glide_n * (1 - exp(-i / glide_n))).
    """
    n = xl.shape[0]
    for v in range(freqs.shape[0]):
        dt = freqs[v] / sr
        p0 = phases[v]
        gl = gain_l[v]
        gr = gain_r[v]
        if glide == 0.0 and wave == WAVE_SAW:  # the common cases get their own loops: they vectorise
            for i in range(n):
                t = p0 + i * dt
                t -= math.floor(t)
                s = 2.0 * t - 1.0 - _blep(t, dt)
                xl[i] += gl * s
                xr[i] += gr * s
        elif glide == 0.0 and wave != WAVE_SINE and wave != WAVE_TRIANGLE:  # square, pulse
            w = 0.5 if wave == WAVE_SQUARE else pw
            for i in range(n):
                t = p0 + i * dt
                t -= math.floor(t)
                t2 = t + 1.0 - w
                t2 -= math.floor(t2)
                s = (1.0 if t < w else -1.0) + _blep(t, dt) - _blep(t2, dt)
                xl[i] += gl * s
                xr[i] += gr * s
        elif glide == 0.0:
            for i in range(n):
                t = p0 + i * dt
                t -= math.floor(t)
                s = _osc(wave, t, dt, pw)
                xl[i] += gl * s
                xr[i] += gr * s
        else:
            for i in range(n):
                e = math.exp(-i / glide_n)
                t = p0 + dt * (i + glide * glide_n * (1.0 - e))
                t -= math.floor(t)
                s = _osc(wave, t, dt * (1.0 + glide * e), pw)
                xl[i] += gl * s
                xr[i] += gr * s


@njit(cache=True, fastmath=True)
def render_note(out: np.ndarray, freqs: np.ndarray, phases: np.ndarray, gain_l: np.ndarray, gain_r: np.ndarray,
                wave: int, pw: float, sub: float, noise: np.ndarray, noise_level: float, gate_n: int,
                amp_env: np.ndarray, filt_env: np.ndarray, cutoff_hz: float, env_oct: float, res: float,
                poles: int, drive: float, lfo_hz: float, lfo_oct: float, sr: float, glide: float,
                glide_s: float, legato: bool = False) -> None:
    """Synthesise one note into ``out`` (shape (2, n), zeroed by the caller).

    Args:
        out: float32 (2, n); n covers the gate and the release tail.
        freqs: unison voice frequencies, Hz; phases: their start phases 0..1; gain_l/gain_r: per-voice pan gains.
        wave: a ``WAVE_*`` code; pw: pulse width 0..1 (``WAVE_PULSE``); sub: level of a sine an octave below
            the centre voice.
        noise: white noise of length n (or length 0), mixed at ``noise_level``.
        gate_n: samples the key is held (release starts there).
        amp_env / filt_env: (attack s, decay s, sustain 0..1, release s).
        cutoff_hz: low-pass cutoff with the filter envelope at 0; env_oct: octaves the envelope adds at 1.
        res: resonance 0..1 (self-oscillation near 1); poles: 2 or 4 (12 or 24 dB/oct).
        drive: tanh drive into the filter (0 = clean).
        lfo_hz / lfo_oct: a sine LFO on the cutoff, octaves peak.
        sr: sample rate, Hz.
        glide / glide_s: the pitch starts ``1 + glide`` times higher and falls back with time constant
            ``glide_s`` seconds (0: steady pitch).
        legato: start both envelopes at their sustain level (a slide continues the held note's envelopes).
    """
    n = out.shape[1]
    nv = freqs.shape[0]
    stereo = False
    for v in range(nv):
        if gain_l[v] != gain_r[v]:
            stereo = True
    xl = np.zeros(n)
    xr = np.zeros(n) if stereo else xl
    norm = 1.0 / math.sqrt(nv)
    glide_n = max(1.0, glide_s * sr)
    _oscillators(xl, xr if stereo else np.zeros(n), freqs, phases, gain_l * norm, gain_r * norm, wave, pw, sr,
                 glide, glide_n)
    if sub > 0.0:
        sub_f = np.array([0.5 * freqs[nv // 2]])
        level = np.array([sub])
        _oscillators(xl, xr if stereo else np.zeros(n), sub_f, np.zeros(1), level, level, WAVE_SINE, 0.5, sr,
                     glide, glide_n)
    if noise.shape[0] == n and noise_level > 0.0:
        for i in range(n):
            xl[i] += noise_level * noise[i]
            if stereo:
                xr[i] += noise_level * noise[i]
    if drive > 0.0:
        dn = 1.0 / math.tanh(drive)
        for i in range(n):
            xl[i] = math.tanh(drive * xl[i]) * dn
            if stereo:
                xr[i] = math.tanh(drive * xr[i]) * dn
    _filter_amp(out, xl, xr, stereo, gate_n, amp_env, filt_env, cutoff_hz, env_oct, res, poles, lfo_hz, lfo_oct,
                sr, legato)


@njit(cache=True, fastmath=True, inline="always")
def _coefs(fc: float, k: float, sr: float) -> tuple[float, float, float]:
    """Simper SVF coefficients (a1, a2, a3) for cutoff ``fc`` Hz and damping ``k``."""
    g = math.tan(math.pi * fc / sr)
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    return a1, a2, g * a2


@njit(cache=True, fastmath=True)
def _filter_amp(out: np.ndarray, xl: np.ndarray, xr: np.ndarray, stereo: bool, gate_n: int, amp_env: np.ndarray,
                filt_env: np.ndarray, cutoff_hz: float, env_oct: float, res: float, poles: int, lfo_hz: float,
                lfo_oct: float, sr: float, legato: bool) -> None:
    """The sequential part of a note: both envelopes, the (2- or 4-pole) low-pass, the amplitude."""
    n = out.shape[1]
    a_inc_a = 1.0 / max(1.0, amp_env[0] * sr)
    d_coef_a = math.exp(-4.6 / max(1.0, amp_env[1] * sr))
    r_coef_a = math.exp(-4.6 / max(1.0, amp_env[3] * sr))
    a_inc_f = 1.0 / max(1.0, filt_env[0] * sr)
    d_coef_f = math.exp(-4.6 / max(1.0, filt_env[1] * sr))
    r_coef_f = math.exp(-4.6 / max(1.0, filt_env[3] * sr))
    # A legato note (a slide) picks both envelopes up where a held note would be: no new attack or sweep.
    ea = amp_env[2] if legato else 0.0
    sa = 1 if legato else 0
    ef = filt_env[2] if legato else 0.0
    sf = 1 if legato else 0
    k2 = 2.0 - 2.0 * min(res, 0.995)
    k1 = 1.84776  # first stage of a 4-pole cascade: the low-Q half of a 4th-order Butterworth
    lo_lim = 10.0
    hi_lim = 0.45 * sr
    s1l1 = s1l2 = s1r1 = s1r2 = 0.0
    s2l1 = s2l2 = s2r1 = s2r2 = 0.0
    a1, a2, a3 = _coefs(min(max(cutoff_hz, lo_lim), hi_lim), k2, sr)
    b1, b2, b3 = _coefs(min(max(cutoff_hz, lo_lim), hi_lim), k1, sr)
    da1 = da2 = da3 = db1 = db2 = db3 = 0.0
    lfo_w = lfo_hz / sr
    inv_block = 1.0 / CONTROL_BLOCK
    for i in range(n):
        ea, sa = _adsr_step(ea, sa, i, gate_n, a_inc_a, d_coef_a, amp_env[2], r_coef_a)
        ef, sf = _adsr_step(ef, sf, i, gate_n, a_inc_f, d_coef_f, filt_env[2], r_coef_f)
        if i % CONTROL_BLOCK == 0:
            # Coefficients for the end of this block, reached by a per-sample linear ramp (no zipper noise).
            octs = env_oct * ef
            if lfo_oct != 0.0:
                lt = (i + CONTROL_BLOCK) * lfo_w
                octs += lfo_oct * _sin2pi(lt - math.floor(lt))
            fc = min(max(cutoff_hz * math.exp(0.6931471805599453 * octs), lo_lim), hi_lim)
            t1, t2, t3 = _coefs(fc, k2, sr)
            da1 = (t1 - a1) * inv_block
            da2 = (t2 - a2) * inv_block
            da3 = (t3 - a3) * inv_block
            if poles == 4:
                u1, u2, u3 = _coefs(fc, k1, sr)
                db1 = (u1 - b1) * inv_block
                db2 = (u2 - b2) * inv_block
                db3 = (u3 - b3) * inv_block
        a1 += da1
        a2 += da2
        a3 += da3
        x = xl[i]
        if poles == 4:
            b1 += db1
            b2 += db2
            b3 += db3
            v3 = x - s1l2
            v1 = b1 * s1l1 + b2 * v3
            v2 = s1l2 + b2 * s1l1 + b3 * v3
            s1l1 = 2.0 * v1 - s1l1
            s1l2 = 2.0 * v2 - s1l2
            x = v2
        v3 = x - s2l2
        v1 = a1 * s2l1 + a2 * v3
        v2 = s2l2 + a2 * s2l1 + a3 * v3
        s2l1 = 2.0 * v1 - s2l1
        s2l2 = 2.0 * v2 - s2l2
        yl = v2
        yr = yl
        if stereo:
            x = xr[i]
            if poles == 4:
                v3 = x - s1r2
                v1 = b1 * s1r1 + b2 * v3
                v2 = s1r2 + b2 * s1r1 + b3 * v3
                s1r1 = 2.0 * v1 - s1r1
                s1r2 = 2.0 * v2 - s1r2
                x = v2
            v3 = x - s2r2
            v1 = a1 * s2r1 + a2 * v3
            v2 = s2r2 + a2 * s2r1 + a3 * v3
            s2r1 = 2.0 * v1 - s2r1
            s2r2 = 2.0 * v2 - s2r2
            yr = v2
        out[0, i] = yl * ea
        out[1, i] = yr * ea


@njit(cache=True, fastmath=True)
def svf(x: np.ndarray, cutoff_hz: np.ndarray, res: float, mode: int, sr: float) -> np.ndarray:
    """Run a time-varying SVF over mono ``x``; ``cutoff_hz`` is per sample (same length); mode 0 LP, 1 BP, 2 HP.

    The band-pass output is normalised to unit gain at the centre (Simper's ``k * v1``).
    """
    n = x.shape[0]
    y = np.empty(n, dtype=np.float32)
    k = 2.0 - 2.0 * min(res, 0.995)
    ic1 = 0.0
    ic2 = 0.0
    a1 = a2 = a3 = 0.0
    for i in range(n):
        if i % CONTROL_BLOCK == 0:
            g = math.tan(math.pi * min(max(cutoff_hz[i], 10.0), 0.45 * sr) / sr)
            a1 = 1.0 / (1.0 + g * (g + k))
            a2 = g * a1
            a3 = g * a2
        v0 = x[i]
        v3 = v0 - ic2
        v1 = a1 * ic1 + a2 * v3
        v2 = ic2 + a2 * ic1 + a3 * v3
        ic1 = 2.0 * v1 - ic1
        ic2 = 2.0 * v2 - ic2
        if mode == 0:
            y[i] = v2
        elif mode == 1:
            y[i] = k * v1
        else:
            y[i] = v0 - k * v1 - v2
    return y


@njit(cache=True, fastmath=True)
def square_bank(freqs: np.ndarray, phases: np.ndarray, n: int, sr: float) -> np.ndarray:
    """Mean of band-limited (polyBLEP) squares at ``freqs`` Hz from ``phases`` (0..1); float64 of length ``n``."""
    y = np.zeros(n)
    for v in range(freqs.shape[0]):
        dt = freqs[v] / sr
        p0 = phases[v]
        for i in range(n):
            t = p0 + i * dt
            t -= math.floor(t)
            y[i] += _osc(1, t, dt, 0.5)
    return y / freqs.shape[0]


@njit(cache=True, fastmath=True)
def place(out: np.ndarray, bank: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, which: np.ndarray,
          begins: np.ndarray, ends: np.ndarray, gains: np.ndarray, choked: np.ndarray, fade_n: int) -> None:
    """Add hit ``j`` = ``bank[:, offsets[w]:offsets[w] + lengths[w]]`` (w = ``which[j]``) times ``gains[j]`` into
    ``out`` from ``begins[j]`` up to ``ends[j]``; when ``choked[j]``, the last ``fade_n`` samples fade to zero.

    The plain part of each add runs over contiguous 1-D views, which LLVM vectorises (measured 4x faster than a
    cache-blocked loop over 2-D indices: ~0.4 ns per added sample).
    """
    for j in range(begins.shape[0]):
        w = which[j]
        b = begins[j]
        m = min(ends[j] - b, lengths[w])
        if m <= 0:
            continue
        o = offsets[w]
        g = gains[j]
        f0 = max(0, m - fade_n) if choked[j] else m
        gf = np.float32(g)
        for c in range(2):
            dst = out[c, b:b + f0]
            src = bank[c, o:o + f0]
            for i in range(f0):
                dst[i] += src[i] * gf
            for i in range(f0, m):
                out[c, b + i] += bank[c, o + i] * np.float32(g * (m - i) / fade_n)


@njit(cache=True, fastmath=True)
def partial_bank(freqs: np.ndarray, amps: np.ndarray, decay_s: np.ndarray, phases: np.ndarray, n: int,
                 sr: float) -> np.ndarray:
    """Sum of exponentially decaying sines (a modal cymbal or bell): float64 of length ``n``.

    Each partial runs as a damped rotation (one complex multiply per sample); ``decay_s`` is its time to -40 dB.
    The inner loop runs across partials, which are independent, so it vectorises.
    """
    m = freqs.shape[0]
    cr = np.empty(m)
    ci = np.empty(m)
    re = np.empty(m)
    im = np.empty(m)
    for k in range(m):
        w = 2.0 * math.pi * freqs[k] / sr
        r = math.exp(-4.6 / max(1.0, decay_s[k] * sr))
        cr[k] = r * math.cos(w)
        ci[k] = r * math.sin(w)
        re[k] = amps[k] * math.cos(2.0 * math.pi * phases[k])
        im[k] = amps[k] * math.sin(2.0 * math.pi * phases[k])
    y = np.empty(n)
    for i in range(n):
        acc = 0.0
        for k in range(m):
            a = re[k]
            b = im[k]
            acc += b
            re[k] = a * cr[k] - b * ci[k]
            im[k] = a * ci[k] + b * cr[k]
        y[i] = acc
    return y
