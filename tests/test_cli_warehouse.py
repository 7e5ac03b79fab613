"""The CLI as a user runs it: init, seed, summary, and errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def maestro(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    full_env.update({"MAESTRO_HOME": str(home), "COLUMNS": "200", **env})
    return subprocess.run([sys.executable, "-m", "maestro_ai.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_init_seed_summary_from_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert maestro("init", home=home).returncode == 0
    seeded = maestro("seed", home=home)
    assert seeded.returncode == 0 and "PROMPT_CATALOG" in seeded.stdout
    summary = maestro("summary", home=home)
    assert summary.returncode == 0
    assert "PROMPT_CATALOG" in summary.stdout and "48" in summary.stdout and "lofi-chill" in summary.stdout
    again = maestro("seed", home=home)
    assert "│ 48       │" not in again.stdout and "unchanged" in again.stdout


def test_a_wrong_warehouse_url_is_one_clear_line_without_traceback(tmp_path: Path) -> None:
    result = maestro("init", home=tmp_path, MAESTRO_WAREHOUSE_URL="mysql://db/x")
    assert result.returncode == 2
    assert "MAESTRO_WAREHOUSE_URL" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_snowflake_setting_is_named(tmp_path: Path) -> None:
    result = maestro("init", home=tmp_path, MAESTRO_WAREHOUSE_URL="snowflake://", MAESTRO_SNOWFLAKE_PASSWORD="pw")
    assert result.returncode == 2
    assert "MAESTRO_SNOWFLAKE_ACCOUNT" in result.stderr and "Traceback" not in result.stderr
    assert "pw" not in result.stderr.replace("MAESTRO_SNOWFLAKE_PASSWORD", "")
