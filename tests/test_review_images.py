"""Review thumbnails: a waveform and a spectrogram PNG per track, rendered once from the stored audio, cached under
deterministic keys, byte-identical for the same audio; and the server-rendered payouts chart."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from decimal import Decimal

import numpy as np
import pytest
import soundfile as sf

from maestro_core.errors import InputError
from maestro_core.storage import StorageError, TrackStore
from maestro_pipeline import review_images as ri

RATE = 44100


def _wav(seconds: float = 3.0, tone_hz: float = 440.0, silent_first_half: bool = False) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    mono = 0.5 * np.sin(2 * np.pi * tone_hz * t)
    if silent_first_half:
        mono[: mono.size // 2] = 0.0
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([mono, mono], axis=1), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _chunks(data: bytes) -> list[bytes]:
    names, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        names.append(data[at + 4:at + 8])
        at += 12 + length
    return names


@pytest.fixture
def store() -> TrackStore:
    store = TrackStore(f"memory://review-images-{uuid.uuid4().hex[:8]}")
    store.put_bytes("house/trk-1.wav", _wav(silent_first_half=True))
    return store


def test_the_thumbnails_are_480x120_pngs_stored_under_the_track_keys(store):
    keys = ri.ensure_images(store, "trk-1", "house/trk-1.wav")
    assert keys == ri.image_keys("trk-1") == {"waveform": "review/trk-1/waveform.png",
                                              "spectrogram": "review/trk-1/spectrogram.png"}
    for key in keys.values():
        assert _png_size(store.read_bytes(key)) == (ri.WIDTH_PX, ri.HEIGHT_PX)
    assert list(store.temporary_objects()) == []


def test_a_second_call_renders_nothing_and_a_lost_image_is_rendered_alone(store, monkeypatch):
    keys = ri.ensure_images(store, "trk-1", "house/trk-1.wav")
    spectrogram = store.read_bytes(keys["spectrogram"])
    calls: list[str] = []

    def counting(kind):
        real = ri.RENDERERS[kind]
        return lambda mono, rate: calls.append(kind) or real(mono, rate)

    monkeypatch.setattr(ri, "RENDERERS", {kind: counting(kind) for kind in ri.RENDERERS})
    assert ri.ensure_images(store, "trk-1", "house/trk-1.wav") == keys and calls == []
    store.delete(keys["waveform"])
    ri.ensure_images(store, "trk-1", "house/trk-1.wav")
    assert calls == ["waveform"] and store.read_bytes(keys["spectrogram"]) == spectrogram


def test_the_same_audio_gives_the_same_bytes_with_no_timestamp_or_software_tag(store):
    first = {k: store.read_bytes(v) for k, v in ri.ensure_images(store, "trk-1", "house/trk-1.wav").items()}
    again = TrackStore(f"memory://review-images-{uuid.uuid4().hex[:8]}")
    again.put_bytes("house/trk-1.wav", store.read_bytes("house/trk-1.wav"))
    second = {k: again.read_bytes(v) for k, v in ri.ensure_images(again, "trk-1", "house/trk-1.wav").items()}
    assert first == second
    for data in first.values():
        assert b"tIME" not in _chunks(data) and b"matplotlib" not in data.lower()


def test_the_waveform_is_flat_where_the_audio_is_silent_and_full_where_it_plays(store):
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(store.read_bytes(ri.ensure_images(store, "trk-1", "house/trk-1.wav")["waveform"])))
    inked = (pixels[:, :, :3].mean(axis=2) < 0.9).sum(axis=0)  # non-white pixels per column
    half = ri.WIDTH_PX // 2
    assert inked[10:half - 10].max() <= 4  # the zero line only
    assert inked[half + 10:-10].min() >= 0.4 * ri.HEIGHT_PX  # a 0.5 amplitude tone fills about half the height


@pytest.mark.parametrize("tone_hz", [220.0, 1000.0, 3500.0])
def test_the_spectrogram_puts_a_tone_in_its_log_frequency_band(tone_hz):
    mono = sf.read(io.BytesIO(_wav(2.0, tone_hz)), dtype="float32")[0].mean(axis=1)
    image = ri._log_spectrogram(ri._resampled(mono, RATE, ri.SPECTROGRAM_RATE_HZ))
    assert image.shape[0] == ri.SPECTROGRAM_BANDS and 1 < image.shape[1] <= ri.WIDTH_PX
    edges = np.geomspace(ri.SPECTROGRAM_MIN_HZ, ri.SPECTROGRAM_RATE_HZ / 2, ri.SPECTROGRAM_BANDS + 1)
    loudest = int(np.argmax(image.mean(axis=1)))
    assert edges[loudest] * 0.85 <= tone_hz <= edges[loudest + 1] * 1.15


def test_missing_or_unreadable_audio_is_a_clear_error_and_writes_nothing(store):
    with pytest.raises(StorageError, match="no such object"):
        ri.ensure_images(store, "trk-2", "house/trk-2.wav")
    store.put_bytes("house/trk-3.wav", b"not audio at all")
    with pytest.raises(InputError) as caught:
        ri.ensure_images(store, "trk-3", "house/trk-3.wav")
    assert caught.value.field == "audio_key"
    assert store.list("review") == []


def test_image_keys_of_a_hostile_id_stay_under_review():
    keys = ri.image_keys("../../etc/passwd")
    assert all(k.startswith("review/etc-passwd/") for k in keys.values())


def test_the_payouts_chart_is_one_escaped_svg_line_per_currency():
    payouts = [("2026-10", "USD", Decimal("3.75")), ("2026-11", "USD", Decimal("4")),
               ("2026-10", "<EUR&>", Decimal("0.1"))]
    svg = ri.payouts_chart_svg(payouts)
    root = ET.fromstring(svg)  # well-formed: every label escaped
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert len(root.findall("s:polyline", ns)) == 2
    assert "<EUR&>" not in svg and "&lt;EUR&amp;&gt;" in svg
    assert [t.text for t in root.findall("s:text", ns)][:2] == ["2026-10", "2026-11"]
    titles = [c.findtext("s:title", namespaces=ns) for c in root.findall("s:circle", ns)]
    assert "2026-11 USD 4.00" in titles
    usd = [p for p in root.findall("s:polyline", ns) if p.get("stroke") == ri._PALETTE[1]][0]
    (x1, y1), (x2, y2) = (tuple(map(float, pt.split(","))) for pt in usd.get("points").split())
    assert x1 < x2 and y2 < y1  # more paid in November: the line rises
    assert "no payouts yet" in ri.payouts_chart_svg([])
    ET.fromstring(ri.payouts_chart_svg([]))


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, maestro_pipeline.review_images; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
