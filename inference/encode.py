"""Encoding and atomic file writes: 16-bit WAV or FLAC with title, genre and tempo tags, byte-stable.

Files are written to a temporary name in the target directory and renamed into place (``os.replace``), so a
reader never sees a partial file and a failure leaves nothing behind. No timestamps are embedded.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}
_TAGS = ("title", "artist", "genre", "comment", "software", "album")


def encode_audio(pcm: np.ndarray, sample_rate: int, audio_format: str, tags: Mapping[str, str]) -> bytes:
    """int16 ``pcm`` of shape ``(frames, channels)`` as WAV or FLAC bytes, tagged.

    WAV carries RIFF INFO tags (title, artist, genre, comment, software); FLAC carries Vorbis comments, with the
    tempo also as the conventional ``BPM`` comment.

    Args:
        pcm: int16 samples.
        sample_rate: Hz.
        audio_format: ``'wav'`` or ``'flac'``.
        tags: any of title, artist, genre, comment, software, album; plus ``bpm`` (FLAC only, else in comment).
    """
    import soundfile

    container, subtype = FORMATS[audio_format]
    buffer = io.BytesIO()
    level = 0.0 if audio_format == "flac" else None  # fastest FLAC level: the encode stage is in the budget
    with soundfile.SoundFile(buffer, "w", samplerate=sample_rate, channels=pcm.shape[1], format=container,
                             subtype=subtype, compression_level=level) as out:
        for name in _TAGS:
            if tags.get(name):
                setattr(out, name, str(tags[name])[:250])
        out.write(pcm)
    data = buffer.getvalue()
    if audio_format == "flac" and tags.get("bpm"):
        data = _flac_bpm(data, str(tags["bpm"]))
    return data


def _flac_bpm(data: bytes, bpm: str) -> bytes:
    from mutagen.flac import FLAC

    buffer = io.BytesIO(data)
    tagged = FLAC(buffer)
    tagged["BPM"] = bpm
    buffer.seek(0)
    tagged.save(buffer, padding=lambda info: 0)
    return buffer.getvalue()


def write_atomic(files: Mapping[Path, bytes]) -> None:
    """Write every ``path -> bytes`` through a temporary file and ``os.replace``; all or nothing.

    If any write fails, the temporary files are removed and files renamed into place by this call are deleted.

    Raises:
        OSError: the directory is not writable (the caller names the field).
    """
    staged: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        for path, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
            placed.append(path)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        for path in placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise
