"""
### Maestro playlist fill

Hourly. Playlists below `TARGET_TRACKS` get new tracks that match their genre, mood and tempo window: keys walk
the circle of fifths one step at a time and tempos move in small steps, and the new tracks are appended in an
order that keeps neighbours within ~8 % tempo and adjacent keys. Generation takes the same path as catalog
generation (rights gate, Ray shards, QC, C2PA, storage, one MERGE load).

The run is per day (`maestro_playlist_fill__YYYY-MM-DD`): later hours of the same day re-run it, which changes
nothing unless a target grew or a request failed. A playlist is never filled past its target. As in catalog
generation, a preflight task runs first, and a run over its failure budget (`failure_budget_pct`,
`failure_budget_first_n`) fails with the reason instead of closing green.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Param, dag

from maestro_pipeline.dag_wiring import default_args, generation_tasks

DAG_ID = "maestro_playlist_fill"


@dag(
    dag_id=DAG_ID,
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["maestro", "playlists"],
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
    },
)
def maestro_playlist_fill() -> None:
    generation_tasks(DAG_ID, planner="playlist")


maestro_playlist_fill()
