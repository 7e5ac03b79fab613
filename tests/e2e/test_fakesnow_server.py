"""An operator runs Maestro against a Snowflake stand-in exactly as against Snowflake: fakesnow's server as its own
process on loopback, the real ``maestro`` command, and nothing but ``MAESTRO_*`` settings telling them apart.

The server keeps its databases in memory, shared by every connection, for as long as it runs: fakesnow 0.12.1
ignores ``-d DB_PATH`` with ``-s``. Every subprocess is bounded; the server is stopped by its PID.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    LOOPBACK,
    REPO_ROOT,
    VENV_BIN,
    Services,
    base_env,
    free_port,
    maestro,
    port_open,
    wait_for,
)

RUN_DATE = "2026-11-15"
DURATION_S = 5
SERVER_START_S = 60
# fakesnow accepts any user, account and password; the password is distinctive so a leak would show.
WAREHOUSE_URL = "snowflake://fake@fakesnow/MAESTRO/CORE"
PASSWORD = "stand-in-password-7f3a"
# Two prompts the sample licenses allow and one the rights gate rejects (as in tests/test_systemic_faults.py).
SMALL_CATALOG = "UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID IN ('prm_0025', 'prm_0030', 'prm_0019')"
REJECTED_PROMPT = "prm_0019"
# Runs in a subprocess with the operator's env: keeps the run small and prints the active prompts' genres.
SHRINK_CATALOG = f"""
import json
from maestro_core.config import load_settings
from maestro_core.warehouse import connect
with connect(load_settings()) as wh:
    wh.execute("{SMALL_CATALOG}")
    rows = wh.query("SELECT PROMPT_ID, GENRE FROM PROMPT_CATALOG WHERE ACTIVE").to_pylist()
print(json.dumps({{r["PROMPT_ID"]: r["GENRE"] for r in rows}}))
"""


@pytest.fixture(scope="module")
def operator_env(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """fakesnow's server started from the shell on a free loopback port, and the env that points Maestro at it.

    The server is stopped by its PID when this module's tests are done.
    """
    port = free_port()
    server = services.start("fakesnow", [str(VENV_BIN / "fakesnow"), "-s", "--host", LOOPBACK, "--port", str(port)],
                            env=base_env())

    def ready() -> bool:
        if server.process.poll() is not None:
            pytest.fail(f"fakesnow exited with {server.process.returncode}:\n{server.log_tail()}")
        return port_open(port)

    wait_for(ready, SERVER_START_S, f"fakesnow's server on {LOOPBACK}:{port}")
    yield base_env(
        MAESTRO_HOME=str(tmp_path_factory.mktemp("maestro-home")),
        MAESTRO_WAREHOUSE_URL=WAREHOUSE_URL,
        MAESTRO_SNOWFLAKE_PASSWORD=PASSWORD,
        MAESTRO_SNOWFLAKE_HOST=LOOPBACK,
        MAESTRO_SNOWFLAKE_PORT=str(port),
        MAESTRO_SNOWFLAKE_PROTOCOL="http",
        MAESTRO_SNOWFLAKE_LOGIN_TIMEOUT_S="10",
        # The connector retries fakesnow's HTTP 500s until this runs out: keep failures quick.
        MAESTRO_SNOWFLAKE_NETWORK_TIMEOUT_S="10",
    )
    server.stop()


@pytest.fixture(scope="module")
def active_genres(operator_env: dict[str, str]) -> dict[str, str]:
    """After ``maestro init`` and ``maestro seed``: the small catalog's active prompts and their genres."""
    init = _ok(maestro(["init"], operator_env, timeout_s=120))
    assert "warehouse snowflake ready" in init.stdout
    assert (Path(operator_env["MAESTRO_HOME"]) / "keys").is_dir(), init.stdout
    _ok(maestro(["seed"], operator_env, timeout_s=120))
    shrink = _ok(subprocess.run([str(VENV_BIN / "python"), "-c", SHRINK_CATALOG], env=operator_env, cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=60))
    return json.loads(shrink.stdout)


