"""
### Maestro analytics refresh

Daily. Every query in `sql/analytics/` marked `materialize: yes` (the heavy ones, without parameters) is stored
as table `ANALYTICS_<NAME>` with `CREATE OR REPLACE TABLE ... AS`, so dashboards read a table, and a refresh
replaces it whole (re-running a day changes nothing but freshness). One mapped task per query.

Bad input or configuration (an unknown query, a bad `MAESTRO_*` setting) fails a task at once, without retries;
transient warehouse errors are retried.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import dag, task

from maestro_pipeline.dag_wiring import default_args

DAG_ID = "maestro_analytics_refresh"


@dag(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay_s=60),
    tags=["maestro", "analytics"],
    doc_md=__doc__,
)
def maestro_analytics_refresh() -> None:
    @task
    def heavy_queries() -> list[str]:
        from maestro_core.analytics import list_queries
        from maestro_pipeline import tasks

        with tasks.failing_fast():
            return [q.name for q in list_queries() if q.materialize]

    @task
    def materialize(name: str) -> dict:
        from maestro_core.analytics import get_query, materialize
        from maestro_core.warehouse import connect
        from maestro_pipeline import tasks

        with tasks.failing_fast(), connect(tasks.task_settings()) as wh:
            return {"table": get_query(name).table_name, "rows": materialize(wh, name)}

    materialize.expand(name=heavy_queries())


maestro_analytics_refresh()
