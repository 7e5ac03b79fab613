"""Encoding and atomic file writes: 16-bit WAV or FLAC with title, genre and tempo tags, byte-stable.

Files are written to a temporary name in the target directory and renamed into place (``os.replace``), so a
reader never sees a partial file and a failure leaves nothing behind. No timestamps are embedded. Inside
:func:`scratch_writes` (a worker's render directory, deleted after each track) the renames stay but the fsyncs go.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from maestro_core.atomic import write_files_atomic

FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}
_TAGS = ("title", "artist", "genre", "comment", "software", "album")
_SCRATCH = contextvars.ContextVar("maestro_scratch_writes", default=False)


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
    """Write every ``path -> bytes`` all or nothing (see :func:`maestro_core.atomic.write_files_atomic`).

    Inside :func:`scratch_writes` the files are still staged and renamed into place, but not fsynced.

    Raises:
        OSError: the directory is not writable (the caller names the field).
    """
    # Replacing a file stays durable even in scratch: its old bytes are what a failure would put back.
    write_files_atomic(files, durable=not _SCRATCH.get() or any(os.path.lexists(path) for path in files))


@contextlib.contextmanager
def scratch_writes() -> Iterator[None]:
    """Within the block, :func:`write_atomic` skips fsync: for files in a scratch directory that is thrown away
    after use (a worker renders each track into one, then stores the delivered copies). An fsync per file is a
    fixed cost of several milliseconds per track; a crash loses the scratch directory whether it ran or not."""
    token = _SCRATCH.set(True)
    try:
        yield
    finally:
        _SCRATCH.reset(token)
