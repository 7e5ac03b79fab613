"""The catalog DAG under the real Airflow 3: api-server, scheduler and dag-processor on loopback, LocalExecutor.

`dag.test()` runs every task in one process and so hides what the scheduler does: each task is its own process,
mapped shards run at once, XComs travel over HTTP. Here a 4-shard run must succeed on its first attempt with
retries off, leave every row and object exactly once, and a cleared re-run must change nothing.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import LOOPBACK, REPO_ROOT, RUN_DATE, VENV_BIN, free_port, wait_for, warehouse_sql

DAG_ID = "maestro_catalog_generation"
RUN_ID = "e2e_catalog"
RUN_TIMEOUT_S = 420
FINGERPRINT = """
import json
from maestro_core.config import load_settings
from maestro_pipeline.fingerprint import fingerprint
f = fingerprint(load_settings())
print(json.dumps({"objects": f.objects, "tables": {k: list(v) for k, v in f.tables.items()}}, default=str))
"""


def _airflow(args: list[str], env: dict[str, str], timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(VENV_BIN / "airflow"), *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout_s)
    assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _db(env: dict[str, str]) -> sqlite3.Connection:
    path = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def _run_state(env: dict[str, str]) -> str | None:
    with _db(env) as db:
        row = db.execute("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (DAG_ID, RUN_ID)).fetchone()
    return row[0] if row else None


def _task_states(env: dict[str, str]) -> list[tuple]:
    with _db(env) as db:
        return db.execute("SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = ? AND "
                          "run_id = ? ORDER BY task_id, map_index", (DAG_ID, RUN_ID)).fetchall()


def _wait_for_run(env: dict[str, str], services) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = None
    while time.monotonic() < deadline:
        state = _run_state(env)
        if state in ("success", "failed"):
            return state
        time.sleep(2)
    logs = "\n".join(f"--- {s.name}\n{s.log_tail(3000)}" for s in services.started)
    pytest.fail(f"DAG run not finished within {RUN_TIMEOUT_S} s (state {state}); tasks {_task_states(env)}\n{logs}")


def _fingerprint(env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", FINGERPRINT], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_four_shard_catalog_run_succeeds_first_time_and_a_cleared_rerun_changes_nothing(services, seeded_home,
                                                                                          tmp_path: Path):
    from maestro_core.config import load_settings
    from maestro_pipeline.airflow_env import airflow_environment

    warehouse_sql(seeded_home, "UPDATE PROMPT_CATALOG SET TARGET_COUNT = 2 WHERE PROMPT_ID IN "
                               "('prm_0025', 'prm_0030')")  # 4 allowed requests: 4 shards of one
    port = free_port()
    settings = load_settings(home=seeded_home["MAESTRO_HOME"])
    env = {**seeded_home, **airflow_environment(settings, port=port),
           "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO", "AIRFLOW__CORE__PARALLELISM": "8",
           "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2", "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
           "MAESTRO_TASK_RETRIES": "0", "MAESTRO_CATALOG_SCHEDULE": "none"}
    _airflow(["db", "migrate"], env, timeout_s=300)
    api = services.start("api-server", [str(VENV_BIN / "airflow"), "api-server", "--host", LOOPBACK, "--port",
                                        str(port)], env)
    services.start("scheduler", [str(VENV_BIN / "airflow"), "scheduler", "--skip-serve-logs"], env)
    services.start("dag-processor", [str(VENV_BIN / "airflow"), "dag-processor"], env)

    def healthy() -> bool:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/api/v2/monitor/health", timeout=5) as response:
            return response.status == 200

    wait_for(healthy, 180, f"api-server (log: {api.log_tail(500)})")

    def parsed() -> bool:
        with _db(env) as db:
            return db.execute("SELECT 1 FROM dag WHERE dag_id = ?", (DAG_ID,)).fetchone() is not None

    wait_for(parsed, 180, "the catalog DAG in the dag-processor's output")
    _airflow(["dags", "unpause", DAG_ID], env)
    conf = {"duration_s": 5, "shard_size": 1, "pool_size": 1}
    _airflow(["dags", "trigger", DAG_ID, "--run-id", RUN_ID, "--logical-date", f"{RUN_DATE}T00:00:00+00:00",
              "--conf", json.dumps(conf)], env)
    assert _wait_for_run(env, services) == "success", _task_states(env)
    tasks = _task_states(env)
    generate = [t for t in tasks if t[0] == "generate"]
    assert len(generate) == 4 and all(t[2] == "success" and t[3] == 1 for t in generate), tasks
    assert ("stop_ray", -1, "success", 1) in tasks  # the run's Ray head was stopped by the teardown
    generate_logs = list((Path(env["AIRFLOW_HOME"]) / "logs").rglob("task_id=generate/**/*.log"))
    assert len(generate_logs) == 4
    stderr_errors = [line for p in generate_logs for line in p.read_text().splitlines()
                     if '"logger":"task.stderr"' in line]
    assert stderr_errors == []  # Ray's own output went to $MAESTRO_HOME/logs, not into the task logs as ERROR

    [[tracks], requests, [provenance]] = warehouse_sql(
        seeded_home, "SELECT COUNT(*) AS N, COUNT(DISTINCT TRACK_ID) AS D FROM TRACKS",
        "SELECT STATUS, COUNT(*) AS N FROM GENERATION_REQUESTS GROUP BY STATUS ORDER BY STATUS",
        "SELECT COUNT(*) AS N FROM TRACK_PROVENANCE")
    statuses = {r["STATUS"]: r["N"] for r in requests}
    assert tracks["N"] == tracks["D"] == provenance["N"] == 4
    assert statuses.get("generated") == 4 and set(statuses) <= {"generated", "rejected"}
    before = _fingerprint(seeded_home)
    audio = [k for k in before["objects"] if k.endswith(".wav")]
    assert len(audio) == 4 and not [k for k in before["objects"] if ".tmp-" in k]

    _airflow(["tasks", "clear", DAG_ID, "--start-date", RUN_DATE, "--end-date", RUN_DATE, "--yes"], env)
    wait_for(lambda: _run_state(env) != "success", 60, "the cleared run to be queued again")
    assert _wait_for_run(env, services) == "success", _task_states(env)
    after = _fingerprint(seeded_home)
    changed = [t for t in before["tables"] if before["tables"][t] != after["tables"].get(t)]
    assert changed == [] and after["objects"] == before["objects"]  # every row and every stored object as it was
