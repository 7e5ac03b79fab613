"""QC's filter banks come from a cache on disk: the same numbers as designing them, and no librosa import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from inference.qc import banks

REPO = Path(__file__).resolve().parents[1]


def _tone_and_clicks(seconds: float = 6.0, sr: int = 11025) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    clicks = (np.mod(t, 0.5) < 0.01) * 0.5
    return (0.3 * np.sin(2 * np.pi * 220.0 * t) + clicks).astype(np.float32)


def test_a_cached_bank_is_the_designed_one_and_is_designed_once(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(banks.CACHE_ENV, str(tmp_path))
    calls = []
    tmp_path = tmp_path / "maestro"

    def design() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"weights": np.linspace(0.0, 1.0, 7, dtype=np.float32), "size": np.array(7)}

    first = banks.cached_bank("test", {"n": 7}, design)
    again = banks.cached_bank("test", {"n": 7}, design)
    assert len(calls) == 1 and len(list(tmp_path.glob("qc-test-*.npz"))) == 1
    assert again.keys() == first.keys()
    assert all(again[k].dtype == first[k].dtype and np.array_equal(again[k], first[k]) for k in first)
    banks.cached_bank("test", {"n": 8}, design)  # other parameters, another bank
    assert len(calls) == 2


def test_an_unwritable_or_corrupt_cache_still_gives_the_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(banks.CACHE_ENV, str(blocker))
    assert banks.cached_bank("test", {}, lambda: {"x": np.arange(3)})["x"].tolist() == [0, 1, 2]
    monkeypatch.setenv(banks.CACHE_ENV, str(tmp_path))
    banks.cached_bank("test", {}, lambda: {"x": np.arange(3)})
    next((tmp_path / "maestro").glob("qc-test-*.npz")).write_bytes(b"truncated")
    assert banks.cached_bank("test", {}, lambda: {"x": np.arange(4)})["x"].tolist() == [0, 1, 2, 3]


def test_cache_dir_follows_the_environment(tmp_path: Path) -> None:
    assert banks.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "maestro"
    assert banks.cache_dir({}) == Path.home() / ".cache" / "maestro"


def test_measuring_with_a_warm_cache_never_imports_librosa(tmp_path: Path) -> None:
    # Two fresh processes: the first designs the banks (importing librosa), the second only reads them, and both
    # measure the same chroma and onset envelope to the last bit.
    script = textwrap.dedent(f"""
        import hashlib, sys
        import numpy as np
        sys.path.insert(0, {str(REPO)!r})
        from inference.qc.chroma import chroma_cqt
        from inference.qc.tempo import onset_envelope
        t = np.arange(6 * 11025) / 11025
        y = (0.3 * np.sin(2 * np.pi * 220.0 * t) + (np.mod(t, 0.5) < 0.01) * 0.5).astype(np.float32)
        digest = hashlib.sha256(chroma_cqt(y, 11025, 1024).tobytes() + onset_envelope(y, 11025, 128, 1024).tobytes())
        print(digest.hexdigest(), "librosa" in sys.modules)
    """)
    env = {"XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    first, second = (subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                                    check=True, timeout=300).stdout.split() for _ in range(2))
    assert first[1] == "True" and second == [first[0], "False"]


def test_numpy_onset_envelope_and_downsampling_are_librosas_numbers() -> None:
    import librosa

    from inference.qc import tempo
    from inference.qc.chroma import downsample
    from inference.qc.spectrum import stft
    from inference.qc.tempo import _mel_bank, autocorrelate, onset_envelope

    noisy = _tone_and_clicks(61.3) + np.random.default_rng(3).normal(0.0, 0.05, int(61.3 * 11025)).astype(np.float32)
    assert 1 + len(noisy) // 128 > 2 * tempo.ONSET_BLOCK_FRAMES  # three blocks, the last one short
    for signal in (_tone_and_clicks(), noisy):
        # librosa's onset strength of the whole mel power spectrum, against ours, reduced a block at a time
        log_mel = librosa.power_to_db(_mel_bank(11025, 1024) @ (np.abs(stft(signal, 1024, 128)) ** 2))
        theirs = librosa.onset.onset_strength(S=log_mel, sr=11025, hop_length=128, n_fft=1024)
        assert np.array_equal(onset_envelope(signal, 11025, 128, 1024), theirs)
    y = _tone_and_clicks()
    for factor in (2, 4):
        expected = librosa.resample(y, orig_sr=factor, target_sr=1, res_type="soxr_hq", scale=True)
        assert np.array_equal(downsample(y, factor), expected)
    envelope = theirs.astype(np.float64) - theirs.mean()
    np.testing.assert_allclose(autocorrelate(envelope, 300), librosa.autocorrelate(envelope, max_size=300),
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(("samples", "block_frames"), [(11025 * 6, 64), (2048 * 128 - 1, 2048), (2048 * 128, 2048),
                                                       (11025 * 30 + 7, 2048), (5000, 4096)])
def test_the_stft_in_blocks_is_the_whole_stft_column_for_column(samples: int, block_frames: int) -> None:
    from inference.qc.spectrum import stft, stft_blocks

    y = np.random.default_rng(samples).normal(0.0, 0.3, samples).astype(np.float32)
    whole = stft(y, 1024, 128)
    blocks = list(stft_blocks(y, 1024, 128, block_frames))
    assert [start for start, _ in blocks] == list(range(0, whole.shape[1], block_frames))
    assert all(block.dtype == np.complex64 for _, block in blocks)
    assert np.array_equal(np.concatenate([block for _, block in blocks], axis=1), whole)
