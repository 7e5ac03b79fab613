"""Benchmark: the review app's run page for a run of 1,000 tracks, server side (FastAPI TestClient, DuckDB).

    .venv/bin/python bench/review.py [--tracks 1000] [--repeat 5]

Builds a seeded warehouse holding one run of ``--tracks`` synthetic TRACKS rows (with requests, provenance of
realistic size, two or three splits per track, and a fifth of the tracks already reviewed) straight through the
warehouse: no audio is generated. Then times, best of ``--repeat``:

* the baseline: the bare warehouse query of the same page (:func:`maestro_pipeline.review.run_tracks` on an open
  connection, nothing rendered), and ``GET /healthz`` (the app's fixed cost per request);
* ``GET /runs/{id}`` for page 1 and for a middle page: a fresh connection, the run's summary, the page's
  query and the render of 50 tracks.

Prints each in ms, the page's ratio to the bare query and the verdict against the target: under 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from maestro_core.config import load_settings
from maestro_core.seed import seed_warehouse
from maestro_core.warehouse import Warehouse, connect

TARGET_S = 1.0
RUN_ID = "maestro_catalog_generation__2026-11-25"
DAY = dt.date(2026, 11, 25)
GENRES = [("lofi-chill", "ambient-focus", 72, "C major"), ("house", "energetic", 124, "A minor"),
          ("jazz", "romantic", 96, "Bb major"), ("ambient", "dreamy", 60, "D major")]


def build(wh: Warehouse, tracks: int) -> None:
    """One finished run of ``tracks`` generated tracks, plus 5% refused requests, loaded with one MERGE per table."""
    prompts = [r["PROMPT_ID"] for r in wh.query_file("bench/prompt_ids.sql").to_pylist()]
    holders = [r["HOLDER_ID"] for r in wh.query_file("bench/holder_ids.sql").to_pylist()]
    rng = random.Random(7)
    now = dt.datetime(2026, 11, 25, 12, 0)
    refused = tracks // 20
    requests, rows, provenance, splits, reviews = [], [], [], [], []
    for i in range(tracks + refused):
        request_id = f"req_{i:06d}"
        status = "done" if i < tracks else "rejected"
        reasons = None if i < tracks else json.dumps([{"code": "BLOCKED_TERM", "field": "KEY_PHRASES",
                                                       "message": "a key phrase names an artist"}])
        requests.append({"REQUEST_ID": request_id, "RUN_ID": RUN_ID, "PROMPT_ID": prompts[i % len(prompts)],
                         "PLAYLIST_ID": None, "ORDINAL": i, "SEED": 1000 + i, "STATUS": status, "REASONS": reasons,
                         "UPDATED_AT": now})
        if i >= tracks:
            continue
        genre, mood, tempo, key = GENRES[i % len(GENRES)]
        track_id = f"{i:08d}-5e1c-5b0a-9c7e-{i:012d}"
        rows.append({"TRACK_ID": track_id, "REQUEST_ID": request_id, "ISRC": f"ZZMAE26{i:05d}",
                     "TITLE": f"Velvet Night No. {i}", "URI": f"file:///bench/tracks/{genre}/{track_id}.wav",
                     "SHA256": f"{i:064x}", "DURATION_MS": 180_000, "TEMPO_BPM": tempo * rng.uniform(0.97, 1.03),
                     "MUSICAL_KEY": key, "GENRE": genre, "MOOD": mood, "LOUDNESS_LUFS": rng.uniform(-14.5, -13.5),
                     "CREATED_AT": now})
        document = {"track_id": track_id, "engine": "composer", "engine_version": "0.1.0", "seed": 1000 + i,
                    "params": {"genre": genre, "mood": mood, "tempo_bpm": tempo, "key": key, "duration_s": 180,
                               "sections": ["intro", "A", "B", "break", "A", "outro"]},
                    "extra": {"qc": {"true_peak_dbtp": rng.uniform(-2.0, -1.0),
                                     "warnings": ["tempo drifts 2% late in the track"] if i % 7 == 0 else []}},
                    "license_ids": ["lic_seed_001_ada", "lic_soundfont_timgm"]}
        provenance.append({"TRACK_ID": track_id, "ENGINE": "composer", "ENGINE_VERSION": "0.1.0",
                           "MODEL_IDS": json.dumps(["asset_model_minilm_l6_v2"]), "PARAMS": json.dumps(
                               document["params"]), "SEED": 1000 + i, "INPUTS": json.dumps({"key_phrases": [
                                   "rainy city lights", "velvet night"]}), "LICENSE_IDS": json.dumps(
                               document["license_ids"]), "RUN_ID": RUN_ID, "CODE_VERSION": "0.1.0+bench",
                           "CREATED_AT": now, "AUDIO_SHA256": f"{i:064x}", "AUDIO_FORMAT": "wav",
                           "DURATION_MS": 180_000, "PROVENANCE": json.dumps(document), "PROVENANCE_SHA256": "ab" * 32,
                           "MANIFEST_SIGNED": i % 50 != 0})
        owners = rng.sample(holders, 2 + i % 2)
        shares = [6000, 4000] if len(owners) == 2 else [5000, 3000, 2000]
        splits += [{"TRACK_ID": track_id, "HOLDER_ID": h, "ROLE": "composer" if j == 0 else "licensor",
                    "SHARE_BPS": s} for j, (h, s) in enumerate(zip(owners, shares, strict=True))]
        if i % 5 == 0:
            reviews.append({"TRACK_ID": track_id, "RUN_ID": RUN_ID, "DECISION": "approved" if i % 10 else "held",
                            "REVIEWER": "bench", "NOTE": "", "DECIDED_AT": now})
    run = {"RUN_ID": RUN_ID, "DAG_ID": "maestro_catalog_generation", "LOGICAL_DATE": DAY, "ENGINE": "composer",
           "STARTED_AT": now, "FINISHED_AT": now + dt.timedelta(hours=1), "STATUS": "success",
           "COUNTS": json.dumps({"generated": tracks, "rejected": refused, "tracks": tracks}), "REASON": ""}
    wh.upsert_many({"GENERATION_RUNS": [run], "GENERATION_REQUESTS": requests, "TRACKS": rows,
                    "TRACK_PROVENANCE": provenance, "ROYALTY_SPLITS": splits, "REVIEWS": reviews})


def best_of(repeat: int, work: Callable[[], object]) -> tuple[float, float]:
    """(best, median) wall seconds of ``repeat`` calls, after one warm-up call."""
    work()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from maestro_ai.review import create_app
    from maestro_ai.review.views import PAGE_SIZE
    from maestro_pipeline import review

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home), review_token=SecretStr("b" * 43))
        t0 = time.perf_counter()
        with connect(settings) as wh:
            wh.migrate()
            seed_warehouse(wh)
            build(wh, args.tracks)
        built_s = time.perf_counter() - t0
        pages = -(-args.tracks // PAGE_SIZE)
        middle = max(1, pages // 2)
        client = TestClient(create_app(settings))

        def page(n: int) -> Callable[[], object]:
            def get() -> object:
                r = client.get(f"/runs/{RUN_ID}?page={n}")
                assert r.status_code == 200 and r.text.count('<article class="track"') == min(
                    PAGE_SIZE, args.tracks - (n - 1) * PAGE_SIZE), r.status_code
                return r
            return get

        with connect(settings) as wh:
            query = best_of(args.repeat, lambda: review.run_tracks(wh, RUN_ID, offset=(middle - 1) * PAGE_SIZE,
                                                                   limit=PAGE_SIZE))
        healthz = best_of(args.repeat, lambda: client.get("/healthz"))
        first = best_of(args.repeat, page(1))
        mid = best_of(args.repeat, page(middle))
        runs = best_of(args.repeat, lambda: client.get("/"))
    print(f"run of {args.tracks} tracks ({pages} pages of {PAGE_SIZE}), warehouse built in {built_s:.1f} s; "
          f"best (median) of {args.repeat}")
    print(f"baseline: bare run_tracks() query, one page:  {query[0] * 1e3:8.1f} ms ({query[1] * 1e3:.1f})")
    print(f"baseline: GET /healthz:                      {healthz[0] * 1e3:8.1f} ms ({healthz[1] * 1e3:.1f})")
    worst = 0.0
    for label, (best, median) in (("GET /runs/{id}?page=1", first), (f"GET /runs/{{id}}?page={middle}", mid),
                                  ("GET / (runs page)", runs)):
        worst = max(worst, median)
        print(f"{label + ':':<45}{best * 1e3:8.1f} ms ({median * 1e3:.1f})  x{best / query[0]:.1f} the bare query")
    verdict = "PASS" if worst < TARGET_S else "FAIL"
    print(f"target: run page under {TARGET_S:.0f} s on the server: {verdict} (slowest median {worst * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
