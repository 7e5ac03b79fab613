"""Atomic file writes: a temporary file in the target's directory, fsync, then ``os.replace``.

A reader sees the old file or the new one, never half of one, and a failure leaves no partial or temporary file:
:func:`write_files_atomic` puts back the files it had already replaced.
Every writer of finished artefacts (audio, MIDI, sidecars, keys, exports) goes through here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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


def write_files_atomic(files: Mapping[Path, bytes], mode: int = DEFAULT_MODE, *, durable: bool = True) -> None:
    """Writes several files all or nothing.

    Each file is staged beside its target first, and fsynced unless ``durable`` is False (for scratch files that
    are thrown away after use, which a crash loses whether or not they were synced). A target that already exists
    keeps a second name (a hard link, or a copy where the file system has none) until every rename is done, so
    when one rename fails the targets this call already replaced get their old bytes back and those it created are
    removed. On success the backups are deleted.
    """
    staged: list[tuple[str, Path]] = []
    backups: dict[Path, str] = {}
    placed: list[Path] = []
    try:
        for path, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
        for tmp, path in staged:
            if os.path.lexists(path) and not path.is_dir():
                backups[path] = _backup(path)
            os.replace(tmp, path)
            placed.append(path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        _roll_back(placed, backups)
        raise
    for backup in backups.values():
        Path(backup).unlink(missing_ok=True)


def _backup(path: Path) -> str:
    """A second name for the file now at ``path``, in the same directory: a hard link, else a copy."""
    fd, backup = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bak", dir=path.parent)
    os.close(fd)
    os.unlink(backup)  # mkstemp reserved a fresh name; link() needs it free
    try:
        try:
            os.link(path, backup, follow_symlinks=False)
        except OSError:  # no hard links on this file system (some network and FUSE mounts): keep a copy
            shutil.copy2(path, backup, follow_symlinks=False)
    except BaseException:
        Path(backup).unlink(missing_ok=True)
        raise
    return backup


def _roll_back(placed: list[Path], backups: Mapping[Path, str]) -> None:
    """Puts back the old file of each replaced target, removes the targets this call created, drops the backups.

    Best effort, so that the error that caused the roll-back is the one raised: a backup that cannot be put back
    stays beside its target rather than being lost.
    """
    for path in reversed(placed):
        with contextlib.suppress(OSError):
            if path in backups:
                os.replace(backups[path], path)
            else:
                path.unlink(missing_ok=True)
    for path, backup in backups.items():
        if path not in placed:
            with contextlib.suppress(OSError):
                Path(backup).unlink(missing_ok=True)
