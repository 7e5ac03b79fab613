"""An existing Ray cluster, started as an operator starts one (`ray start --head`), joined by `host:port`."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.conftest import (
    LOOPBACK,
    REPO_ROOT,
    RUN_DATE,
    VENV_BIN,
    free_port,
    maestro,
    port_open,
    wait_for,
    warehouse_sql,
)

NODE_IDS = """
import json, sys
from maestro_pipeline.fanout import connect_ray
connect_ray(sys.argv[1])
import ray
print(json.dumps(sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])))
"""


def test_a_catalog_runs_on_an_existing_cluster_joined_by_host_and_port(services, seeded_home):
    port = free_port()
    env = {**seeded_home, "RAY_USAGE_STATS_ENABLED": "0"}
    head = services.start("ray-head", [str(VENV_BIN / "ray"), "start", "--head", f"--port={port}",
                                       f"--node-ip-address={LOOPBACK}", "--num-cpus=2", "--include-dashboard=false",
                                       "--disable-usage-stats", "--block"], env)
    wait_for(lambda: port_open(port) and "Ray runtime started" in head.log_tail(100_000), 120, "ray head")
    address = f"{LOOPBACK}:{port}"
    run_env = {**env, "MAESTRO_RAY_ADDRESS": address}
    done = maestro(["run", "catalog", "--date", RUN_DATE, "--duration", "5", "--json"], run_env, timeout_s=400)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)  # stdout holds the report alone: Ray's own output went to stderr
    assert report["counts"]["tracks"] >= 1 and report["counts"]["failed"] == 0
    nodes = subprocess.run([sys.executable, "-c", NODE_IDS, address], env=run_env, cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert nodes.returncode == 0, nodes.stderr[-3000:]
    cluster_nodes = set(json.loads(nodes.stdout.strip().splitlines()[-1]))
    [rows] = warehouse_sql(run_env, "SELECT PROVENANCE FROM TRACK_PROVENANCE")
    used = {json.loads(r["PROVENANCE"])["run"]["ray_node_id"] for r in rows}
    assert used and used <= cluster_nodes  # every track was made on the cluster's node, not a private local Ray
    head.stop()
    assert head.process.poll() is not None


def test_an_address_where_nothing_listens_fails_in_preflight_naming_the_setting(seeded_home):
    env = {**seeded_home, "MAESTRO_RAY_ADDRESS": f"{LOOPBACK}:{free_port()}"}
    done = maestro(["run", "catalog", "--date", RUN_DATE, "--duration", "5"], env, timeout_s=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "MAESTRO_RAY_ADDRESS" in done.stderr and "nothing answers" in done.stderr
    [runs] = warehouse_sql(env, "SELECT * FROM GENERATION_RUNS")
    assert runs == []  # preflight: no run row was opened
