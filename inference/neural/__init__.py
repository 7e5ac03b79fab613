"""Neural engines: MusicGen (transformers) and Stable Audio Open (diffusers), loaded from local checkpoints.

Nothing here imports torch, transformers or diffusers at module import time: the engines import them in their
constructors, so listing engines (``inference.engine.ENGINES``) and parsing DAGs stay cheap.

* :mod:`inference.neural.base`: the shared engine shell (checkpoint checks, batching with OOM back-off,
  per-item seeds, prompt building, post-processing through tempo/key correction, mastering and encoding).
* :mod:`inference.neural.musicgen`: ``MusicGenEngine`` (text-to-music, and melody-conditioned hybrid mode).
* :mod:`inference.neural.stable_audio`: ``StableAudioEngine``.
* :mod:`inference.neural.stitch`, :mod:`inference.neural.correct`: window stitching and tempo/key correction.
* :mod:`inference.neural.testmodel`: tiny random checkpoints for tests and GPU-node smoke tests.
"""

from __future__ import annotations

MUSICGEN = "musicgen"
STABLE_AUDIO = "stable-audio"

__all__ = ["MUSICGEN", "STABLE_AUDIO"]
