"""Pipeline fixtures: fresh seeded Maestro homes (warehouse copy + signing keys) for end-to-end runs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from maestro_core.config import Settings, load_settings

RUN_DATE = "2026-11-15"  # inside the sample licenses' windows; some prompts are rejected on it
TEST_DURATION_S = 5  # seconds per track in tests


@pytest.fixture(scope="session")
def make_home(tmp_path_factory: pytest.TempPathFactory, _seeded_template: Path) -> Callable[[str], Settings]:
    """Builds a new MAESTRO_HOME holding a copy of the seeded warehouse and development signing keys."""
    from maestro_core.signing_keys import default_keys_dir, init_keys

    def build(name: str) -> Settings:
        home = tmp_path_factory.mktemp(f"home-{name}")
        shutil.copy(_seeded_template, home / "warehouse.duckdb")
        settings = load_settings(home=home)
        init_keys(default_keys_dir(settings))
        return settings

    return build
