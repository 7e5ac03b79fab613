"""Warehouse fixtures: settings under a temp MAESTRO_HOME, a seeded DuckDB, and both backends side by side.

``wh_backend`` runs a test twice: on DuckDB and on Snowflake through fakesnow's server (the real connector over
HTTP on loopback). One fakesnow server serves the whole session; each test gets its own database.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maestro_core.config import Settings, load_settings
from maestro_core.seed import seed_warehouse
from maestro_core.warehouse import Warehouse, connect


@pytest.fixture(scope="session")
def fakesnow_server() -> Iterator[dict[str, Any]]:
    import fakesnow

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fakesnow"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with fakesnow.server() as kw:
        yield kw


def snowflake_settings(kw: dict[str, Any], home: Path, database: str | None = None) -> Settings:
    """Settings that point the Snowflake backend at a fakesnow server, in a fresh database."""
    return load_settings(
        home=home, warehouse_url="snowflake://", snowflake_account=kw["account"], snowflake_user=kw["user"],
        snowflake_password=kw["password"], snowflake_database=database or f"T{uuid.uuid4().hex[:12].upper()}",
        snowflake_schema="CORE", snowflake_host=kw["host"], snowflake_port=kw["port"],
        snowflake_protocol=kw["protocol"], snowflake_network_timeout_s=5,
    )


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("seeded-template")
    with connect(load_settings(home=home)) as wh:
        wh.migrate()
        seed_warehouse(wh)
    return home / "warehouse.duckdb"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _seeded_template: Path) -> Settings:
    """DuckDB settings under a fresh MAESTRO_HOME holding a migrated, seeded warehouse (also set in the env)."""
    home = tmp_path / "maestro-home"
    home.mkdir()
    shutil.copy(_seeded_template, home / "warehouse.duckdb")
    for var in ("MAESTRO_WAREHOUSE_URL", "MAESTRO_STORAGE_URL", "MAESTRO_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MAESTRO_HOME", str(home))
    return load_settings(home=home)


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    """An open connection to the seeded DuckDB warehouse of ``settings``."""
    with connect(settings) as wh:
        yield wh


@pytest.fixture(params=["duckdb", "snowflake"])
def wh_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """A migrated, empty warehouse on each backend in turn."""
    if request.param == "duckdb":
        settings = load_settings(home=tmp_path)
    else:
        settings = snowflake_settings(request.getfixturevalue("fakesnow_server"), tmp_path)
    with connect(settings) as wh:
        wh.migrate()
        yield wh


@pytest.fixture
def warehouse_duckdb(tmp_path: Path) -> Iterator[Warehouse]:
    """A migrated, empty DuckDB warehouse (for behaviour only DuckDB has, like transactional DDL)."""
    with connect(load_settings(home=tmp_path)) as wh:
        wh.migrate()
        yield wh
