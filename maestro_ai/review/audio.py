"""HTTP range responses for stored audio (RFC 9110 section 14): what ``<audio>`` needs to seek.

Bytes come from the :class:`~maestro_core.storage.TrackStore` by key, in chunks (local disk or S3 alike); the key
is always the one the warehouse holds for a track id, never a path from the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse

from maestro_core.storage import TrackStore

CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg"}


class RangeNotSatisfiable(Exception):
    """The Range header is well formed but asks for bytes outside the object."""


@dataclass(frozen=True)
class ByteRange:
    """Inclusive byte positions ``start..end`` of an object of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range a ``Range`` header asks for, or None to send the whole object.

    ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last n bytes) are served; an end past the object is cut to
    its last byte. Headers of another unit, several ranges or bad syntax are ignored, as RFC 9110 allows.

    Raises:
        RangeNotSatisfiable: the first position lies past the end, the range is inverted, or a suffix of 0 bytes.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(0, size - n), size - 1, size)
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(header)
    return ByteRange(start, end, size)


def _chunks(store: TrackStore, key: str, start: int, length: int) -> Iterator[bytes]:
    position, remaining = start, length
    while remaining > 0:
        step = min(CHUNK_BYTES, remaining)
        data = store.read_range(key, position, step)
        if not data:
            return
        yield data
        position += len(data)
        remaining -= len(data)


def audio_response(store: TrackStore, key: str, range_header: str | None, headers: dict[str, str]) -> Response:
    """200 with the whole object, 206 with the asked range, or 416 when the range lies outside it.

    Args:
        store: where the audio lies.
        key: the object's key (from the warehouse's URI of the track).
        range_header: the request's ``Range`` header, if any.
        headers: extra headers (caching) for the response.
    """
    size = store.size(key)
    media_type = MEDIA_TYPES.get(key.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    base = {"Accept-Ranges": "bytes", **headers}
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**base, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        return StreamingResponse(_chunks(store, key, 0, size), media_type=media_type,
                                 headers={**base, "Content-Length": str(size)})
    return StreamingResponse(_chunks(store, key, wanted.start, wanted.length), status_code=206, media_type=media_type,
                             headers={**base, "Content-Length": str(wanted.length),
                                      "Content-Range": f"bytes {wanted.start}-{wanted.end}/{size}"})
