"""Track storage through fsspec: deterministic object paths, atomic writes, idempotent re-writes, no escape.

The same code stores audio, MIDI, provenance sidecars and run manifests on a local disk (``file://``, the
default), on S3 or MinIO (``s3://bucket/prefix`` through s3fs) or in memory (``memory://prefix``, for tests).

Invariants:

* A key is built only from sanitised segments (``[A-Za-z0-9._-]``, no leading dot, at most 128 characters), and
  the resolved path is checked to lie under the root, so no title or id can write outside it.
* A write goes to a temporary sibling object first and is then renamed (copied, on S3) into place: readers never
  see half an object.
* Re-writing an object whose size and sha256 already match is a no-op (``StoredObject.written`` is False).
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maestro_core.errors import ConfigError, InputError, MaestroError

log = logging.getLogger(__name__)

_SEGMENT_MAX = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 20  # bytes read per hashing step
TMP_MARKER = ".tmp-"


class StorageError(MaestroError):
    """A storage operation failed; the message names the object URI and the cause. Nothing half-written remains."""


@dataclass(frozen=True)
class StoredObject:
    """The outcome of one write.

    Attributes:
        key: the object's key relative to the storage root (``genre/track_id.wav``).
        uri: the full URI (``file:///...``, ``s3://bucket/prefix/...``).
        sha256: hex digest of the stored bytes.
        size: size in bytes.
        written: False when an identical object was already there and nothing was written.
    """

    key: str
    uri: str
    sha256: str
    size: int
    written: bool


def safe_segment(value: str, field: str = "segment") -> str:
    """Turns any text (title, genre, id) into one safe path segment.

    Characters outside ``[A-Za-z0-9._-]`` become ``-``; leading dots and dashes are dropped so that ``..`` or a
    hidden name cannot result; the segment is cut to 128 characters.

    Raises:
        InputError: when nothing usable remains (the value was empty or only punctuation).
    """
    text = _UNSAFE.sub("-", str(value)).strip("-")
    text = text.lstrip(".-")[:_SEGMENT_MAX].rstrip(".-")
    if not text:
        raise InputError(field, f"{value!r} leaves no usable characters for a storage path")
    return text


def track_path(genre: str, track_id: str, ext: str) -> str:
    """The deterministic key of a track file: ``{genre}/{track_id}.{ext}`` (all segments sanitised)."""
    return f"{safe_segment(genre, 'genre')}/{safe_segment(track_id, 'track_id')}.{safe_segment(ext, 'ext')}"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


class TrackStore:
    """An fsspec-backed object store rooted at one URL.

    Args:
        url: ``file:///abs/path``, ``s3://bucket/prefix`` or ``memory://prefix``.
        storage_options: passed to fsspec (e.g. ``endpoint_url`` and credentials for MinIO). For ``s3://`` the
            usual AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``) are honoured by s3fs.
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        if "://" not in url:
            raise ConfigError("MAESTRO_STORAGE_URL", f"{url!r} has no scheme", "file:///PATH, s3://bucket/prefix, memory://prefix")
        self.url = url.rstrip("/")
        self.protocol = url.split("://", 1)[0]
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise ConfigError("MAESTRO_STORAGE_URL", f"cannot open {url!r}: {exc}",
                              "file:///PATH, s3://bucket/prefix, memory://prefix") from None
        self.root = posixpath.normpath(root.rstrip("/") or "/")
        if self.protocol == "file":
            try:
                Path(self.root).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                blocker = next((p for p in (Path(self.root), *Path(self.root).parents) if p.exists()), None)
                problem = (f"{blocker} is a file, not a directory" if blocker is not None and not blocker.is_dir()
                           else f"cannot create {self.root}: {exc.strerror or exc}")
                raise ConfigError("MAESTRO_STORAGE_URL", problem, "a file:// URL of a writable directory") from None

    # -- paths ---------------------------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        """The backend path of ``key``, verified: every segment already safe, and the result strictly under the root.

        Keys are built with ``track_path``/``safe_segment``; an unsafe key here is a programming or input error.
        """
        parts = [p for p in str(key).split("/") if p]
        if not parts:
            raise InputError("key", "an empty storage key")
        for part in parts:
            if part != _UNSAFE.sub("-", part) or part.startswith(".") or len(part) > _SEGMENT_MAX:
                raise InputError("key", f"{key!r} has an unsafe segment {part!r}; build keys with track_path()")
        path = posixpath.normpath(posixpath.join(self.root, *parts))
        root = self.root.rstrip("/")
        if not path.startswith(root + "/"):
            raise InputError("key", f"{key!r} resolves outside the storage root")
        return path

    def uri(self, key: str) -> str:
        """The full URI of ``key``."""
        path = self._path(key)
        if self.protocol == "file":
            return f"file://{path}"
        return f"{self.protocol}://{path.lstrip('/')}"

    def key_of(self, uri: str) -> str:
        """The key of a URI inside this store (inverse of ``uri``)."""
        prefix = self.uri("x")[:-1]
        if not uri.startswith(prefix):
            raise InputError("uri", f"{uri!r} is not inside the store {self.url!r}")
        key = uri[len(prefix):]
        self._path(key)
        return key

    # -- reads ---------------------------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            raise StorageError(f"{self.uri(key)}: no such object") from None

    def size(self, key: str) -> int:
        """Size of a stored object in bytes.

        Raises:
            StorageError: when there is no such object.
        """
        try:
            return int(self.fs.info(self._path(key))["size"])
        except FileNotFoundError:
            raise StorageError(f"{self.uri(key)}: no such object") from None

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes of an object from byte offset ``start`` (an HTTP range request's body).

        Only the range is read (a seek on local files, a ranged GET on S3). A range reaching past the end is cut
        at the end; one starting at or past the end returns ``b""``.

        Raises:
            InputError: ``start`` or ``length`` negative.
            StorageError: when there is no such object.
        """
        if start < 0 or length < 0:
            raise InputError("range", f"start {start} and length {length} must be >= 0")
        size = self.size(key)  # S3 answers a range starting past the end with an error, not an empty body
        if length == 0 or start >= size:
            return b""
        try:
            return bytes(self.fs.cat_file(self._path(key), start=start, end=min(start + length, size)))
        except FileNotFoundError:
            raise StorageError(f"{self.uri(key)}: no such object") from None

    def sha256(self, key: str) -> str | None:
        """Hex sha256 of a stored object, or None when absent."""
        return self._sha256_path(self._path(key))

    def _sha256_path(self, path: str) -> str | None:
        digest = hashlib.sha256()
        try:
            with self.fs.open(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def list(self, prefix: str = "") -> list[str]:
        """Every object key under ``prefix`` (recursive, sorted), temporary objects included so leaks show."""
        base = self._path(prefix) if prefix else self.root
        try:
            paths = self.fs.find(base)
        except FileNotFoundError:
            return []
        root = self.root.rstrip("/").lstrip("/") + "/"
        return sorted(p.lstrip("/")[len(root):] for p in paths if p.lstrip("/").startswith(root))

    def fingerprint(self, prefix: str = "") -> dict[str, str]:
        """``{key: sha256}`` for every object under ``prefix``: compare two of these to show nothing changed."""
        root = self.root.rstrip("/")
        return {key: self._sha256_path(f"{root}/{key}") or "" for key in self.list(prefix)}

    # -- writes --------------------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Stores ``data`` at ``key`` atomically; a no-op when an identical object is already there."""
        return self._store(key, sha256_bytes(data), len(data), lambda tmp: self.fs.pipe_file(tmp, data))

    def put_file(self, key: str, local_path: str | Path) -> StoredObject:
        """Stores a local file at ``key`` atomically; a no-op when an identical object is already there."""
        local = Path(local_path)
        try:
            size = local.stat().st_size
            digest = _sha256_local(local)
        except OSError as exc:
            raise StorageError(f"{local}: cannot read the file to store ({type(exc).__name__}: {exc})") from None
        return self._store(key, digest, size, lambda tmp: self.fs.put_file(str(local), tmp))

    def _store(self, key: str, digest: str, size: int, write_tmp: Callable[[str], object]) -> StoredObject:
        """Skips an identical object; else writes a temporary object with ``write_tmp`` and commits it."""
        path = self._path(key)
        if self._identical(path, size, digest):
            return StoredObject(key, self.uri(key), digest, size, written=False)
        tmp = self._tmp_path(path)
        try:
            self._makedirs(path)
            write_tmp(tmp)
            self._commit(tmp, path)
        except (OSError, ValueError) as exc:
            self._discard(tmp)
            raise StorageError(f"{self.uri(key)}: write failed ({type(exc).__name__}: {exc})") from exc
        log.debug("stored %s (%d bytes)", self.uri(key), size)
        return StoredObject(key, self.uri(key), digest, size, written=True)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if self.fs.exists(path):
            self.fs.rm_file(path)

    def temporary_objects(self) -> Iterator[str]:
        """Keys of leftover temporary objects (there should be none after any run)."""
        return (k for k in self.list() if TMP_MARKER in posixpath.basename(k))

    # -- internals -----------------------------------------------------------------------------------------
    def _identical(self, path: str, size: int, digest: str) -> bool:
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(
                f"{self.protocol}://{path}: write failed, cannot inspect the target ({type(exc).__name__}: {exc})"
            ) from None
        if int(info.get("size") or 0) != size:
            return False
        return self._sha256_path(path) == digest

    def _tmp_path(self, path: str) -> str:
        head, tail = posixpath.split(path)
        return posixpath.join(head, f".{tail}{TMP_MARKER}{uuid.uuid4().hex[:12]}")

    def _makedirs(self, path: str) -> None:
        if self.protocol == "file":
            self.fs.makedirs(posixpath.dirname(path), exist_ok=True)

    def _commit(self, tmp: str, path: str) -> None:
        # Local files: os.rename is atomic. S3 has no rename: fsspec copies server-side, then deletes the temp.
        self.fs.mv(tmp, path)

    def _discard(self, tmp: str) -> None:
        try:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)
        except OSError:  # pragma: no cover - best effort on an already failing backend
            log.warning("could not remove temporary object %s", tmp)


def _sha256_local(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def open_store(storage_url: str) -> TrackStore:
    """The store named by a settings ``storage_url``; S3 endpoint and keys come from the AWS_* environment."""
    return TrackStore(storage_url)
