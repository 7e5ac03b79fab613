"""Ray fan-out: one result row per request, failures isolated, GPUs only when present, killed actors retried."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_core import identity
from maestro_core.storage import TrackStore
from maestro_pipeline.fanout import (
    BATCHES_PER_ACTOR,
    MAX_AUTO_BATCH,
    FanoutConfig,
    GeneratorActor,
    _one_row_per_request,
    actor_resources,
    batch_rows,
    choose_batch_size,
    fan_out,
    longest_first,
    pool_stats,
    run_generation,
    tail_batch_sizes,
)
from maestro_pipeline.tables import RESULT_TABLE, WORK_TABLE
from maestro_pipeline.worker import WorkerSpec

DAY = "2026-11-15"


def request(ordinal: int, *, genre: str = "house", mood: str = "energetic", melody: str | None = None,
            tempo: int = 122, duration: int = 5) -> dict:
    rid = identity.request_id("prm_test", DAY, ordinal)
    return {"REQUEST_ID": rid, "RUN_ID": "test_run", "PROMPT_ID": "prm_test", "PLAYLIST_ID": None,
            "ORDINAL": ordinal, "SEED": identity.seed_for(rid), "TRACK_ID": identity.track_id(rid, "test"),
            "ISRC": f"ZZMAE26{ordinal + 1:05d}", "GENRE": genre, "MOOD": mood,
            "KEY_PHRASES": json.dumps(["night drive", "neon rain"]), "TEMPO_BPM": tempo, "MUSICAL_KEY": "A minor",
            "DURATION_S": duration, "MELODY_SEED_ASSET_ID": None, "MELODY_URI": melody, "ASSETS": "[]",
            "LICENSE_IDS": "[]", "RUN_CONTEXT": "{}", "DESCRIPTORS": None}  # None: the worker computes them


@pytest.fixture
def spec(tmp_path: Path) -> WorkerSpec:
    from maestro_core.config import load_settings
    from maestro_core.signing_keys import default_keys_dir, init_keys

    home = tmp_path / "home"
    init_keys(default_keys_dir(load_settings(home=home)))
    return WorkerSpec(storage_url=f"file://{tmp_path}/tracks", settings={"home": str(home)},
                      scratch_dir=str(tmp_path / "scratch"))


def test_gpu_is_requested_only_when_the_cluster_has_one():
    config = FanoutConfig(cpus_per_actor=0.5)
    assert actor_resources({"CPU": 2.0}, config) == {"num_cpus": 0.5}
    assert actor_resources({"CPU": 16.0, "GPU": 1.0}, config) == {"num_gpus": 1.0}


def test_batch_dicts_and_arrow_batches_give_the_same_rows():
    table = pa.Table.from_pylist([request(0), request(1)], schema=WORK_TABLE)
    numpy_batch = {name: np.array(table[name].to_pylist(), dtype=object) for name in table.column_names}
    assert batch_rows(numpy_batch) == batch_rows(table) == table.to_pylist()


def test_actor_without_ray_isolates_a_corrupt_seed_and_a_broken_field(spec, tmp_path):
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    rows = [request(0), request(1, melody=str(corrupt)), {**request(2), "SEED": "not-a-number"}]
    batch = {name: np.array([r[name] for r in rows], dtype=object) for name in WORK_TABLE.names}
    out = GeneratorActor(spec)(batch).to_pylist()
    assert [r["REQUEST_ID"] for r in out] == [r["REQUEST_ID"] for r in rows]
    assert out[0]["STATUS"] == "generated" and out[0]["URI"].endswith(f"house/{rows[0]['TRACK_ID']}.wav")
    assert out[1]["STATUS"] == "failed" and out[1]["ERROR_CLASS"] and "melody" in out[1]["ERROR_MESSAGE"].lower()
    assert out[2]["STATUS"] == "failed" and out[2]["ERROR_CLASS"] == "InputError" and "SEED" in out[2]["ERROR_MESSAGE"]
    store = TrackStore(spec.storage_url)
    assert store.list("house") == sorted(f"house/{rows[0]['TRACK_ID']}.{ext}"
                                         for ext in ("wav", "mid", "wav.provenance.json", "manifest.json"))


def test_ray_pool_returns_one_row_per_request_and_a_bad_genre_does_not_sink_it(ray_cluster, spec):
    rows = [request(0), request(1, genre="polka-metal"), request(2, tempo=90, mood="dark")]
    table = pa.Table.from_pylist(rows, schema=WORK_TABLE)
    out = run_generation(table, dataclasses.replace(spec, qc=False), FanoutConfig(pool_size=2, batch_size=1))
    by_id = {r["REQUEST_ID"]: r for r in out.to_pylist()}
    assert set(by_id) == {r["REQUEST_ID"] for r in rows}
    assert by_id[rows[1]["REQUEST_ID"]]["STATUS"] == "failed"
    assert "genre" in by_id[rows[1]["REQUEST_ID"]]["ERROR_MESSAGE"].lower()
    assert [by_id[r["REQUEST_ID"]]["STATUS"] for r in (rows[0], rows[2])] == ["generated", "generated"]


class DiesOnceMidBatch(GeneratorActor):
    """Kills its own process (SIGKILL) right after the first request of a batch is stored, once per marker file:
    the worker dies mid-batch with side effects already made."""

    def __call__(self, batch):
        marker = Path(self.worker.spec.scratch_dir) / "killed-once"
        rows = batch_rows(batch)
        first = self.worker.process(rows[0])
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(str(self.pid()))
            os.kill(self.pid(), signal.SIGKILL)
        rest = [self.worker.process(r) for r in rows[1:]]
        return pa.Table.from_pylist([first, *rest], schema=RESULT_TABLE)


def test_killed_actor_is_restarted_and_nothing_is_written_twice(ray_cluster, spec):
    rows = [request(10), request(11), request(12)]
    table = pa.Table.from_pylist(rows, schema=WORK_TABLE)
    spec = dataclasses.replace(spec, qc=False)  # the subject is restarts; QC has its own tests
    out = run_generation(table, spec, FanoutConfig(pool_size=1, batch_size=3), actor_cls=DiesOnceMidBatch)
    killed_pid = int((Path(spec.scratch_dir) / "killed-once").read_text())
    results = out.to_pylist()
    assert sorted(r["REQUEST_ID"] for r in results) == sorted(r["REQUEST_ID"] for r in rows)
    assert all(r["STATUS"] == "generated" for r in results)
    first_id = longest_first(table)["REQUEST_ID"][0].as_py()  # the batch goes out longest first, then by id
    first = next(r for r in results if r["REQUEST_ID"] == first_id)
    # The retry found the first request's files in storage and wrote nothing for it.
    assert first["RESUMED"] and first["OBJECTS_WRITTEN"] == 0
    assert all(not r["WORKER"].endswith(f":{killed_pid}") for r in results)
    store = TrackStore(spec.storage_url)
    assert len(store.list("house")) == 4 * len(rows) and list(store.temporary_objects()) == []


def planned(ordinal: int, **changes) -> dict:
    """A request as planning hands it on: the key phrases' descriptors computed once, in the driver."""
    from inference.descriptors import phrase_descriptors

    row = request(ordinal, **changes)
    return {**row, "DESCRIPTORS": json.dumps(phrase_descriptors(json.loads(row["KEY_PHRASES"])).to_dict())}


