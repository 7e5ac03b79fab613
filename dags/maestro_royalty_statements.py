"""
### Maestro royalty statements

Monthly. The **logical date's month is closed and paid**: a run on 2026-04-01 computes `2026-03` (the previous
UTC calendar month). STREAM_EVENTS, ROYALTY_SPLITS and REVENUE_POOLS are exported as Parquet through the
warehouse layer, the Spark job (`jobs/royalty_statements.py`, master `MAESTRO_SPARK_MASTER`) computes the ledger
and statements, they are checked (every pool's lines sum exactly to the pool) and MERGEd back. Re-running a month
replaces it and never double counts. Unallocated pools and unmatched events are recorded in ROYALTY_RUNS.

**A month whose REVENUE_POOLS are not loaded yet is skipped**, not failed: `compute_and_load` ends *skipped* with
the message `period: no revenue pool for YYYY-MM in REVENUE_POOLS; load the period's pools first`, in one try, and
nothing is written. Once the pools are loaded, clear that task (or trigger with `period`) to pay the month.

Bad input or configuration (malformed pools or splits, a bad `MAESTRO_*` setting) fails the task at once, without
retries; transient errors (warehouse, Spark) are retried.

Params: `period` (override, `YYYY-MM`), `engine` (`spark` or `sql`), `policy` (`pro_rata`, `streaming_2024` or
`user_centric`; unset: the `MAESTRO_ROYALTY_POLICY` setting, default `pro_rata`; docs/royalties.md). The policy is
recorded in ROYALTY_RUNS.POLICY; re-running a month under another policy replaces its statements.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Param, dag, get_current_context, task

from maestro_pipeline.dag_wiring import default_args

DAG_ID = "maestro_royalty_statements"


@dag(
    dag_id=DAG_ID,
    schedule="@monthly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay_s=60),
    tags=["maestro", "royalties"],
    doc_md=__doc__,
    params={
        "period": Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
        "engine": Param("spark", enum=["spark", "sql"]),
        # maestro_core.royalty_rules.POLICIES (not imported here: DAG files parse without the pipeline's imports).
        "policy": Param(None, type=["null", "string"], enum=[None, "pro_rata", "streaming_2024", "user_centric"]),
    },
)
def maestro_royalty_statements() -> None:
    @task
    def choose_period() -> str:
        from maestro_core.royalty_rules import previous_period
        from maestro_pipeline import tasks

        ctx = get_current_context()
        with tasks.failing_fast():
            return ctx["params"].get("period") or previous_period(ctx["logical_date"])

    @task
    def compute_and_load(period: str) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from maestro_pipeline import tasks
        from maestro_pipeline.royalty_run import PoolsNotLoaded, run_royalties

        with tasks.failing_fast():
            try:
                params = get_current_context()["params"]
                run = run_royalties(tasks.task_settings(), period, engine=params["engine"],
                                    policy=params.get("policy"))
            except PoolsNotLoaded as exc:  # not an error: the month cannot be paid yet
                raise AirflowSkipException(str(exc)) from exc
        return {"period": run.period, "policy": run.policy, "ledger_lines": run.ledger_lines,
                "stale_deleted": run.stale_deleted,
                **{k: v for k, v in run.report.as_row().items() if k != "period"}}

    compute_and_load(choose_period())


maestro_royalty_statements()
