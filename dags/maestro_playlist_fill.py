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

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, setup, task, teardown

DAG_ID = "maestro_playlist_fill"
DEFAULT_ARGS = {
    "owner": "maestro",
    "retries": int(os.environ.get("MAESTRO_TASK_RETRIES", "3")),
    # First retry delay in seconds (doubles each retry); tests shorten it so a failing run fails in seconds.
    "retry_delay": timedelta(seconds=float(os.environ.get("MAESTRO_TASK_RETRY_DELAY_S", "30"))),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id=DAG_ID,
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["maestro", "playlists"],
    doc_md=__doc__,
    params={
        "duration_s": Param(None, type=["null", "integer"], minimum=5, maximum=900),
        "shard_size": Param(16, type="integer", minimum=1),
        "pool_size": Param(2, type="integer", minimum=1),
        # The failure budget (null: MAESTRO_FAILURE_BUDGET_PCT / _FIRST_N): over it, the run fails instead of
        # closing green over a batch of failed rows.
        "failure_budget_pct": Param(None, type=["null", "integer"], minimum=0, maximum=100),
        "failure_budget_first_n": Param(None, type=["null", "integer"], minimum=1),
    },
)
def maestro_playlist_fill():
    @task
    def preflight() -> dict:
        from maestro_ai.pipeline import catalog, tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return catalog.preflight_stage(tasks.run_context(ctx, DAG_ID), tasks.options(ctx["params"]))

    @setup
    def start_ray(checked: dict) -> dict:
        from maestro_ai.pipeline import tasks

        return tasks.start_ray(get_current_context(), DAG_ID)

    @teardown
    def stop_ray(ray: dict) -> None:
        from maestro_ai.pipeline import tasks

        tasks.stop_ray(ray)

    @task
    def open_run(checked: dict) -> str:
        from maestro_ai.pipeline import catalog, tasks

        return catalog.open_stage(tasks.run_context(get_current_context(), DAG_ID))

    @task
    def plan(maestro_run_id: str) -> str:
        from maestro_ai.pipeline import playlist, tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return playlist.plan_stage(tasks.run_context(ctx, DAG_ID), tasks.options(ctx["params"]))

    @task
    def gate(planned_key: str) -> str:
        from maestro_ai.pipeline import catalog, tasks

        with tasks.failing_fast():
            return catalog.gate_stage(tasks.run_context(get_current_context(), DAG_ID), planned_key)

    @task
    def shards(gated_key: str) -> list[dict]:
        from maestro_ai.pipeline import catalog, tasks

        ctx = get_current_context()
        numbers = catalog.shard_stage(tasks.run_context(ctx, DAG_ID), gated_key, tasks.options(ctx["params"]))
        return [{"gated_key": gated_key, "shard_no": n, "n_shards": len(numbers)} for n in numbers]

    @task(max_active_tis_per_dagrun=4)
    def generate(shard: dict, ray: dict) -> str:
        from maestro_ai.pipeline import catalog, tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return catalog.generate_stage(tasks.run_context(ctx, DAG_ID, ray), shard["gated_key"], shard["shard_no"],
                                          shard["n_shards"], tasks.options(ctx["params"]))

    @task(trigger_rule="none_failed")
    def load(gated_key: str, result_keys: list[str] | None) -> dict:
        from maestro_ai.pipeline import catalog, tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return catalog.load_stage(tasks.run_context(ctx, DAG_ID), gated_key, tasks.mapped_results(result_keys),
                                      tasks.options(ctx["params"]))

    @task(trigger_rule="none_failed")
    def append(loaded: dict) -> dict:
        from maestro_ai.pipeline import playlist, tasks

        return playlist.append_stage(tasks.run_context(get_current_context(), DAG_ID))

    @task(trigger_rule="none_failed")
    def close_run(appended: dict) -> dict:
        from maestro_ai.pipeline import catalog, tasks

        return catalog.close_stage(tasks.run_context(get_current_context(), DAG_ID))

    checked = preflight()
    ray = start_ray(checked)
    gated = gate(plan(open_run(checked)))
    results = generate.partial(ray=ray).expand(shard=shards(gated))
    close_run(append(load(gated, results))) >> stop_ray(ray)


maestro_playlist_fill()
