"""The royalty job on a Spark standalone cluster, run the way an operator runs it (docs/deploy.md):
``maestro royalties export-inputs``, ``spark-submit --master spark://...``, ``maestro royalties load-outputs``.

Master and worker are started with ``spark-class`` (pyspark's pip package has no ``sbin/start-*.sh``) on loopback
(``SPARK_LOCAL_IP=127.0.0.1``), and stopped by PID by the ``services`` fixture.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.conftest import LOOPBACK, REPO_ROOT, VENV_BIN, base_env, free_port, maestro, port_open, wait_for
from tests.test_royalty_job import PERIOD, _warehouse_with_month

START_TIMEOUT_S = 90
JOB = REPO_ROOT / "jobs" / "royalty_statements.py"
LOG4J2 = REPO_ROOT / "jobs" / "log4j2.properties"
SPARK_LOG_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ")


def _master_state(web_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{web_port}/json", timeout=5) as response:
        return json.loads(response.read())


def _spark_env(**extra: str) -> dict[str, str]:
    # Loopback only: without SPARK_LOCAL_IP, Spark binds its ports and web UIs to the machine's external address.
    return base_env(SPARK_LOCAL_IP=LOOPBACK, SPARK_DAEMON_MEMORY="512m", PYSPARK_PYTHON=sys.executable,
                    PYSPARK_DRIVER_PYTHON=sys.executable, **extra)


def _rows(settings: Any, sql: str) -> list[dict]:
    from maestro_core.warehouse import connect

    with connect(settings) as wh:
        return wh.query(sql).to_pylist()


def _start_cluster(services: Any, work: Path) -> tuple[str, int]:
    """A master and one 1-core worker; returns the master URL and its web UI port once the worker is ALIVE."""
    port, web_port, worker_web_port = free_port(), free_port(), free_port()
    master = services.start("spark-master", [str(VENV_BIN / "spark-class"), "org.apache.spark.deploy.master.Master",
                                             "--host", LOOPBACK, "--port", str(port), "--webui-port", str(web_port)],
                            _spark_env())
    wait_for(lambda: master.process.poll() is None and port_open(port) and port_open(web_port), START_TIMEOUT_S,
             f"spark master on {port} (log: {master.log_path})")
    url = f"spark://{LOOPBACK}:{port}"
    worker = services.start("spark-worker", [str(VENV_BIN / "spark-class"), "org.apache.spark.deploy.worker.Worker",
                                             url, "--host", LOOPBACK, "--webui-port", str(worker_web_port),
                                             "--cores", "1", "--memory", "1g", "--work-dir", str(work)],
                            _spark_env())
    wait_for(lambda: worker.process.poll() is None
             and any(w["state"] == "ALIVE" for w in _master_state(web_port)["workers"]),
             START_TIMEOUT_S, f"spark worker registered with {url} (log: {worker.log_path})")
    return url, web_port


def test_the_royalty_job_on_a_standalone_cluster_pays_what_the_sql_engine_pays(services: Any, tmp_path: Path) -> None:
    laps: list[tuple[str, float]] = [("start", time.monotonic())]
    lap = lambda name: laps.append((name, time.monotonic()))  # noqa: E731
    cluster = _warehouse_with_month(tmp_path / "cluster")
    reference = _warehouse_with_month(tmp_path / "reference")
    env = base_env(MAESTRO_HOME=str(cluster.home), MAESTRO_WAREHOUSE_URL=cluster.warehouse_url)
    master_url, web_port = _start_cluster(services, tmp_path / "spark-work")
    lap("cluster up")
    inputs, out = tmp_path / "exchange" / "inputs", tmp_path / "exchange" / "out"

    exported = maestro(["royalties", "export-inputs", "--period", PERIOD, "--out", str(inputs)], env, timeout_s=120)
    assert exported.returncode == 0, exported.stderr[-3000:]
    lap("export-inputs")

    submit = [str(VENV_BIN / "spark-submit"), "--master", master_url, "--name", f"maestro-royalties-{PERIOD}",
              "--driver-java-options", f"-Dlog4j2.configurationFile={LOG4J2.as_uri()}",
              "--conf", "spark.ui.enabled=false", "--conf", "spark.executor.memory=512m",
              "--conf", "spark.cores.max=1", "--conf", "spark.sql.shuffle.partitions=2",
              str(JOB), "--inputs", str(inputs), "--period", PERIOD, "--out", str(out)]
    job = subprocess.run(submit, env=_spark_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert job.returncode == 0, job.stderr[-4000:]
    lap("spark-submit")
    # Spark's JVM log (stderr) is WARN and above; the driver's Python output (stdout, through PythonRunner) is the
    # job's own log: its result line, and no py4j chatter.
    output = (job.stderr + job.stdout).splitlines()
    assert not [line for line in output if SPARK_LOG_LINE.match(line) and line.split()[2] not in ("WARN", "ERROR")]
    assert "Using Spark's default log4j profile" not in job.stderr and "py4j" not in job.stdout
    assert len(job.stderr.splitlines()) <= 5, job.stderr[-4000:]
    assert any(" INFO " in line and " result {" in line for line in job.stdout.splitlines()), job.stdout[-4000:]
    apps = _master_state(web_port)
    assert [a["name"] for a in apps["completedapps"]] == [f"maestro-royalties-{PERIOD}"]  # it ran on the cluster

    loaded = maestro(["royalties", "load-outputs", "--period", PERIOD, "--from", str(out)], env, timeout_s=120)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    lap("load-outputs")
    assert f"royalty statements {PERIOD} (spark)" in loaded.stdout and "paid streams" in loaded.stdout

    one_shot = maestro(["royalties", "--period", PERIOD, "--engine", "sql"],
                       base_env(MAESTRO_HOME=str(reference.home), MAESTRO_WAREHOUSE_URL=reference.warehouse_url),
                       timeout_s=120)
    assert one_shot.returncode == 0, one_shot.stderr[-3000:]
    lap("royalties --engine sql")

    # The one-shot command on the same cluster (as the DAG's task runs it): its own session, as quiet, same answer.
    tuning = "--conf spark.sql.shuffle.partitions=2 --conf spark.executor.memory=512m pyspark-shell"
    rerun = maestro(["royalties", "--period", PERIOD], {**_spark_env(), **env, "MAESTRO_SPARK_MASTER": master_url,
                                                        "PYSPARK_SUBMIT_ARGS": tuning}, timeout_s=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    lap("royalties on the cluster")
    assert not [line for line in rerun.stderr.splitlines() if SPARK_LOG_LINE.match(line)
                and line.split()[2] not in ("WARN", "ERROR")], rerun.stderr[-4000:]
    assert "Using Spark's default log4j profile" not in rerun.stderr and len(rerun.stderr.splitlines()) <= 5
    assert len(_master_state(web_port)["completedapps"]) == 2

    for table, key in (("ROYALTY_STATEMENTS", "HOLDER_ID, CURRENCY"),
                       ("ROYALTY_LEDGER", "TERRITORY, CURRENCY, TRACK_ID, HOLDER_ID")):
        sql = f"SELECT * FROM {table} ORDER BY PERIOD, {key}"
        paid, expected = _rows(cluster, sql), _rows(reference, sql)
        assert paid and paid == expected
        assert {type(r["AMOUNT"]).__name__ for r in paid} == {"Decimal"}
    # The report travelled in the job's report.json. Two counts differ by design of the inputs, not the rule: the
    # export holds only the period's events, while the SQL engine reads all of STREAM_EVENTS and counts the rest as
    # out of period.
    [run] = _rows(cluster, "SELECT * FROM ROYALTY_RUNS")
    [expected_run] = _rows(reference, "SELECT * FROM ROYALTY_RUNS")
    assert (run.pop("ENGINE"), expected_run.pop("ENGINE")) == ("spark", "sql")
    assert run["OUT_OF_PERIOD_EVENTS"] == 0
    assert run["INPUT_EVENTS"] == expected_run["INPUT_EVENTS"] - expected_run["OUT_OF_PERIOD_EVENTS"]
    by_design = ("INPUT_EVENTS", "OUT_OF_PERIOD_EVENTS")
    assert {k: v for k, v in run.items() if k not in by_design} == {
        k: v for k, v in expected_run.items() if k not in by_design}
    print(", ".join(f"{name} {end - start:.1f} s" for (_, start), (name, end) in zip(laps, laps[1:], strict=False)))
