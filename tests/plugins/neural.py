"""Session fixtures for the neural engines: one tiny random MusicGen checkpoint per test session.

The checkpoint has the real classes and MusicGen-small's shape (32 kHz EnCodec, 50 frames/s, 4 codebooks, T5
text encoder) but a few layers and small widths, so its audio is noise: tests built on it check mechanics
(loading, batching, seeds, windows, files, metadata), not music.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_musicgen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ``MusicgenForConditionalGeneration`` saved with its processor files (weights seed 0)."""
    from inference.neural.testmodel import write_tiny_musicgen

    return write_tiny_musicgen(tmp_path_factory.mktemp("musicgen-tiny"))


@pytest.fixture(scope="session")
def tiny_musicgen_melody_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random ``MusicgenMelodyForConditionalGeneration`` with its processor files."""
    from inference.neural.testmodel import write_tiny_musicgen

    return write_tiny_musicgen(tmp_path_factory.mktemp("musicgen-melody-tiny"), melody=True)


@pytest.fixture(scope="session")
def musicgen_engine(tiny_musicgen_dir: Path) -> Any:
    """The tiny MusicGen on CPU with short windows (2 s, 0.5 s overlap) so a 5 s track has three windows."""
    import torch

    from inference.neural.musicgen import MusicGenEngine

    # On a shared 2-core machine torch's two intra-op threads spin against each other (measured 30x slower).
    torch.set_num_threads(1)
    return MusicGenEngine(model_path=tiny_musicgen_dir, allow_cpu=True, batch_size=4, window_s=2.0, overlap_s=0.5)
