"""Running Airflow outside compose: the environment every Airflow process (and the tasks it runs) needs.

Airflow 3 splits into an api-server, a scheduler and a dag-processor; tasks talk to the api-server's execution API,
signed with a JWT secret every process must share. ``maestro airflow env`` prints these variables for a shell
(``eval "$(maestro airflow env)"``), and the end-to-end tests start the real services with them. Everything binds
to loopback unless told otherwise; the scheduler is meant to run with ``--skip-serve-logs`` (``airflow standalone``
serves logs on all interfaces).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from maestro_core.atomic import write_bytes_atomic
from maestro_core.config import Settings

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"
JWT_SECRET_FILE = "jwt_secret"


def airflow_home(settings: Settings) -> Path:
    return settings.home / "airflow"


def jwt_secret_path(settings: Settings) -> Path:
    """The file holding the api-server's JWT secret (32 random bytes, hex; mode 0600), created on first use."""
    path = airflow_home(settings) / JWT_SECRET_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, secrets.token_hex(32).encode(), 0o600)
    return path


def airflow_environment(settings: Settings, *, executor: str = "LocalExecutor", host: str = "127.0.0.1",
                        port: int = 8080, with_secret: bool = True) -> dict[str, str]:
    """The variables for an Airflow under ``$MAESTRO_HOME/airflow`` (SQLite) that runs the repo's ``dags/``.

    Args:
        settings: Maestro's settings (MAESTRO_HOME is exported too, so tasks see the same home).
        executor: Airflow's executor (LocalExecutor runs each task as a local process).
        host, port: where the api-server listens; tasks reach its execution API there.
        with_secret: include the JWT secret's value (False leaves it out, for printing).
    """
    home = airflow_home(settings)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{port}/execution/",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "MAESTRO_HOME": str(settings.home),
    }
    if with_secret:
        env["AIRFLOW__API_AUTH__JWT_SECRET"] = jwt_secret_path(settings).read_text().strip()
    return env


def shell_exports(settings: Settings, **kwargs: object) -> str:
    """``export`` lines for a POSIX shell; the JWT secret is read from its file, never printed."""
    import shlex

    lines = [f"export {k}={shlex.quote(v)}" for k, v in airflow_environment(settings, with_secret=False,
                                                                            **kwargs).items()]  # type: ignore[arg-type]
    lines.append(f'export AIRFLOW__API_AUTH__JWT_SECRET="$(cat {shlex.quote(str(jwt_secret_path(settings)))})"')
    return "\n".join(lines)
