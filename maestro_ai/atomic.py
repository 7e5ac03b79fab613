"""Atomic file writes: a temporary file in the target's directory, fsync, then ``os.replace``.

A reader sees the old file or the new one, never half of one, and a failure leaves no partial or temporary file.
Every writer of finished artefacts (audio, MIDI, sidecars, keys, exports) goes through here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

DEFAULT_MODE = 0o644


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], mode: int = DEFAULT_MODE) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; when the block ends cleanly it is renamed onto ``path``.

    Use it for libraries that write to a path themselves (Parquet, C2PA). ``mode`` is set before the rename.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, mode: int = DEFAULT_MODE) -> Path:
    """Writes ``data`` to ``path`` atomically; ``mode`` is applied before any byte lands (e.g. 0o600 for keys)."""
    write_files_atomic({Path(path): data}, mode)
    return Path(path)


def write_files_atomic(files: Mapping[Path, bytes], mode: int = DEFAULT_MODE) -> None:
    """Writes several files all or nothing: if one fails, those already renamed into place by this call go too."""
    staged: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        for path, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
            placed.append(path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        for path in placed:
            path.unlink(missing_ok=True)
        raise