def test_planned_descriptors_render_the_same_audio_as_descriptors_computed_in_the_worker(spec, tmp_path):
    unsigned = dataclasses.replace(spec, sign=False, qc=False)  # signatures are not byte-reproducible
    with_descriptors = GeneratorActor(dataclasses.replace(unsigned, storage_url=f"file://{tmp_path}/planned"))
    computing = GeneratorActor(dataclasses.replace(unsigned, storage_url=f"file://{tmp_path}/computed"))
    row = planned(20)
    given = with_descriptors(pa.Table.from_pylist([row], schema=WORK_TABLE)).to_pylist()[0]
    inside = computing(pa.Table.from_pylist([{**row, "DESCRIPTORS": None}], schema=WORK_TABLE)).to_pylist()[0]
    assert given["STATUS"] == inside["STATUS"] == "generated"
    assert given["FILE_SHA256"] == inside["FILE_SHA256"]
    assert json.loads(given["TRACK_ROW"])["TITLE"] == json.loads(inside["TRACK_ROW"])["TITLE"]


def test_a_worker_delivers_the_engines_bytes_and_reads_the_file_back_only_from_an_engine_that_keeps_none(
        spec, tmp_path, monkeypatch):
    import hashlib

    unsigned = dataclasses.replace(spec, sign=False)  # stored bytes are then the engine's bytes exactly
    written: dict[str, str] = {}

    def spoil_scratch(result):  # the scratch copy is overwritten after the engine wrote it: never read back
        written["sha256"] = hashlib.sha256(result.audio_path.read_bytes()).hexdigest()
        result.audio_path.write_bytes(b"not audio")
        return result

    def keep_no_bytes(result):
        return dataclasses.replace(result, audio_bytes=None)

    def keep_no_bytes_and_spoil(result):
        return spoil_scratch(keep_no_bytes(result))

    rows = {}
    for name, hook in (("kept", spoil_scratch), ("read", keep_no_bytes), ("spoilt", keep_no_bytes_and_spoil)):
        actor = GeneratorActor(dataclasses.replace(unsigned, storage_url=f"file://{tmp_path}/{name}"))
        engine = actor.worker.engine  # the process's one engine: each case hooks its results, then unhooks
        with monkeypatch.context() as patch:
            patch.setattr(engine, "generate", lambda request, out_dir, hook=hook, real=engine.generate:
                          hook(real(request, out_dir)))
            rows[name] = actor(pa.Table.from_pylist([planned(40)], schema=WORK_TABLE)).to_pylist()[0]
    assert rows["kept"]["STATUS"] == rows["read"]["STATUS"] == "generated"
    assert rows["kept"]["FILE_SHA256"] == rows["read"]["FILE_SHA256"] == written["sha256"]
    spoilt = rows["spoilt"]
    assert spoilt["STATUS"] == "failed" and spoilt["ERROR_CLASS"] == "InputError"
    assert json.loads(spoilt["REASONS"])[0]["field"] == "audio_path"
    assert str(tmp_path / "scratch") in spoilt["ERROR_MESSAGE"]  # the file read back is named


