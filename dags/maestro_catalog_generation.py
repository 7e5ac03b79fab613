"""
### Maestro catalog generation

Daily. A **preflight** task first checks the warehouse, the store, the signing keys and the engine's assets, and
fails at once (no retries, nothing written) naming the setting at fault. The **logical date is the run date**:
prompts active in `PROMPT_CATALOG` are planned into requests with deterministic ids and seeds, gated on rights
(rejections recorded with reasons), generated on Ray in **shards** (a mapped task per shard; workers run QC, sign
C2PA manifests and store the audio), then loaded in one MERGE transaction (TRACKS, TRACK_PROVENANCE,
ROYALTY_SPLITS, request statuses) and the run is closed with counts.

**One Ray per DAG run.** With `MAESTRO_RAY_ADDRESS` empty, the `start_ray` setup task starts one local Ray head
(loopback address, sized to the machine) and hands its address to every `generate` task through XCom; the
`stop_ray` teardown stops it, even when the run fails. With `MAESTRO_RAY_ADDRESS` set, every task joins that
cluster and nothing is started.

**Unpausing** the DAG runs it for the latest complete day at once (`catchup=False`: earlier days are not
back-filled); `MAESTRO_CATALOG_SCHEDULE=none` makes it run only when triggered. **Re-running a date**: clear it
(`airflow tasks clear maestro_catalog_generation -s DATE -e DATE -y`); a second trigger for the same logical date
is refused by Airflow. Re-running a date changes nothing; an interrupted run re-run ends where an uninterrupted
one would.
XComs carry ids and storage keys only. Snowflake credentials come from the `maestro_snowflake` connection when
it exists. Params: `duration_s` (override every track's length), `shard_size`, `pool_size`, `batch_size`,
`gpu_batch_size` (a GPU engine's requests per model call, e.g. `MAESTRO_ENGINE=musicgen`), and the
**failure budget** `failure_budget_pct` / `failure_budget_first_n`: a shard or run over it (e.g. every request
failing alike) closes the run `failed` with the reason and fails its task, instead of a green run of failed rows.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from airflow.sdk import Param, dag

from maestro_pipeline.dag_wiring import default_args, generation_tasks

DAG_ID = "maestro_catalog_generation"
# Deployment knobs (environment, read when the DAG file is parsed): "none" runs the DAG only when triggered.
SCHEDULE = os.environ.get("MAESTRO_CATALOG_SCHEDULE", "@daily")


@dag(
    dag_id=DAG_ID,
    schedule=None if SCHEDULE.lower() in ("", "none") else SCHEDULE,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["maestro", "generation"],
    doc_md=__doc__,
    params={
        "duration_s": Param(None, type=["null", "integer"], minimum=5, maximum=900),
        # Each shard is one mapped task with its own actor pool (a pool start costs seconds, docs/scale.md), and
        # a DAG run maps at most 1024 shards: 256 requests a shard keeps both in bounds up to 262,144 a day.
        "shard_size": Param(256, type="integer", minimum=1),
        "pool_size": Param(2, type="integer", minimum=1),
        # The failure budget (null: MAESTRO_FAILURE_BUDGET_PCT / _FIRST_N): over it, the run fails instead of
        # closing green over a batch of failed rows.
        "failure_budget_pct": Param(None, type=["null", "integer"], minimum=0, maximum=100),
        "failure_budget_first_n": Param(None, type=["null", "integer"], minimum=1),
        # null: chosen from the shard's requests and the pool's workers (maestro_pipeline.fanout.choose_batch_size).
        "batch_size": Param(None, type=["null", "integer"], minimum=1),
        # A GPU engine's batch, one model call (null: MAESTRO_GPU_BATCH_SIZE); halved on out-of-memory.
        "gpu_batch_size": Param(None, type=["null", "integer"], minimum=1, maximum=256),
    },
)
def maestro_catalog_generation() -> None:
    generation_tasks(DAG_ID, planner="catalog")


maestro_catalog_generation()