@pytest.fixture(scope="module")
def first_run(operator_env: dict[str, str], active_genres: dict[str, str]) -> dict[str, Any]:
    """The JSON report of the first ``maestro run catalog`` for RUN_DATE."""
    return _run_catalog(operator_env)


def test_catalog_run_through_the_cli_generates_tracks_and_reports_json_only(first_run: dict[str, Any],
                                                                            active_genres: dict[str, str]) -> None:
    counts = first_run["counts"]
    assert counts["tracks"] >= 1 and counts["failed"] == 0
    assert counts["generated"] == counts["tracks"] == first_run["generated_now"]
    assert counts["rejected"] == 1 and counts["generated"] + counts["rejected"] == len(active_genres)
    assert first_run["changed_rows"] > 0


def test_rerun_of_same_date_changes_nothing(operator_env: dict[str, str], first_run: dict[str, Any]) -> None:
    again = _run_catalog(operator_env)
    assert (again["changed_rows"], again["generated_now"], again["failed_now"]) == (0, 0, 0)
    assert again["counts"] == first_run["counts"]
    assert again["run_id"] == first_run["run_id"]


def test_analytics_through_the_cli_agree_with_the_catalog_run(operator_env: dict[str, str], first_run: dict[str, Any],
                                                              active_genres: dict[str, str]) -> None:
    listing = _ok(maestro(["analytics", "list"], operator_env, timeout_s=60)).stdout
    for name in ("generation_volume_by_genre_day", "rejection_reasons_by_genre_day", "catalog_coverage",
                 "provenance_audit"):
        assert name in listing

    volume = _analytics(operator_env, "generation_volume_by_genre_day")
    by_status: dict[str, int] = {}
    for row in volume:
        by_status[row["STATUS"]] = by_status.get(row["STATUS"], 0) + int(row["REQUESTS"])
    assert by_status == {"generated": first_run["counts"]["tracks"], "rejected": first_run["counts"]["rejected"]}
    assert {row["GENRE"] for row in volume} <= set(active_genres.values())

    reasons = _analytics(operator_env, "rejection_reasons_by_genre_day")
    assert [(r["GENRE"], r["STATUS"], int(r["REQUESTS"])) for r in reasons] == [
        (active_genres[REJECTED_PROMPT], "rejected", 1)]
    assert reasons[0]["REASON"] == "blocked_term"  # the first reason's code, not its whole JSON

    missing = _analytics(operator_env, "catalog_coverage")
    assert [(r["PROMPT_ID"], int(r["TRACKS"])) for r in missing] == [(REJECTED_PROMPT, 0)]
    assert _analytics(operator_env, "provenance_audit") == []


def test_an_unreachable_stand_in_fails_init_within_the_login_timeout_naming_the_warehouse(
        operator_env: dict[str, str], tmp_path: Path) -> None:
    nobody = {**operator_env, "MAESTRO_HOME": str(tmp_path / "home"), "MAESTRO_SNOWFLAKE_PORT": str(free_port()),
              "MAESTRO_SNOWFLAKE_LOGIN_TIMEOUT_S": "5"}
    started = time.monotonic()
    result = maestro(["init"], nobody, timeout_s=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cannot reach the Snowflake warehouse (account 'fakesnow')" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert time.monotonic() - started < 30


def _run_catalog(env: dict[str, str]) -> dict[str, Any]:
    """``maestro run catalog --json``; stdout must be exactly one JSON report."""
    result = _ok(maestro(["run", "catalog", "--date", RUN_DATE, "--duration", str(DURATION_S), "--json"], env,
                         timeout_s=240))
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout of `maestro run catalog --json` is not only JSON:\n{result.stdout[-4000:]}")


def _analytics(env: dict[str, str], name: str) -> list[dict[str, str]]:
    """The rows of ``maestro analytics run NAME --format csv`` (stdout is the CSV)."""
    result = _ok(maestro(["analytics", "run", name, "--format", "csv"], env, timeout_s=60))
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (f"{result.args} exited {result.returncode}\nstdout:\n{result.stdout[-4000:]}"
                                    f"\nstderr:\n{result.stderr[-4000:]}")
    return result
