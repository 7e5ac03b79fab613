"""
### Maestro royalty statements

Monthly. The **logical date's month is closed and paid**: a run on 2026-04-01 computes `2026-03` (the previous
UTC calendar month). STREAM_EVENTS, ROYALTY_SPLITS and REVENUE_POOLS are exported as Parquet through the
warehouse layer, the Spark job (`jobs/royalty_statements.py`, master `MAESTRO_SPARK_MASTER`) computes the ledger
and statements, they are checked (every pool's lines sum exactly to the pool) and MERGEd back. Re-running a month
replaces it and never double counts. Unallocated pools and unmatched events are recorded in ROYALTY_RUNS.

Params: `period` (override, `YYYY-MM`), `engine` (`spark` or `sql`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

DAG_ID = "maestro_royalty_statements"


@dag(
    dag_id=DAG_ID,
    schedule="@monthly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "maestro", "retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["maestro", "royalties"],
    doc_md=__doc__,
    params={
        "period": Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
        "engine": Param("spark", enum=["spark", "sql"]),
    },
)
def maestro_royalty_statements():
    @task
    def choose_period() -> str:
        from maestro_ai.royalty_rules import previous_period

        ctx = get_current_context()
        return ctx["params"].get("period") or previous_period(ctx["logical_date"])

    @task
    def compute_and_load(period: str) -> dict:
        from maestro_ai.config import load_settings
        from maestro_ai.royalties import run_royalties

        run = run_royalties(load_settings(), period, engine=get_current_context()["params"]["engine"])
        return {"period": run.period, "ledger_lines": run.ledger_lines, "stale_deleted": run.stale_deleted,
                **{k: v for k, v in run.report.as_row().items() if k != "period"}}

    compute_and_load(choose_period())


maestro_royalty_statements()
