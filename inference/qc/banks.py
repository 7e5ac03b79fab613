"""QC's signal-independent filter banks (mel, constant-Q), designed with librosa once per machine, kept on disk.

Designing a bank takes librosa, and importing librosa is most of a worker's start-up (seconds: scipy.stats,
numba-compiled pitch code, the feature modules), while the banks themselves are a few hundred kB of numbers. So
each bank is stored, as its exact array bytes (``.npz``), under ``$XDG_CACHE_HOME/maestro`` (default
``~/.cache/maestro``; a Docker image can bake them in at build time), named by a digest of its parameters and
of librosa's version: a worker that finds them measures tracks without importing librosa at all. Loaded or
designed, a bank is the same numbers, so measurements do not depend on the cache. A cache that cannot be read
or written is skipped (logged), never an error.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CACHE_ENV = "XDG_CACHE_HOME"
FORMAT_VERSION = 1  # bump when a bank's design changes in this repository


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where banks are kept: ``$XDG_CACHE_HOME/maestro``, else ``~/.cache/maestro`` (the XDG default)."""
    env = os.environ if environ is None else environ
    return Path(env.get(CACHE_ENV) or str(Path.home() / ".cache")).expanduser() / "maestro"


def cached_bank(name: str, params: Mapping[str, Any],
                design: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of bank ``name`` with ``params``: read from the cache, or ``design()``-ed now and stored.

    Args:
        name: the bank's kind, e.g. ``'mel'``.
        params: everything its design depends on (JSON-serialisable); with librosa's version, it names the file.
        design: builds the arrays (may import librosa); called only on a cache miss.
    """
    path = cache_dir() / f"qc-{name}-{_digest(name, params)}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("unreadable QC bank cache %s (%s); designing it again", path, exc)
    arrays = design()
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    try:
        from maestro_core.atomic import write_bytes_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, buffer.getvalue())
    except OSError as exc:
        log.info("QC bank not cached at %s (%s); it is designed again in each process", path, exc)
    return arrays


def _digest(name: str, params: Mapping[str, Any]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        librosa_version = version("librosa")
    except PackageNotFoundError:  # pragma: no cover - librosa is a dependency
        librosa_version = "none"
    key = json.dumps({"bank": name, "params": dict(params), "librosa": librosa_version, "format": FORMAT_VERSION},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]
