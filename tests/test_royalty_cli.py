"""``maestro royalties`` and its cluster path: export-inputs, the Spark job on its own, load-outputs, give the same
statements as the one-shot command; bad input exits 2 naming the flag. Also ``maestro analytics list``'s names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobs.royalty_statements import run_royalty_statements
from maestro_ai.cli import run
from tests.test_royalty_job import PERIOD, _warehouse_with_month

STATEMENTS = ("SELECT PERIOD, HOLDER_ID, CURRENCY, STREAMS, AMOUNT FROM ROYALTY_STATEMENTS "
              "ORDER BY PERIOD, HOLDER_ID, CURRENCY")


def _use(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Points the CLI (``load_settings()``) at ``settings``' home and warehouse."""
    monkeypatch.setenv("MAESTRO_HOME", str(settings.home))
    monkeypatch.setenv("MAESTRO_WAREHOUSE_URL", settings.warehouse_url)
    return settings


def _statements(settings: Any) -> list[dict]:
    from maestro_core.warehouse import connect

    with connect(settings) as wh:
        return wh.query(STATEMENTS).to_pylist()


@pytest.fixture(scope="module")
def job_outputs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A month exported by the CLI and computed by the Spark job in-process, as spark-submit would run it."""
    home = tmp_path_factory.mktemp("cli-month")
    settings = _warehouse_with_month(home)
    with pytest.MonkeyPatch.context() as mp:
        _use(settings, mp)
        assert run(["royalties", "export-inputs", "--period", PERIOD, "--out", str(home / "inputs")]) == 0
    run_royalty_statements(spark, str(home / "inputs"), PERIOD, str(home / "out"))
    return {"settings": settings, "inputs": home / "inputs", "out": home / "out"}


@pytest.mark.slow
def test_export_then_the_job_then_load_gives_the_statements_of_the_sql_engine(
        job_outputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from jobs.royalty_statements import INPUT_FILES

    assert sorted(p.name for p in job_outputs["inputs"].iterdir()) == sorted(INPUT_FILES.values())
    capsys.readouterr()
    _use(job_outputs["settings"], monkeypatch)
    assert run(["royalties", "load-outputs", "--period", PERIOD, "--from", str(job_outputs["out"])]) == 0
    loaded = capsys.readouterr().out

    reference = _use(_warehouse_with_month(tmp_path), monkeypatch)
    assert run(["royalties", "--period", PERIOD, "--engine", "sql"]) == 0
    one_shot = capsys.readouterr().out

    rows = _statements(job_outputs["settings"])
    assert rows and rows == _statements(reference)
    assert {type(r["AMOUNT"]).__name__ for r in rows} == {"Decimal"}
    same = lambda text: [line.strip() for line in text.replace("(spark)", "(sql)").splitlines()]  # noqa: E731
    assert same(loaded) == same(one_shot)  # the same table and summary, line for line


@pytest.mark.slow
def test_loading_the_same_outputs_twice_changes_nothing(job_outputs: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from maestro_pipeline.royalty_run import load_period_outputs, read_outputs

    settings = _use(job_outputs["settings"], monkeypatch)
    load_period_outputs(settings, read_outputs(job_outputs["out"], PERIOD))
    before = _statements(settings)
    again = load_period_outputs(settings, read_outputs(job_outputs["out"], PERIOD))
    assert [(r.inserted, r.updated) for r in again.loads[:2]] == [(0, 0), (0, 0)] and again.stale_deleted == 0
    assert _statements(settings) == before


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["statements.parquet", "report.json", "ledger.parquet/_SUCCESS"])
def test_load_outputs_of_a_directory_missing_a_file_exits_2_naming_from(
        job_outputs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], missing: str) -> None:
    partial = shutil.copytree(job_outputs["out"], tmp_path / "out")
    target = partial / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    _use(job_outputs["settings"], monkeypatch)
    before = _statements(job_outputs["settings"])
    capsys.readouterr()
    assert run(["royalties", "load-outputs", "--period", PERIOD, "--from", str(partial)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --from: ") and missing.split("/")[0] in err and "Traceback" not in err
    assert _statements(job_outputs["settings"]) == before


@pytest.mark.slow
def test_load_outputs_of_another_period_exits_2_naming_the_period(
        job_outputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _use(job_outputs["settings"], monkeypatch)
    capsys.readouterr()
    assert run(["royalties", "load-outputs", "--period", "2026-02", "--from", str(job_outputs["out"])]) == 2
    assert f"are for {PERIOD}, not 2026-02" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["royalties", "--period", "2026-13", "--engine", "sql"],
    ["royalties", "export-inputs", "--period", "March", "--out", "inputs"],
    ["royalties", "load-outputs", "--period", "2026-3", "--from", "out"],
])
def test_a_malformed_period_exits_2_naming_the_flag(command: list[str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path))
    assert run(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --period: ") and "accepted: YYYY-MM" in err and "Traceback" not in err
    assert not (tmp_path / "inputs").exists()


@pytest.mark.slow
def test_export_inputs_of_a_month_without_pools_exits_2_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _use(_warehouse_with_month(tmp_path), monkeypatch)
    assert run(["royalties", "export-inputs", "--period", "2026-05", "--out", str(tmp_path / "inputs")]) == 2
    assert "no revenue pool for 2026-05" in capsys.readouterr().err
    assert not (tmp_path / "inputs").exists()


def test_royalties_without_a_command_still_needs_a_period(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["royalties", "--engine", "sql"]) == 2
    err = capsys.readouterr().err
    assert "Missing option '--period'" in err and "Usage" in err


def test_analytics_list_prints_every_query_name_whole_at_80_columns(tmp_path: Path) -> None:
    from maestro_core.analytics import list_queries

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env.update({"COLUMNS": "80", "MAESTRO_HOME": str(tmp_path)})
    out = subprocess.run([sys.executable, "-m", "maestro_ai.cli", "analytics", "list"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    cells = {cell.strip() for line in out.stdout.splitlines() for cell in line.split("│")}
    assert {q.name for q in list_queries()} <= cells