@pytest.mark.parametrize("descriptors", ['{"energy": ', '[0.5, 0.5]', '{"energy": 7}'])
def test_malformed_descriptors_fail_only_their_request_naming_the_field(spec, descriptors):
    rows = [{**request(30), "DESCRIPTORS": descriptors}, planned(31)]
    out = GeneratorActor(dataclasses.replace(spec, qc=False))(pa.Table.from_pylist(rows, schema=WORK_TABLE))
    bad, good = out.to_pylist()
    assert bad["STATUS"] == "failed" and bad["ERROR_CLASS"] == "InputError"
    assert json.loads(bad["REASONS"])[0]["field"].lower() == "descriptors"  # the worker's or the engine's name
    assert good["STATUS"] == "generated"


# A worker process as a Ray actor runs it: build, render one planned request, report what got imported.
_ACTOR_SIDE = """
import json, sys
import pyarrow as pa
from maestro_pipeline.fanout import GeneratorActor
from maestro_pipeline.tables import WORK_TABLE
from maestro_pipeline.worker import WorkerSpec
args = json.loads(sys.argv[1])
actor = GeneratorActor(WorkerSpec(**args["spec"]))
row = actor(pa.Table.from_pylist([args["request"]], schema=WORK_TABLE)).to_pylist()[0]
print(json.dumps({"status": row["STATUS"], "error": row["ERROR_MESSAGE"],
                  "text_stack": sorted(m for m in ("torch", "sentence_transformers") if m in sys.modules)}))
"""


