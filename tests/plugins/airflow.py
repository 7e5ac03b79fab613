"""One Airflow environment per test session: a throwaway SQLite ``AIRFLOW_HOME``, migrated once (~3 s).

``airflow_env`` sets the environment (before Airflow is imported in this process), runs ``airflow db migrate``
once in a subprocess, and yields the home. ``dags_folder`` is the repo's ``dags/``; examples are not loaded.
Other areas (e.g. the royalties DAG tests) reuse this fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"


@dataclass(frozen=True)
class AirflowEnv:
    """The session's Airflow: its home and the DAGs folder it parses."""

    home: Path
    dags_folder: Path

    def dagbag(self):
        """A DagBag of the repo's DAGs (import errors in ``.import_errors``)."""
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=str(self.dags_folder))


def airflow_environment(home: Path, dags_folder: Path = DAGS_FOLDER) -> dict[str, str]:
    """The variables that make Airflow use ``home`` with SQLite and ``dags_folder`` (also used by ``maestro demo``)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "MAESTRO_TASK_RETRY_DELAY_S": "1",  # a failing task retries after 1, 2, 4 s instead of 30, 60, 120 s
    }


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory):
    """The session's Airflow home (SQLite, migrated once); the variables stay set for the whole session."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_environment(home)
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(home):
        # Airflow reads its configuration at import: it must not have been imported with another home.
        imported_with = os.environ.get("AIRFLOW_HOME")
        if imported_with is None:
            pytest.fail("airflow was imported before airflow_env set AIRFLOW_HOME; request airflow_env first")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stderr[-3000:]}")
    yield AirflowEnv(home, DAGS_FOLDER)
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
