"""Mastering: -14 LUFS by pyloudnorm, true peak <= -1 dBTP by an independent meter, no clipping, atomic files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from inference.encode import encode_audio, write_atomic
from inference.master import master
from inference.qc.levels import true_peak

SR = 44100


def _music_like(seconds: float, level: float, seed: int) -> np.ndarray:
    """Decaying tones and clicks: a crest factor like drums and plucks, stereo, channels first."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out = np.zeros((2, n), dtype=np.float32)
    for start in np.arange(0, seconds, 0.25):
        freq = rng.choice([110, 220, 330, 440, 660, 990, 3000])
        idx = slice(int(start * SR), min(n, int((start + 0.5) * SR)))
        tone = np.sin(2 * np.pi * freq * t[idx]) * np.exp(-8 * (t[idx] - start))
        out[0, idx] += tone * rng.uniform(0.3, 1.0)
        out[1, idx] += tone * rng.uniform(0.3, 1.0)
    return out * level


@pytest.mark.parametrize(("level", "seed"), [(0.01, 1), (0.3, 2), (3.0, 3)])
def test_master_hits_minus_14_lufs_and_stays_under_minus_1_dbtp(level: float, seed: int) -> None:
    result = master(_music_like(12, level, seed), SR)
    audio = result.pcm.astype(np.float64) / 32768.0
    measured = pyloudnorm.Meter(SR).integrated_loudness(audio)
    assert abs(measured + 14.0) <= 0.1
    assert result.loudness_lufs == pytest.approx(measured, abs=0.05)
    independent_tp = 20 * np.log10(true_peak(audio.astype(np.float32)))
    assert independent_tp <= -1.0 and result.true_peak_dbtp == pytest.approx(independent_tp, abs=0.01)
    assert int(np.abs(result.pcm.astype(np.int32)).max()) < 32767


def test_silence_cannot_be_normalised() -> None:
    with pytest.raises(ValueError, match="silent"):
        master(np.zeros((2, SR * 2), dtype=np.float32), SR)


def test_master_is_deterministic() -> None:
    audio = _music_like(6, 0.5, 4)
    assert master(audio, SR).pcm.tobytes() == master(audio.copy(), SR).pcm.tobytes()


def test_encoding_is_byte_stable_and_tagged() -> None:
    pcm = master(_music_like(6, 0.5, 5), SR).pcm
    tags = {"title": "Velvet Night", "genre": "jazz", "comment": "bpm=90", "bpm": "90"}
    for fmt in ("wav", "flac"):
        assert encode_audio(pcm, SR, fmt, tags) == encode_audio(pcm, SR, fmt, tags)


def _fail_second_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.replace fails on its second call, as a full disk would, after the first file is in place."""
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr("maestro_core.atomic.os.replace", failing_replace)


def test_failed_write_leaves_no_partial_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_second_rename(monkeypatch)
    with pytest.raises(OSError):
        write_atomic({tmp_path / "a.wav": b"audio", tmp_path / "a.mid": b"midi"})
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "t.wav"
    write_atomic({target: b"first version"})
    write_atomic({target: b"second"})
    assert target.read_bytes() == b"second" and [p.name for p in tmp_path.iterdir()] == ["t.wav"]


def test_scratch_writes_skip_fsync_and_stay_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inference.encode import scratch_writes

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with scratch_writes():
        write_atomic({tmp_path / "s.wav": b"scratch audio", tmp_path / "s.mid": b"scratch midi"})
        write_atomic({tmp_path / "s.wav": b"replaced"})  # an existing file is replaced with a backup, durably
    assert len(synced) == 1 and (tmp_path / "s.wav").read_bytes() == b"replaced"
    synced.clear()
    assert oct((tmp_path / "s.mid").stat().st_mode & 0o777) == oct(0o644)
    write_atomic({tmp_path / "d.wav": b"delivered"})  # outside the block: durable again
    assert synced

    _fail_second_rename(monkeypatch)
    target = tmp_path / "fail"
    target.mkdir()
    with scratch_writes(), pytest.raises(OSError):
        write_atomic({target / "a.wav": b"audio", target / "a.mid": b"midi"})
    assert list(target.iterdir()) == []  # all or nothing, as the durable path
