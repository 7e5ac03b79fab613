"""Review thumbnails: a waveform and a spectrogram PNG per track, rendered once and cached in the TrackStore, and
the royalty payouts chart as an SVG string (no CDN, no script: the page works offline).

Thumbnails are 480 x 120 px. The waveform draws the min/max envelope of the mono mix per pixel column (never every
sample); the spectrogram is a log-frequency (40 Hz to 5.5 kHz) magnitude image of the mono mix resampled to
11025 Hz, at most 480 frames. The same audio always gives the same PNG bytes (no timestamp or software tag is
written), so a re-render is a no-op in the store. matplotlib (Agg, no pyplot) is imported only when rendering.
"""

from __future__ import annotations

import html
import io
import logging
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from maestro_core.errors import InputError
from maestro_core.storage import TrackStore, safe_segment

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

REVIEW_PREFIX = "review"
WIDTH_PX, HEIGHT_PX, DPI = 480, 120, 100
SPECTROGRAM_RATE_HZ = 11025  # what the spectrogram is computed at: enough for a thumbnail, 4x less work
SPECTROGRAM_FFT = 512  # samples per frame at 11025 Hz (46 ms); 257 bins of 21.5 Hz
SPECTROGRAM_BANDS = 120  # log-spaced rows, one per pixel
SPECTROGRAM_MIN_HZ = 40.0
DYNAMIC_RANGE_DB = 80.0
WAVE_COLOR, BACKGROUND = "#2b6cb0", "#ffffff"


def image_keys(track_id: str) -> dict[str, str]:
    """The store keys of a track's thumbnails: ``{"waveform": "review/<id>/waveform.png", "spectrogram": ...}``."""
    base = f"{REVIEW_PREFIX}/{safe_segment(track_id, 'track_id')}"
    return {"waveform": f"{base}/waveform.png", "spectrogram": f"{base}/spectrogram.png"}


def ensure_images(store: TrackStore, track_id: str, audio_key: str) -> dict[str, str]:
    """Renders the track's thumbnails unless they are already stored; returns :func:`image_keys`.

    Only missing images are rendered (the audio is read once for them); each is written atomically, and two
    concurrent calls write identical bytes, so either wins harmlessly.

    Args:
        store: where the audio is and the images go.
        track_id: names the images' keys.
        audio_key: the stored audio's key (``store.key_of(TRACKS.URI)``).

    Raises:
        StorageError: the audio is missing, or a write failed.
        InputError: naming ``audio_key`` when the stored bytes are not audio.
    """
    keys = image_keys(track_id)
    missing = {kind: key for kind, key in keys.items() if not store.exists(key)}
    if not missing:
        return keys
    mono, rate = _mono(store.read_bytes(audio_key), audio_key)
    for kind, key in missing.items():
        store.put_bytes(key, RENDERERS[kind](mono, rate))
    log.debug("review images rendered", extra={"track": track_id, "images": sorted(missing)})
    return keys


def render_waveform(mono: np.ndarray, rate: int) -> bytes:
    """A 480 x 120 PNG of the min/max envelope of ``mono`` (float samples in [-1, 1]) per pixel column."""
    import numpy as np

    del rate  # the envelope is per column, whatever the rate
    columns = min(WIDTH_PX, max(1, mono.size))
    edges = np.linspace(0, mono.size, columns + 1).astype(np.int64)
    lows = np.minimum.reduceat(mono, edges[:-1]) if mono.size else np.zeros(1)
    highs = np.maximum.reduceat(mono, edges[:-1]) if mono.size else np.zeros(1)
    fig, ax = _figure()
    x = np.arange(lows.size)
    ax.fill_between(x, lows, highs, color=WAVE_COLOR, linewidth=0.6, edgecolor=WAVE_COLOR)
    ax.axhline(0.0, color=WAVE_COLOR, linewidth=0.4, alpha=0.5)
    ax.set_xlim(0, max(lows.size - 1, 1))
    ax.set_ylim(-1.0, 1.0)
    return _png(fig)


