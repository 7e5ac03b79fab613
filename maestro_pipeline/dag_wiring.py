"""The generation DAGs' wiring, written once: catalog generation and playlist fill differ only in how they plan.

A DAG file calls :func:`generation_tasks` inside its ``@dag`` function and keeps only its schedule, params and
docs. Every task body is one call into :mod:`maestro_pipeline` (imported inside the task, so parsing a DAG file
imports nothing heavy)::

    preflight -> start_ray (setup) ............................................ stop_ray (teardown)
              -> open_run -> plan -> gate -> shards -> generate (mapped) -> load [-> append] -> close_run

Bad input and configuration fail a task at once (``failing_fast``); transient errors keep the DAG's retries.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Literal

Planner = Literal["catalog", "playlist"]


def default_args(retries: int = 3, retry_delay_s: float = 30.0) -> dict[str, Any]:
    """Every Maestro DAG's task defaults: retries with exponential backoff (at most 10 minutes apart).

    ``MAESTRO_TASK_RETRIES`` and ``MAESTRO_TASK_RETRY_DELAY_S`` override ``retries`` and the first delay
    (seconds; tests shorten it so a failing run fails in seconds).
    """
    return {
        "owner": "maestro",
        "retries": int(os.environ.get("MAESTRO_TASK_RETRIES", str(retries))),
        "retry_delay": timedelta(seconds=float(os.environ.get("MAESTRO_TASK_RETRY_DELAY_S", str(retry_delay_s)))),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    }


def generation_tasks(dag_id: str, planner: Planner) -> None:
    """Adds the generation pipeline's tasks to the DAG being defined (call it inside a ``@dag`` function).

    Args:
        dag_id: the DAG's id (it keys the run: ``<dag_id>__<logical date>``).
        planner: ``catalog`` plans active prompts x TARGET_COUNT; ``playlist`` plans what playlists below target
            need, and appends the new tracks after the load.
    """
    from airflow.sdk import get_current_context, setup, task, teardown

    @task
    def preflight() -> dict:
        from maestro_pipeline import catalog, tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return catalog.preflight_stage(tasks.run_context(ctx, dag_id), tasks.options(ctx["params"]))

    @setup
    def start_ray(checked: dict) -> dict:
        from maestro_pipeline import tasks

        return tasks.start_ray(get_current_context(), dag_id)

    @teardown
    def stop_ray(ray: dict) -> None:
        from maestro_pipeline import tasks

        tasks.stop_ray(ray)

    @task
    def open_run(checked: dict) -> str:
        from maestro_pipeline import catalog, tasks

        return catalog.open_stage(tasks.run_context(get_current_context(), dag_id))

    @task
    def plan(maestro_run_id: str) -> str:
        from maestro_pipeline import catalog, playlist, tasks

        ctx = get_current_context()
        stage = catalog.plan_stage if planner == "catalog" else playlist.plan_stage
        with tasks.failing_fast():
            return stage(tasks.run_context(ctx, dag_id), tasks.options(ctx["params"]))

    @task
    def gate(planned_path: str) -> str:
        from maestro_pipeline import catalog, tasks

        with tasks.failing_fast():
            return catalog.gate_stage(tasks.run_context(get_current_context(), dag_id), planned_path)

    @task
    def shards(gated_path: str) -> list[dict]:
        from maestro_pipeline import catalog, tasks

        ctx = get_current_context()
        numbers = catalog.shard_stage(tasks.run_context(ctx, dag_id), gated_path, tasks.options(ctx["params"]))
        return [{"gated_path": gated_path, "shard_no": n, "n_shards": len(numbers)} for n in numbers]

    @task(max_active_tis_per_dagrun=4)
    def generate(shard: dict, ray: dict) -> str:
        from maestro_pipeline import catalog, tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return catalog.generate_stage(tasks.run_context(ctx, dag_id, ray), shard["gated_path"], shard["shard_no"],
                                          shard["n_shards"], tasks.options(ctx["params"]))

    @task(trigger_rule="none_failed")
    def load(gated_path: str, result_paths: list[str] | None) -> dict:
        from maestro_pipeline import catalog, tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return catalog.load_stage(tasks.run_context(ctx, dag_id), gated_path, tasks.mapped_results(result_paths),
                                      tasks.options(ctx["params"]))

    @task(trigger_rule="none_failed")
    def append(loaded: dict) -> dict:
        from maestro_pipeline import playlist, tasks

        return playlist.append_stage(tasks.run_context(get_current_context(), dag_id))

    @task(trigger_rule="none_failed")
    def close_run(previous: dict) -> dict:
        from maestro_pipeline import catalog, tasks

        return catalog.close_stage(tasks.run_context(get_current_context(), dag_id))

    checked = preflight()
    ray = start_ray(checked)
    gated = gate(plan(open_run(checked)))
    loaded = load(gated, generate.partial(ray=ray).expand(shard=shards(gated)))
    close_run(append(loaded) if planner == "playlist" else loaded) >> stop_ray(ray)
