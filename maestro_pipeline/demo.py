"""``maestro demo``: seed the embedded warehouse, run the catalog DAG through Airflow (``dag.test()`` on a
throwaway SQLite ``AIRFLOW_HOME`` under MAESTRO_HOME), fill playlists, summarise, re-run and show that nothing
changed, then deliver the date's tracks as DDEX ERN 4.3.2 packages. The rich rendering lives in the CLI; this module
gathers the facts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maestro_core.config import Settings

log = logging.getLogger(__name__)

DEMO_DATE = dt.date(2026, 11, 15)  # inside the sample licenses' windows, with visible rejections
DEMO_DURATION_S = 30
DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"
# DDEX parties for the demo's delivery when none are configured: development ids, named as such, never real ones.
DEMO_DDEX = {"ddex_sender_dpid": "PADPIDAMAESTRODEV01", "ddex_sender_name": "Maestro Demo Label (development)",
             "ddex_recipient_dpid": "PADPIDAEXAMPLEDSP01", "ddex_recipient_name": "Example Streaming Service "
             "(development)", "artist_name": "Maestro Ensemble", "label_name": "Maestro Demo Label (development)"}


@dataclass(frozen=True)
class DemoFacts:
    """What the summary shows."""

    run_id: str
    dag_state: str
    tracks_by_genre: dict[str, int]
    rejected: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    splits: dict[str, list[dict[str, Any]]]
    sample_audio: str | None
    storage_url: str
    counts: dict[str, Any]
    playlists: list[dict[str, Any]] = field(default_factory=list)


def airflow_environment(settings: Settings) -> dict[str, str]:
    """A SQLite Airflow under ``MAESTRO_HOME/airflow`` that parses the repo's ``dags/`` (dag.test needs no services)."""
    from maestro_pipeline.airflow_env import airflow_environment as environment

    env = environment(settings, executor="LocalExecutor")
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    return env


def prepare(settings: Settings) -> None:
    """Migrates and seeds the warehouse, creates signing keys, and migrates the demo's Airflow database."""
    from maestro_core.seed import seed_warehouse
    from maestro_core.signing_keys import ensure_development_keys
    from maestro_core.warehouse import connect

    settings.home.mkdir(parents=True, exist_ok=True)
    with connect(settings) as wh:
        wh.migrate()
        seed_warehouse(wh)
    ensure_development_keys(settings)  # as `maestro init` does; configured keys are never invented
    env = airflow_environment(settings)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    os.environ["MAESTRO_HOME"] = str(settings.home)
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=os.environ.copy(),
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        from maestro_core.errors import MaestroError

        raise MaestroError(f"airflow db migrate failed: {result.stderr.strip().splitlines()[-1:]}")


def run_dag(dag_id: str, logical_date: dt.date, conf: dict[str, Any] | None = None) -> str:
    """Runs one DAG of ``dags/`` for ``logical_date`` through ``dag.test()``; returns the DagRun state."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    if bag.import_errors:
        from maestro_core.errors import MaestroError

        raise MaestroError(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    when = dt.datetime(logical_date.year, logical_date.month, logical_date.day, tzinfo=dt.UTC)
    dagrun = dag.test(logical_date=when, run_conf=conf or {})
    return str(dagrun.state)


def gather(settings: Settings, run_id: str, dag_state: str) -> DemoFacts:
    """Reads what the summary shows from the warehouse."""
    from maestro_pipeline.context import warehouse
    from maestro_pipeline.records import run_counts

    with warehouse(settings) as wh:
        by_genre = {r["GENRE"]: int(r["N"])
                    for r in wh.query_file("demo/tracks_by_genre.sql", {"run": run_id}).to_pylist()}
        requests = wh.query_file("demo/run_requests.sql", {"run": run_id}).to_pylist()
        tracks = wh.query_file("demo/sample_tracks.sql", {"run": run_id}).to_pylist()
        splits = {}
        for t in tracks:
            splits[f"{t['TITLE']} ({t['TRACK_ID'][:8]})"] = wh.query_file(
                "demo/track_splits.sql", {"t": t["TRACK_ID"]}).to_pylist()
        counts = run_counts(wh, run_id)
        playlists = wh.query_file("demo/playlist_sizes.sql").to_pylist()

    def reasons(r: dict[str, Any]) -> list[dict[str, Any]]:
        value = r["REASONS"]
        return json.loads(value) if isinstance(value, str) else (value or [])

    rejected = [{"prompt_id": r["PROMPT_ID"], "genre": r["GENRE"], "reasons": reasons(r)}
                for r in requests if r["STATUS"] == "rejected"]
    failed = [{"prompt_id": r["PROMPT_ID"], "genre": r["GENRE"], "reasons": reasons(r)}
              for r in requests if r["STATUS"] == "failed"]
    sample = tracks[0]["URI"] if tracks else None
    return DemoFacts(run_id, dag_state, by_genre, rejected, failed, splits, sample, settings.storage_url, counts,
                     playlists)


def deliver(settings: Settings, day: dt.date) -> tuple[dict[str, Any], bool]:
    """Delivers the date's tracks (``maestro deliver``), :data:`DEMO_DDEX` filling the DDEX settings left unset.

    Returns:
        (the delivery report as a dict, whether development party ids were used).
    """
    from maestro_pipeline.delivery import run_delivery

    unset = {k: v for k, v in DEMO_DDEX.items() if not getattr(settings, k)}
    return run_delivery(settings.model_copy(update=unset), day).to_dict(), bool(unset)
