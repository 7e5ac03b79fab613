"""Stage tables between pipeline tasks: Parquet objects under deterministic keys ``_runs/<run_id>/<stage>.parquet``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from maestro_core.errors import InputError
from maestro_core.storage import StorageError, StoredObject, TrackStore, track_path
from maestro_pipeline.staging import RUNS_PREFIX, delivered_fingerprint, read_stage, stage_path, write_stage
from maestro_pipeline.tables import REQUEST_TABLE, RESULT_TABLE, empty_row, request_row

RUN = "maestro_catalog_generation__2026-11-15"


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TrackStore:
    if request.param == "file":
        return TrackStore(f"file://{tmp_path}/store")
    return TrackStore(f"memory://staging-{uuid.uuid4().hex[:12]}")


def _requests() -> pa.Table:
    return pa.Table.from_pylist([
        request_row(REQUEST_ID="req_1", RUN_ID=RUN, PROMPT_ID="prm_1", ORDINAL=0, SEED=2**40 + 3, GENRE="house",
                    MOOD="energetic", KEY_PHRASES='["warehouse", "späte Nacht"]', TEMPO_BPM=124, DURATION_S=30,
                    STATUS="planned", REASONS="[]"),
        request_row(REQUEST_ID="req_2", RUN_ID=RUN, PROMPT_ID="prm_2", ORDINAL=1, SEED=7, STATUS="rejected",
                    REASONS='[{"code": "blocked_term", "message": "x"}]'),
    ], schema=REQUEST_TABLE)


def _results() -> pa.Table:
    row = {**empty_row(RESULT_TABLE), "REQUEST_ID": "req_1", "TRACK_ID": "trk_1", "STATUS": "generated",
           "RESUMED": False, "OBJECTS_WRITTEN": 4, "T_GENERATE_S": 1.25, "WORKER": "w-1"}
    return pa.Table.from_pylist([row], schema=RESULT_TABLE)


def _recording_puts(store: TrackStore, monkeypatch: pytest.MonkeyPatch) -> list[StoredObject]:
    """Makes ``store`` remember the outcome of every put_bytes."""
    outcomes: list[StoredObject] = []
    original = store.put_bytes

    def put_bytes(key: str, data: bytes) -> StoredObject:
        outcome = original(key, data)
        outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(store, "put_bytes", put_bytes)
    return outcomes


# --- keys --------------------------------------------------------------------------------------------------------

def test_stage_path_is_runs_slash_run_id_slash_stage_parquet() -> None:
    assert stage_path(RUN, "gated") == f"_runs/{RUN}/gated.parquet"
    assert RUNS_PREFIX == "_runs"


def test_each_run_and_stage_has_its_own_path() -> None:
    keys = {stage_path(run, name) for run in ("run_a", "run_b") for name in ("planned", "gated")}
    assert keys == {"_runs/run_a/planned.parquet", "_runs/run_a/gated.parquet", "_runs/run_b/planned.parquet",
                    "_runs/run_b/gated.parquet"}


@pytest.mark.parametrize("run_id", ["../../etc", "a/b", "..x", "/abs/path", "run id with spaces", ".hidden"])
def test_a_hostile_run_id_becomes_one_safe_segment_under_runs(run_id: str) -> None:
    key = stage_path(run_id, "gated")
    parts = key.split("/")
    assert len(parts) == 3 and parts[0] == "_runs" and parts[2] == "gated.parquet"
    assert parts[1] and not parts[1].startswith(".") and parts[1] != ".."
    assert all(ch.isalnum() or ch in "._-" for ch in parts[1])


def test_a_hostile_stage_name_cannot_leave_the_run_folder() -> None:
    key = stage_path(RUN, "../../other_run/gated")
    parts = key.split("/")
    assert len(parts) == 3 and parts[:2] == ["_runs", RUN] and parts[2].endswith(".parquet")


@pytest.mark.parametrize("run_id", ["", "..", "...", "///", "-"])
def test_a_run_id_with_no_usable_characters_is_refused_naming_run_id(run_id: str) -> None:
    with pytest.raises(InputError) as err:
        stage_path(run_id, "gated")
    assert err.value.field == "run_id"


@pytest.mark.parametrize("name", ["", "..", "/"])
def test_a_stage_name_with_no_usable_characters_is_refused_naming_stage(name: str) -> None:
    with pytest.raises(InputError) as err:
        stage_path(RUN, name)
    assert err.value.field == "stage"


def test_hostile_ids_never_write_outside_the_store_root(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = TrackStore(f"file://{root}")
    key = write_stage(store, "../../escaped", "../gated", _requests())
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(root in p.parents for p in written)
    assert read_stage(store, key).equals(_requests())


# --- writes and reads ---------------------------------------------------------------------------------------------

def test_write_stage_returns_the_stage_path_and_stores_the_object(store: TrackStore) -> None:
    key = write_stage(store, RUN, "gated", _requests())
    assert key == stage_path(RUN, "gated")
    assert store.exists(key)


@pytest.mark.parametrize("make", [_requests, _results])
def test_round_trip_preserves_schema_and_rows(store: TrackStore, make: Callable[[], pa.Table]) -> None:
    table = make()
    back = read_stage(store, write_stage(store, RUN, "stage", table))
    assert back.schema.equals(table.schema)
    assert back.to_pylist() == table.to_pylist()


def test_round_trip_preserves_the_schema_of_an_empty_table(store: TrackStore) -> None:
    empty = REQUEST_TABLE.empty_table()
    back = read_stage(store, write_stage(store, RUN, "gated", empty))
    assert back.num_rows == 0 and back.schema.equals(REQUEST_TABLE)


def test_stages_of_one_run_and_of_different_runs_do_not_overwrite_each_other(store: TrackStore) -> None:
    requests, results = _requests(), _results()
    gated = write_stage(store, RUN, "gated", requests)
    other_run = write_stage(store, "other_run", "gated", results)
    same_run = write_stage(store, RUN, "results", results)
    assert len({gated, other_run, same_run}) == 3
    assert read_stage(store, gated).equals(requests)
    assert read_stage(store, other_run).equals(results) and read_stage(store, same_run).equals(results)


def test_writing_the_same_table_twice_is_a_noop(store: TrackStore, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = _recording_puts(store, monkeypatch)
    write_stage(store, RUN, "gated", _requests())
    before = store.fingerprint()
    write_stage(store, RUN, "gated", _requests())
    assert [o.written for o in outcomes] == [True, False]
    assert outcomes[0].sha256 == outcomes[1].sha256
    assert store.fingerprint() == before


def test_writing_the_same_table_twice_keeps_the_stored_file(tmp_path: Path) -> None:
    store = TrackStore(f"file://{tmp_path}/store")
    key = write_stage(store, RUN, "gated", _requests())
    path = tmp_path / "store" / key
    before = path.stat()
    write_stage(store, RUN, "gated", _requests())
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_writing_a_different_table_to_a_stage_replaces_it(store: TrackStore) -> None:
    key = write_stage(store, RUN, "gated", _requests())
    first = store.sha256(key)
    smaller = _requests().slice(0, 1)
    assert write_stage(store, RUN, "gated", smaller) == key
    assert store.sha256(key) != first
    assert read_stage(store, key).to_pylist() == smaller.to_pylist()


def test_writes_leave_no_temporary_objects(store: TrackStore) -> None:
    write_stage(store, RUN, "gated", _requests())
    write_stage(store, RUN, "gated", _requests())
    write_stage(store, RUN, "gated", _requests().slice(0, 1))
    assert list(store.temporary_objects()) == []
    assert store.list(RUNS_PREFIX) == [stage_path(RUN, "gated")]


def test_reading_a_stage_that_was_never_written_is_a_storage_error(store: TrackStore) -> None:
    with pytest.raises(StorageError, match="no such object"):
        read_stage(store, stage_path(RUN, "never_written"))


# --- delivered objects --------------------------------------------------------------------------------------------

def test_delivered_fingerprint_leaves_out_stage_tables(store: TrackStore) -> None:
    track = track_path("house", "trk_1", "wav")
    store.put_bytes(track, b"RIFF....WAVE")
    write_stage(store, RUN, "gated", _requests())
    delivered = delivered_fingerprint(store)
    assert delivered == {track: store.sha256(track)}
    assert stage_path(RUN, "gated") in store.fingerprint()


def test_delivered_fingerprint_is_unchanged_by_writing_stage_tables(store: TrackStore) -> None:
    store.put_bytes(track_path("house", "trk_1", "wav"), b"RIFF....WAVE")
    before = delivered_fingerprint(store)
    write_stage(store, RUN, "gated", _requests())
    write_stage(store, "another_run", "results", _results())
    assert delivered_fingerprint(store) == before


def test_delivered_fingerprint_keeps_objects_whose_names_only_start_like_the_runs_prefix(store: TrackStore) -> None:
    key = track_path("_runs-archive", "trk_1", "wav")
    store.put_bytes(key, b"audio")
    assert key in delivered_fingerprint(store)