def render_spectrogram(mono: np.ndarray, rate: int) -> bytes:
    """A 480 x 120 PNG of the log-frequency magnitude spectrogram (dB, 80 dB range) of ``mono`` at 11025 Hz."""
    image = _log_spectrogram(_resampled(mono, rate, SPECTROGRAM_RATE_HZ))
    fig, ax = _figure()
    ax.imshow(image, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
              vmin=-DYNAMIC_RANGE_DB, vmax=0.0, extent=(0, 1, 0, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return _png(fig)


RENDERERS: dict[str, Callable[[Any, int], bytes]] = {"waveform": render_waveform,
                                                     "spectrogram": render_spectrogram}


def payouts_chart_svg(payouts: Sequence[tuple[str, str, Decimal]]) -> str:
    """Total paid per period (``YYYY-MM``) per currency as an SVG line chart, one line per currency.

    Each currency is scaled to its own maximum (amounts in different currencies are not comparable); the legend
    names each currency with its largest period total. Every label is escaped.

    Args:
        payouts: (period, currency, total paid) rows, any order.

    Returns:
        A standalone ``<svg>`` element (640 x 240), with a "no payouts yet" text when ``payouts`` is empty.
    """
    width, height, left, right, top, bottom = 640, 240, 48, 16, 16, 48
    periods = sorted({p for p, _, _ in payouts})
    currencies = sorted({c for _, c, _ in payouts})
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="payouts-chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="Total paid per period and currency">',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>']
    if not periods:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="14" '
                     'fill="#555555">no payouts yet</text></svg>')
        return "".join(parts)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(periods) - 1, 1)
    x_of = {p: left + (i * step if len(periods) > 1 else plot_w / 2) for i, p in enumerate(periods)}
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
                 'stroke="#999999"/>')
    for p in periods:
        parts.append(f'<text x="{x_of[p]:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11" '
                     f'fill="#333333">{html.escape(p)}</text>')
    for i, currency in enumerate(currencies):
        color = _PALETTE[i % len(_PALETTE)]
        totals = {p: Decimal(a) for p, c, a in payouts if c == currency}
        top_total = max(totals.values())
        scale = float(top_total) if top_total > 0 else 1.0
        points = [(x_of[p], top + plot_h - plot_h * float(totals[p]) / scale) for p in periods if p in totals]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        for (x, y), p in zip(points, [p for p in periods if p in totals], strict=True):
            label = html.escape(f"{p} {currency} {totals[p]:,.2f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{label}</title></circle>')
        parts.append(f'<text x="{left + 8 + 150 * i}" y="{height - 8}" font-size="12" fill="{color}">'
                     f'{html.escape(currency)} (max {top_total:,.2f})</text>')
    parts.append("</svg>")
    return "".join(parts)


_PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#4a5568")


# -- internals -----------------------------------------------------------------------------------------------------
def _mono(data: bytes, audio_key: str) -> tuple[np.ndarray, int]:
    """(float32 mono mix, sample rate in Hz) of stored audio bytes."""
    import numpy as np
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:
        raise InputError("audio_key", f"{audio_key!r} is not readable audio: {exc}") from None
    return np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), int(rate)


def _resampled(mono: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``mono`` at ``target`` Hz (polyphase, anti-aliased); unchanged when already at or below it."""
    if rate <= target:
        return mono
    from scipy.signal import resample_poly

    common = math.gcd(rate, target)
    return resample_poly(mono, target // common, rate // common).astype("float32")


def _log_spectrogram(mono: np.ndarray) -> np.ndarray:
    """(120 log-spaced bands from 40 Hz to Nyquist) x (at most 480 frames) magnitudes in dB re the loudest cell,
    clipped to -80 dB."""
    import numpy as np

    n = SPECTROGRAM_FFT
    if mono.size < n:
        mono = np.pad(mono, (0, n - mono.size))
    frames = min(WIDTH_PX, 1 + (mono.size - n) // (n // 4))  # hops of at least a quarter frame
    starts = np.linspace(0, mono.size - n, frames).astype(np.int64)
    windows = mono[starts[:, None] + np.arange(n)[None, :]] * np.hanning(n).astype(np.float32)
    power = np.abs(np.fft.rfft(windows, axis=1)) ** 2  # frames x (n/2 + 1)
    freqs = np.fft.rfftfreq(n, 1.0 / SPECTROGRAM_RATE_HZ)
    edges = np.geomspace(SPECTROGRAM_MIN_HZ, SPECTROGRAM_RATE_HZ / 2, SPECTROGRAM_BANDS + 1)
    band = np.clip(np.searchsorted(edges, freqs, side="right") - 1, -1, SPECTROGRAM_BANDS)
    inside = (band >= 0) & (band < SPECTROGRAM_BANDS)
    bands = np.zeros((frames, SPECTROGRAM_BANDS))
    np.add.at(bands.T, band[inside], power[:, inside].T)
    # Bands narrower than one FFT bin receive none: give each the nearest bin's power instead.
    centres = np.sqrt(edges[:-1] * edges[1:])
    nearest = np.clip(np.rint(centres / (SPECTROGRAM_RATE_HZ / n)).astype(np.int64), 0, freqs.size - 1)
    empty = ~np.isin(np.arange(SPECTROGRAM_BANDS), band[inside])
    bands[:, empty] = power[:, nearest[empty]]
    db = 10.0 * np.log10(np.maximum(bands, 1e-12))
    db -= db.max()
    return np.clip(db, -DYNAMIC_RANGE_DB, 0.0).T


def _figure() -> tuple[Any, Any]:
    """A bare 480 x 120 px figure (Agg canvas, no pyplot, no axes, no margins) and its one axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.set_facecolor(BACKGROUND)
    return fig, ax


def _png(fig: Any) -> bytes:
    """The figure as PNG bytes with no metadata (no Software tag, no time): the same figure, the same bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
