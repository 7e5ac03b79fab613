"""Track storage: deterministic keys, atomic idempotent writes, no escape from the root, on file, memory and S3."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from maestro_core.errors import InputError
from maestro_core.storage import StorageError, TrackStore, safe_segment, track_path


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3 API on loopback (moto's server), reached through s3fs exactly as MinIO would be."""
    moto_server = pytest.importorskip("moto.server", reason="moto[server] provides a local S3 endpoint")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")}
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_ENDPOINT_URL=f"http://{host}:{port}")
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="maestro-test")
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(params=["file", "memory", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return TrackStore(f"file://{tmp_path}/tracks")
    if request.param == "memory":
        return TrackStore(f"memory://maestro-{uuid.uuid4().hex[:8]}")
    request.getfixturevalue("s3_endpoint")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    return TrackStore(f"s3://maestro-test/run-{uuid.uuid4().hex[:8]}")


def test_track_keys_are_deterministic_genre_slash_track_id():
    assert track_path("lofi-chill", "7d1c1e4a-0b8e-5f3a-9d55-1a2b3c4d5e6f", "wav") == (
        "lofi-chill/7d1c1e4a-0b8e-5f3a-9d55-1a2b3c4d5e6f.wav"
    )
    assert track_path("lofi-chill", "abc", "wav") == track_path("lofi-chill", "abc", "wav")


@pytest.mark.parametrize(
    "hostile",
    ["../../etc/passwd", "..", "/abs/path", "a/../../b", "~root", "name\x00null", "C:\\windows\\system32", ".hidden",
     "rainy 'city'; DROP TABLE TRACKS; --", "夜の街 🎧"],
)
def test_nothing_escapes_the_storage_root_whatever_the_id(hostile, tmp_path):
    store = TrackStore(f"file://{tmp_path}/root")
    try:
        key = track_path(hostile, hostile, "wav")
    except InputError as exc:  # nothing usable left: refused, naming the field
        assert exc.field in {"genre", "track_id"}
        return
    stored = store.put_bytes(key, b"x")
    resolved = Path(stored.uri.removeprefix("file://")).resolve()
    assert resolved.is_relative_to((tmp_path / "root").resolve())
    assert "/" not in safe_segment(hostile) and not safe_segment(hostile).startswith(".")


def test_unsafe_raw_keys_are_refused_not_normalised(tmp_path):
    store = TrackStore(f"file://{tmp_path}/root")
    for key in ("../outside.wav", "a/../../x", ".hidden/x", "a/b c"):
        with pytest.raises(InputError, match="key"):
            store.put_bytes(key, b"x")
    assert not (tmp_path / "outside.wav").exists()


def test_write_then_rewrite_identical_object_is_a_noop(store):
    first = store.put_bytes("house/t1.wav", b"RIFF....audio")
    second = store.put_bytes("house/t1.wav", b"RIFF....audio")
    assert first.written and not second.written
    assert first.sha256 == second.sha256 == store.sha256("house/t1.wav")
    assert store.list() == ["house/t1.wav"]


def test_rewrite_with_different_bytes_replaces_atomically_and_leaves_no_temp(store, tmp_path):
    store.put_bytes("house/t1.wav", b"old")
    local = tmp_path / "new.wav"
    local.write_bytes(b"new bytes")
    result = store.put_file("house/t1.wav", local)
    assert result.written and store.read_bytes("house/t1.wav") == b"new bytes"
    assert list(store.temporary_objects()) == []
    assert store.key_of(result.uri) == "house/t1.wav"


def test_fingerprint_shows_unchanged_listing_after_rewrites(store):
    store.put_bytes("a/1.wav", b"1")
    store.put_bytes("b/2.json", b"{}")
    before = store.fingerprint()
    store.put_bytes("a/1.wav", b"1")
    assert store.fingerprint() == before == {"a/1.wav": before["a/1.wav"], "b/2.json": before["b/2.json"]}


def test_failed_write_raises_clear_storage_error_and_leaves_nothing(tmp_path):
    root = tmp_path / "root"
    store = TrackStore(f"file://{root}")
    (root / "jazz").write_bytes(b"a file where the genre directory should be")  # works even as root
    with pytest.raises(StorageError, match=r"jazz/t\.wav: write failed"):
        store.put_bytes("jazz/t.wav", b"data")
    assert list(store.temporary_objects()) == [] and store.list() == ["jazz"]


def test_missing_local_file_is_a_clear_storage_error(tmp_path):
    store = TrackStore(f"file://{tmp_path}/root")
    with pytest.raises(StorageError, match="cannot read the file"):
        store.put_file("a/b.wav", tmp_path / "absent.wav")
