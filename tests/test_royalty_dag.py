"""The royalty and analytics DAGs parse, and run for real with dag.test() against a DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_royalty_job import PERIOD, _warehouse_with_month

pytestmark = pytest.mark.slow
DAG_IDS = ("maestro_royalty_statements", "maestro_analytics_refresh")


def _dagbag(airflow_env: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(airflow_env.dags_folder))


@pytest.fixture
def month_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings = _warehouse_with_month(tmp_path)
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path))
    monkeypatch.setenv("MAESTRO_WAREHOUSE_URL", settings.warehouse_url)
    return settings


def test_dags_import_without_errors(airflow_env: Any) -> None:
    bag = _dagbag(airflow_env)
    assert not {k: v for k, v in bag.import_errors.items() if any(d in k for d in DAG_IDS)}
    for dag_id in DAG_IDS:
        assert bag.get_dag(dag_id) is not None


def test_royalty_dag_pays_the_previous_month(airflow_env: Any, month_home: Any) -> None:
    from datetime import UTC, datetime

    from maestro_core.warehouse import connect

    dag = _dagbag(airflow_env).get_dag("maestro_royalty_statements")
    run = dag.test(logical_date=datetime(2026, 4, 1, tzinfo=UTC), run_conf={"engine": "sql"})
    assert run.state == "success"
    with connect(month_home) as wh:
        assert wh.scalar("SELECT COUNT(*) FROM ROYALTY_STATEMENTS WHERE PERIOD = :p", {"p": PERIOD}) > 0
        assert wh.scalar("SELECT COUNT(*) FROM ROYALTY_RUNS WHERE PERIOD = :p", {"p": PERIOD}) == 1


def test_analytics_refresh_materializes_the_heavy_queries(airflow_env: Any, month_home: Any) -> None:
    from datetime import UTC, datetime

    from maestro_core.analytics import list_queries
    from maestro_core.warehouse import connect

    dag = _dagbag(airflow_env).get_dag("maestro_analytics_refresh")
    run = dag.test(logical_date=datetime(2026, 4, 2, tzinfo=UTC))
    assert run.state == "success"
    with connect(month_home) as wh:
        for q in list_queries():
            assert wh.table_exists(q.table_name) == q.materialize


def _task(run: Any, task_id: str) -> Any:
    return next(ti for ti in run.get_task_instances() if ti.task_id == task_id)


def test_a_month_whose_pools_are_not_loaded_is_skipped_in_one_try(airflow_env: Any, month_home: Any) -> None:
    from datetime import UTC, datetime

    from maestro_core.warehouse import connect

    dag = _dagbag(airflow_env).get_dag("maestro_royalty_statements")
    run = dag.test(logical_date=datetime(2026, 6, 1, tzinfo=UTC), run_conf={"engine": "spark"})  # pays 2026-05
    assert run.state == "success"
    compute = _task(run, "compute_and_load")
    assert (compute.state, compute.try_number) == ("skipped", 1)
    with connect(month_home) as wh:
        assert wh.scalar("SELECT COUNT(*) FROM ROYALTY_RUNS") == 0


def test_bad_splits_fail_the_task_at_once_without_retries(airflow_env: Any, month_home: Any) -> None:
    from datetime import UTC, datetime

    from maestro_core.warehouse import connect

    with connect(month_home) as wh:  # a streamed track's splits no longer sum to 10000 bps
        wh.execute("UPDATE ROYALTY_SPLITS SET SHARE_BPS = SHARE_BPS + 1 WHERE TRACK_ID = "
                   "(SELECT MIN(TRACK_ID) FROM STREAM_EVENTS)")
    dag = _dagbag(airflow_env).get_dag("maestro_royalty_statements")
    run = dag.test(logical_date=datetime(2026, 4, 1, tzinfo=UTC), run_conf={"engine": "sql"})
    assert run.state == "failed"
    compute = _task(run, "compute_and_load")
    assert (compute.state, compute.try_number) == ("failed", 1)