def test_a_worker_renders_planned_requests_without_loading_the_text_model(spec):
    args = {"spec": dataclasses.asdict(spec), "request": planned(40)}
    out = subprocess.run([sys.executable, "-c", _ACTOR_SIDE, json.dumps(args)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["status"] == "generated", report["error"]
    assert report["text_stack"] == []


# Batches that fill the pool: batch size from requests and actors, longest first, results independent of order.

@given(requests=st.integers(0, 200_000), actors=st.integers(1, 256), more=st.integers(0, 10_000))
@settings(max_examples=300, deadline=None)
def test_chosen_batch_size_gives_every_actor_batches_and_never_shrinks_as_requests_grow(requests, actors, more):
    size = choose_batch_size(requests, actors)
    assert 1 <= size <= MAX_AUTO_BATCH
    batches = -(-requests // size)
    assert batches >= min(requests, actors * BATCHES_PER_ACTOR)  # no actor is left without work
    assert choose_batch_size(requests + more, actors) >= size


def test_a_large_run_gets_full_batches_and_a_small_one_batches_of_one():
    assert choose_batch_size(10_000, 2) == MAX_AUTO_BATCH
    assert choose_batch_size(6, 2) == 1


@given(requests=st.integers(0, 50_000), actors=st.integers(1, 64), largest=st.integers(1, 64))
@settings(max_examples=300, deadline=None)
def test_tail_batches_cover_every_request_and_shrink_to_one_at_the_end(requests, actors, largest):
    sizes = tail_batch_sizes(requests, actors, largest)
    assert sum(sizes) == requests
    assert all(1 <= size <= largest for size in sizes)
    assert sizes == sorted(sizes, reverse=True)  # never growing along the run
    if requests:
        assert sizes[-1] == 1  # the run ends on a single request, whatever its size
    if requests >= 2 * actors * largest:
        assert sizes[0] == largest  # the bulk still goes in full batches
    # behind every batch there is enough work to keep the other actors busy while it runs
    for i, size in enumerate(sizes):
        assert sum(sizes[i + 1:]) >= (2 * actors - 1) * (size - 1)


def test_a_catalog_day_ends_on_single_requests_and_starts_on_full_batches():
    sizes = tail_batch_sizes(680, 2, 16)
    assert sizes[:10] == [16] * 10 and sizes[-4:] == [1, 1, 1, 1]
    assert len(sizes) < 680 // 16 + 20  # the tail adds a handful of batches, not hundreds


def _work(ordinal: int, duration: int) -> dict:
    return {**request(ordinal, duration=duration), "DESCRIPTORS": None}


@given(st.lists(st.integers(5, 900), min_size=1, max_size=40), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_longest_requests_go_first_in_an_order_set_by_the_rows_alone(durations, rnd):
    rows = [_work(i, d) for i, d in enumerate(durations)]
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    first = longest_first(pa.Table.from_pylist(rows, schema=WORK_TABLE))
    second = longest_first(pa.Table.from_pylist(shuffled, schema=WORK_TABLE))
    assert first.equals(second)
    ordered = first["DURATION_S"].to_pylist()
    assert ordered == sorted(durations, reverse=True)
    assert sorted(first["REQUEST_ID"].to_pylist()) == sorted(r["REQUEST_ID"] for r in rows)


def _result(rid: str, seconds: float) -> dict:
    return {**dict.fromkeys(RESULT_TABLE.names), "REQUEST_ID": rid, "STATUS": "generated", "RESUMED": False,
            "T_GENERATE_S": seconds, "T_QC_S": seconds / 4, "T_SIGN_STORE_S": 0.0}


def test_results_are_the_same_table_whichever_actor_finished_first():
    rows = [_result(identity.request_id("prm_test", DAY, i), 0.1 * i) for i in range(20)]
    arrival = [rows[i] for i in (7, 3, 19, 0, 11, 2, 5, 18, 1, 4, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17)]
    first = _one_row_per_request(pa.Table.from_pylist(rows, schema=RESULT_TABLE))
    second = _one_row_per_request(pa.Table.from_pylist(arrival, schema=RESULT_TABLE))
    assert first.equals(second)
    assert first["REQUEST_ID"].to_pylist() == sorted(r["REQUEST_ID"] for r in rows)


def test_idle_share_is_the_actor_seconds_not_spent_on_requests():
    results = pa.Table.from_pylist([_result("a", 4.0), _result("b", 2.0)], schema=RESULT_TABLE)  # 7.5 s busy
    stats = pool_stats(results, actors=2, batches=2, batch_size=1, wall_s=5.0, first_result_s=1.0)
    assert stats.busy_s == pytest.approx(7.5) and stats.idle_share == pytest.approx(0.25)
    assert pool_stats(results, 1, 2, 1, wall_s=1.0, first_result_s=0.5).idle_share == 0.0  # clamped, never < 0


class SleepyActor(GeneratorActor):
    """No engine: answers each request after sleeping 10 ms per requested second, shortest batches first to finish
    (so results arrive out of request order), and reports that time as its generate time."""

    def __init__(self, spec):
        self.spec = spec

    def __call__(self, batch):
        import time

        rows = batch_rows(batch)
        seconds = 0.01 * sum(r["DURATION_S"] for r in rows)
        time.sleep(seconds)
        return pa.Table.from_pylist([_result(r["REQUEST_ID"], 0.01 * r["DURATION_S"]) for r in rows],
                                    schema=RESULT_TABLE)


def test_a_pool_run_returns_results_sorted_by_request_and_reports_its_idle_share(ray_cluster, spec):
    rows = [_work(i, d) for i, d in enumerate([5, 60, 5, 30, 5, 90, 5, 5, 45, 5, 15, 5])]
    run = fan_out(pa.Table.from_pylist(rows, schema=WORK_TABLE), spec, FanoutConfig(pool_size=2),
                  actor_cls=SleepyActor)
    assert run.results["REQUEST_ID"].to_pylist() == sorted(r["REQUEST_ID"] for r in rows)
    assert run.stats.batch_size == choose_batch_size(len(rows), 2) and run.stats.batches == len(rows)
    assert run.stats.busy_s == pytest.approx(1.25 * 0.01 * sum(r["DURATION_S"] for r in rows))
    assert 0.0 <= run.stats.idle_share < 1.0 and run.stats.wall_s >= run.stats.first_result_s > 0


class LoggingActor(SleepyActor):
    """A SleepyActor that appends each request id it takes to a file in the scratch dir, in the order taken."""

    def __call__(self, batch):
        with open(Path(self.spec.scratch_dir) / "order.txt", "a") as fh:
            fh.writelines(f"{r['REQUEST_ID']}\n" for r in batch_rows(batch))
        return super().__call__(batch)


def test_one_actor_takes_the_batches_longest_first_and_the_pool_gives_its_cpus_back(ray_cluster, spec):
    import time

    rows = [_work(i, d) for i, d in enumerate([5, 60, 5, 30, 90, 15])]
    table = pa.Table.from_pylist(rows, schema=WORK_TABLE)
    Path(spec.scratch_dir).mkdir(parents=True, exist_ok=True)
    run = fan_out(table, spec, FanoutConfig(pool_size=1, batch_size=2), actor_cls=LoggingActor)
    assert run.stats.batches == 3 and run.results.num_rows == len(rows)
    taken = (Path(spec.scratch_dir) / "order.txt").read_text().split()
    assert taken == longest_first(table)["REQUEST_ID"].to_pylist()
    deadline = time.monotonic() + 20.0  # the actor is killed after the run; its CPU share comes back
    while ray_cluster.available_resources().get("CPU", 0.0) < ray_cluster.cluster_resources()["CPU"]:
        assert time.monotonic() < deadline, "the fan-out's actors still hold CPUs after it returned"
        time.sleep(0.2)
