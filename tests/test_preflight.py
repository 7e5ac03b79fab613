"""Preflight: a run that cannot work fails in seconds, naming the setting, and changes nothing it found.

Every case starts from a home whose date already completed (a ``success`` run row and its generated request), so
"changes nothing" also proves that a failed start never rewrites a completed run.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from maestro_ai.cli import run
from maestro_core.config import load_settings
from maestro_core.warehouse import connect
from maestro_pipeline.preflight import PreflightFailed, check_store, preflight

RUN_DATE = "2026-11-21"
RUN_ID = f"maestro_catalog_generation__{RUN_DATE}"


@pytest.fixture
def completed_home(make_home, monkeypatch):
    """A seeded home (with keys) where RUN_DATE completed: its run row says success with one track's request."""
    settings = make_home("preflight")
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG", "MAESTRO_SIGNING_CERT_PATH",
                "MAESTRO_SIGNING_KEY_PATH", "MAESTRO_SOUNDFONT_PATH", "MAESTRO_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MAESTRO_HOME", str(settings.home))
    finished = dt.datetime(2026, 11, 21, 3, 0, 0)
    with connect(settings) as wh:
        wh.upsert("GENERATION_RUNS", [{"RUN_ID": RUN_ID, "DAG_ID": "maestro_catalog_generation",
                                       "LOGICAL_DATE": dt.date(2026, 11, 21), "ENGINE": "composer",
                                       "STARTED_AT": finished - dt.timedelta(minutes=5), "FINISHED_AT": finished,
                                       "STATUS": "success", "COUNTS": json.dumps({"generated": 1}), "REASON": None}])
        wh.upsert("GENERATION_REQUESTS", [{"REQUEST_ID": "req-done", "RUN_ID": RUN_ID, "PROMPT_ID": "prm_0025",
                                           "PLAYLIST_ID": None, "ORDINAL": 0, "SEED": 1, "STATUS": "generated",
                                           "REASONS": "[]", "UPDATED_AT": finished}])
    return settings


def snapshot(settings) -> tuple[list, list, list]:
    """Every run row, every request row, and every file under the home except the warehouse itself."""
    with connect(settings) as wh:
        runs = wh.query("SELECT * FROM GENERATION_RUNS ORDER BY RUN_ID").to_pylist()
        requests = wh.query("SELECT * FROM GENERATION_REQUESTS ORDER BY REQUEST_ID").to_pylist()
    files = sorted(str(p.relative_to(settings.home)) for p in Path(settings.home).rglob("*")
                   if p.is_file() and not p.name.startswith("warehouse.duckdb"))
    return runs, requests, files


def _bad_soundfont(tmp: Path) -> dict[str, str]:
    path = tmp / "broken.sf2"
    path.write_bytes(b"this is not a SoundFont")
    return {"MAESTRO_SOUNDFONT_PATH": str(path)}


def _store_under_a_file(tmp: Path) -> dict[str, str]:
    (tmp / "a-file").write_text("x")
    return {"MAESTRO_STORAGE_URL": f"file://{tmp / 'a-file' / 'tracks'}"}


def _missing_configured_keys(tmp: Path) -> dict[str, str]:
    return {"MAESTRO_SIGNING_CERT_PATH": str(tmp / "prod" / "signer.pem"),
            "MAESTRO_SIGNING_KEY_PATH": str(tmp / "prod" / "signer.key")}


CASES = {
    "unwritable store": (_store_under_a_file, [], "MAESTRO_STORAGE_URL"),
    "missing configured keys": (_missing_configured_keys, [], "MAESTRO_SIGNING_CERT_PATH"),
    "broken SoundFont path": (_bad_soundfont, [], "MAESTRO_SOUNDFONT_PATH"),
    "soundfont is a directory": (lambda tmp: {"MAESTRO_SOUNDFONT_PATH": str(tmp)}, [], "MAESTRO_SOUNDFONT_PATH"),
    "zero workers": (lambda tmp: {}, ["--workers", "0"], "--workers"),
    "negative duration": (lambda tmp: {}, ["--duration", "-5"], "--duration"),
    "a date in year 1": (lambda tmp: {}, ["--date", "0001-01-01"], "--date"),
    "a date without dashes": (lambda tmp: {}, ["--date", "20261120"], "--date"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_run_that_cannot_work_fails_in_preflight_naming_the_setting_and_changes_nothing(
        case, completed_home, tmp_path, monkeypatch, capsys):
    make_env, flags, named = CASES[case]
    for key, value in make_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    before = snapshot(completed_home)
    started = time.perf_counter()
    code = run(["run", "catalog", "--date", RUN_DATE, *flags])
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2, err
    assert seconds < 10
    assert named in err and "Traceback" not in err
    assert all(line.startswith("error: ") for line in err.strip().splitlines())
    assert snapshot(completed_home) == before  # the completed run's row and requests, and no file written


def test_preflight_lists_every_problem_at_once(completed_home, tmp_path):
    settings = load_settings(**{"soundfont_path": str(tmp_path), "signing_cert_path": str(tmp_path / "nope.pem"),
                                "signing_key_path": str(tmp_path / "nope.key")})
    with pytest.raises(PreflightFailed) as info:
        preflight(settings)
    text = str(info.value)
    assert "MAESTRO_SOUNDFONT_PATH" in text and "MAESTRO_SIGNING_CERT_PATH" in text
    assert len(info.value.problems) == len(text.splitlines()) >= 2


def test_a_warehouse_never_initialised_is_named_with_its_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path / "fresh"))
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    assert run(["run", "catalog", "--date", RUN_DATE]) == 2
    err = capsys.readouterr().err
    assert "MAESTRO_WAREHOUSE_URL" in err and "maestro init" in err
    assert not (tmp_path / "fresh" / "warehouse.duckdb").exists()  # preflight created nothing


def test_a_warehouse_initialised_but_not_seeded_names_the_missing_platform_holder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path / "h"))
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    assert run(["init"]) == 0
    capsys.readouterr()
    assert run(["run", "catalog", "--date", RUN_DATE]) == 2
    assert "RIGHTS_HOLDERS" in capsys.readouterr().err


def test_the_store_probe_leaves_no_object_behind(tmp_path):
    url = f"file://{tmp_path / 'store'}"
    check_store(url)
    assert list((tmp_path / "store").iterdir()) == []
    check_store("memory://preflight-probe")


def test_keys_init_into_a_path_under_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path / "h"))
    (tmp_path / "f").write_text("x")
    assert run(["keys", "init", "--dir", str(tmp_path / "f" / "keys")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_init_creates_development_keys_once_and_never_over_configured_ones(tmp_path, monkeypatch, capsys):
    from maestro_core.signing_keys import KeyConfig, ensure_development_keys

    home = tmp_path / "h"
    monkeypatch.setenv("MAESTRO_HOME", str(home))
    assert run(["init"]) == 0
    out = capsys.readouterr().out
    assert "development" in out and str(home / "keys") in out.replace("\n", "")
    keys = KeyConfig.from_settings(load_settings())
    assert keys.is_development() and keys.read_signing_material()
    assert (home / "keys" / "signer.key").stat().st_mode & 0o777 == 0o600
    first = keys.cert_path.read_bytes()
    assert run(["init"]) == 0 and keys.cert_path.read_bytes() == first  # idempotent: keys are kept
    configured = load_settings(signing_cert_path=str(tmp_path / "prod.pem"), signing_key_path=str(tmp_path / "k"))
    assert ensure_development_keys(configured) is None
    assert not (tmp_path / "prod.pem").exists()
