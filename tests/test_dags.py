"""The Airflow DAGs: they parse with no import errors, import fast and light, and run end to end via dag.test()."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from maestro_core.warehouse import connect
from tests.plugins.airflow import DAGS_FOLDER
from tests.plugins.pipeline import RUN_DATE, TEST_DURATION_S

DAG_IDS = ("maestro_catalog_generation", "maestro_playlist_fill")
LOGICAL_DATE = dt.datetime.fromisoformat(RUN_DATE).replace(tzinfo=dt.UTC)
IMPORT_PROBE = """
import importlib.util, sys, time
import airflow.sdk  # the DAG processor has Airflow loaded already; what we time is the DAG file itself
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("dagfile", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
heavy = sorted(m for m in ("ray", "torch", "sentence_transformers", "pyspark", "pyarrow", "duckdb") if m in sys.modules)
print(time.perf_counter() - start, ",".join(heavy))
"""


def test_dagbag_has_no_import_errors(airflow_env):
    bag = airflow_env.dagbag()
    assert bag.import_errors == {}
    assert set(DAG_IDS) <= set(bag.dag_ids)
    for dag_id in DAG_IDS:
        dag = bag.get_dag(dag_id)
        assert dag.default_args["retries"] >= 1 and dag.default_args["retry_exponential_backoff"]
        assert dag.get_task("generate").max_active_tis_per_dagrun  # the mapped shard task
    schedules = {d: bag.get_dag(d).schedule for d in DAG_IDS}
    assert schedules == {"maestro_catalog_generation": "@daily", "maestro_playlist_fill": "@hourly"}


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS_FOLDER.glob("maestro_*.py")))
def test_each_dag_file_imports_in_under_two_seconds_without_heavy_libraries(airflow_env, dag_file):
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE, str(DAGS_FOLDER / dag_file)], capture_output=True,
                         text=True, timeout=120, check=True).stdout.strip().splitlines()[-1]
    seconds, heavy = out.split(" ", 1) if " " in out else (out, "")
    assert float(seconds) < 2.0
    assert heavy == ""


def _run(airflow_env, dag_id: str, conf: dict) -> str:
    dag = airflow_env.dagbag().get_dag(dag_id)
    return dag.test(logical_date=LOGICAL_DATE, run_conf=conf).state


@pytest.fixture
def dag_home(make_home, monkeypatch):
    settings = make_home("dag")
    monkeypatch.setenv("MAESTRO_HOME", str(settings.home))
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return settings


def test_catalog_dag_runs_end_to_end_and_loads_the_warehouse(airflow_env, ray_cluster, dag_home):
    with connect(dag_home) as wh:  # two allowed prompts and one the rights gate rejects keep this quick
        wh.execute("UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID IN ('prm_0025', 'prm_0030', 'prm_0019')")
    assert _run(airflow_env, "maestro_catalog_generation", {"duration_s": TEST_DURATION_S}) == "success"
    with connect(dag_home) as wh:
        statuses = {r["STATUS"]: r["N"] for r in wh.query(
            "SELECT STATUS, COUNT(*) AS N FROM GENERATION_REQUESTS GROUP BY STATUS").to_pylist()}
        run = wh.query("SELECT STATUS, DAG_ID, LOGICAL_DATE FROM GENERATION_RUNS").to_pylist()
        tracks = wh.scalar("SELECT COUNT(*) FROM TRACKS")
        provenance = wh.query("SELECT PROVENANCE FROM TRACK_PROVENANCE").to_pylist()
    assert statuses.get("rejected") == 1 and sum(statuses.values()) == 3 and "planned" not in statuses
    assert tracks == statuses.get("generated", 0) and tracks >= 1
    assert run == [{"STATUS": "success", "DAG_ID": "maestro_catalog_generation", "LOGICAL_DATE": LOGICAL_DATE.date()}]
    assert all('"airflow_dag_id":"maestro_catalog_generation"' in p["PROVENANCE"] for p in provenance)


def test_playlist_dag_fills_to_target_and_a_rerun_never_overfills(airflow_env, ray_cluster, dag_home):
    with connect(dag_home) as wh:
        wh.execute("UPDATE PLAYLISTS SET TARGET_TRACKS = CASE WHEN PLAYLIST_ID = 'pl_003' THEN 2 ELSE 0 END")
    conf = {"duration_s": TEST_DURATION_S}
    assert _run(airflow_env, "maestro_playlist_fill", conf) == "success"
    with connect(dag_home) as wh:
        first = wh.query("SELECT POSITION, TRACK_ID FROM PLAYLIST_TRACKS ORDER BY POSITION").to_pylist()
        generated = wh.scalar("SELECT COUNT(*) FROM GENERATION_REQUESTS WHERE STATUS = 'generated'")
    assert len(first) == generated == 2 and [r["POSITION"] for r in first] == [1, 2]  # filled to its target
    assert _run(airflow_env, "maestro_playlist_fill", conf) == "success"
    with connect(dag_home) as wh:
        again = wh.query("SELECT POSITION, TRACK_ID FROM PLAYLIST_TRACKS ORDER BY POSITION").to_pylist()
        reasons = wh.query("SELECT STATUS, REASONS FROM GENERATION_REQUESTS").to_pylist()
    assert again == first, reasons  # the same day again: same plan, nothing new, never past the target
