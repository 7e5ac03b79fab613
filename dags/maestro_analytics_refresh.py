"""
### Maestro analytics refresh

Daily. Every query in `sql/analytics/` marked `materialize: yes` (the heavy ones, without parameters) is stored
as table `ANALYTICS_<NAME>` with `CREATE OR REPLACE TABLE ... AS`, so dashboards read a table, and a refresh
replaces it whole (re-running a day changes nothing but freshness). One mapped task per query.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task

DAG_ID = "maestro_analytics_refresh"


@dag(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "maestro", "retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["maestro", "analytics"],
    doc_md=__doc__,
)
def maestro_analytics_refresh():
    @task
    def heavy_queries() -> list[str]:
        from maestro_ai.analytics import list_queries

        return [q.name for q in list_queries() if q.materialize]

    @task
    def materialize(name: str) -> dict:
        from maestro_ai.analytics import get_query, materialize
        from maestro_ai.config import load_settings
        from maestro_ai.warehouse import connect

        with connect(load_settings()) as wh:
            return {"table": get_query(name).table_name, "rows": materialize(wh, name)}

    materialize.expand(name=heavy_queries())


maestro_analytics_refresh()
