"""Runs that tell the truth: a fresh home makes tracks, and a systemic fault fails the run instead of a green run.

The fault is a real engine plugged in by import path (``tests.fault_engines:RaisingEngine``) that raises on every
request, driven through the real CLI and the real DAG on the session's Ray.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from maestro_ai.cli import run
from maestro_core.config import load_settings
from maestro_core.warehouse import connect
from tests.plugins.pipeline import RUN_DATE, TEST_DURATION_S

RAISING = "tests.fault_engines:RaisingEngine"
# Two prompts the rights gate allows on RUN_DATE and one it rejects (as in the DAG tests).
SMALL_CATALOG = "UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID IN ('prm_0025', 'prm_0030', 'prm_0019')"


def _clean_env(monkeypatch: pytest.MonkeyPatch, home) -> None:
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG", "MAESTRO_ENGINE",
                "MAESTRO_SIGNING_CERT_PATH", "MAESTRO_SIGNING_KEY_PATH", "MAESTRO_SOUNDFONT_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MAESTRO_HOME", str(home))


def _raising_home(settings, monkeypatch: pytest.MonkeyPatch, target_count: int):
    """The small catalog, its two allowed prompts planning ``target_count`` requests each, on the raising engine."""
    _clean_env(monkeypatch, settings.home)
    with connect(settings) as wh:
        wh.execute(SMALL_CATALOG)
        wh.execute(f"UPDATE PROMPT_CATALOG SET TARGET_COUNT = {int(target_count)} "
                   "WHERE PROMPT_ID IN ('prm_0025', 'prm_0030')")
    monkeypatch.setenv("MAESTRO_ENGINE", RAISING)
    return settings


def _run_row(settings, run_id: str) -> dict:
    with connect(settings) as wh:
        rows = wh.query("SELECT STATUS, REASON, COUNTS FROM GENERATION_RUNS WHERE RUN_ID = :r", {"r": run_id})
    return rows.to_pylist()[0]


def _requests(settings, run_id: str) -> list[dict]:
    with connect(settings) as wh:
        return wh.query("SELECT REQUEST_ID, STATUS, REASONS FROM GENERATION_REQUESTS WHERE RUN_ID = :r "
                        "ORDER BY REQUEST_ID", {"r": run_id}).to_pylist()


def test_the_readme_quick_start_on_a_fresh_home_produces_signed_tracks(tmp_path, monkeypatch, capsys, ray_cluster):
    home = tmp_path / "fresh-home"
    _clean_env(monkeypatch, home)
    assert run(["init"]) == 0
    assert run(["seed"]) == 0
    settings = load_settings()
    with connect(settings) as wh:  # the quick start as written, on a smaller catalog to keep the suite quick
        wh.execute(SMALL_CATALOG)
    capsys.readouterr()
    code = run(["run", "catalog", "--date", RUN_DATE, "--duration", str(TEST_DURATION_S), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"]["tracks"] >= 1 and report["counts"]["failed"] == 0
    with connect(settings) as wh:
        provenance = [json.loads(r["PROVENANCE"]) for r in wh.query("SELECT PROVENANCE FROM TRACK_PROVENANCE")
                      .to_pylist()]
    assert len(provenance) == report["counts"]["tracks"]
    assert all(p["extra"]["signing"] == {"signed": True, "development_keys": True} for p in provenance)
    assert _run_row(settings, report["run_id"])["STATUS"] == "success"


def test_an_engine_that_raises_on_every_request_fails_the_cli_run_with_the_reason(
        make_home, monkeypatch, capsys, ray_cluster):
    settings = _raising_home(make_home("raising-cli"), monkeypatch, target_count=3)
    code = run(["run", "catalog", "--date", RUN_DATE, "--duration", str(TEST_DURATION_S)])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]  # log records may precede it
    assert len(errors) == 1
    first = errors[0]
    assert first.startswith("error: run failed:") and "failure budget exceeded" in first
    assert "RuntimeError" in first and "synthetic engine fault" in first and "Traceback" not in err
    run_id = f"maestro_catalog_generation__{RUN_DATE}"
    row = _run_row(settings, run_id)
    assert row["STATUS"] == "failed" and "RuntimeError" in row["REASON"]
    requests = _requests(settings, run_id)
    failed = [r for r in requests if r["STATUS"] == "failed"]
    assert len(failed) >= 3  # the first three failed alike: the budget stopped the run there or soon after
    reasons = [json.loads(r["REASONS"])[0] for r in failed]
    assert {r["error"] for r in reasons} == {"RuntimeError"}
    assert len({r["traceback_sha256"] for r in reasons}) == 1  # one bug, one digest
    assert all("fault_engines.py" in r["where"] for r in reasons)
    # Requests the stopped run never attempted stay 'planned', and the next run picks them up (with the failed).
    leftover = {r["REQUEST_ID"] for r in requests if r["STATUS"] in ("planned", "failed")}
    from maestro_pipeline import catalog, staging

    monkeypatch.delenv("MAESTRO_ENGINE")
    ctx = catalog.context(load_settings(), dt.date.fromisoformat(RUN_DATE) + dt.timedelta(days=1))
    planned = staging.read_stage(catalog.stage_store(ctx), catalog.plan_stage(ctx, catalog.PipelineOptions()))
    retried = {r["REQUEST_ID"] for r in planned.to_pylist() if r["RUN_ID"] == run_id}
    assert leftover <= retried


def test_an_engine_that_raises_fails_the_dag_run_and_its_run_row(airflow_env, ray_cluster, make_home, monkeypatch):
    settings = _raising_home(make_home("raising-dag"), monkeypatch, target_count=2)
    dag = airflow_env.dagbag().get_dag("maestro_catalog_generation")
    logical = dt.datetime.fromisoformat(RUN_DATE).replace(tzinfo=dt.UTC)
    dagrun = dag.test(logical_date=logical, run_conf={"duration_s": TEST_DURATION_S, "pool_size": 1})
    assert dagrun.state == "failed"
    states = {ti.task_id: ti.state for ti in dagrun.get_task_instances()}
    assert states["preflight"] == "success" and states["generate"] == "failed"
    row = _run_row(settings, f"maestro_catalog_generation__{RUN_DATE}")
    assert row["STATUS"] == "failed" and "failure budget exceeded" in row["REASON"] and "RuntimeError" in row["REASON"]


def test_a_dag_whose_preflight_fails_stops_at_once_and_opens_no_run(airflow_env, make_home, monkeypatch, tmp_path):
    settings = make_home("preflight-dag")
    _clean_env(monkeypatch, settings.home)
    monkeypatch.setenv("MAESTRO_SIGNING_CERT_PATH", str(tmp_path / "missing.pem"))
    dag = airflow_env.dagbag().get_dag("maestro_catalog_generation")
    logical = dt.datetime.fromisoformat(RUN_DATE).replace(tzinfo=dt.UTC)
    dagrun = dag.test(logical_date=logical, run_conf={"duration_s": TEST_DURATION_S})
    assert dagrun.state == "failed"
    preflight = next(ti for ti in dagrun.get_task_instances() if ti.task_id == "preflight")
    assert preflight.state == "failed" and preflight.try_number == 1  # configuration is not retried
    with connect(settings) as wh:
        assert wh.scalar("SELECT COUNT(*) FROM GENERATION_RUNS") == 0
        assert wh.scalar("SELECT COUNT(*) FROM GENERATION_REQUESTS") == 0
