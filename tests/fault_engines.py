"""Engines that fail on purpose, to drive a systemic fault through the real pipeline (CLI, Ray and Airflow).

They are plugged in the way any third-party engine is: ``MAESTRO_ENGINE=tests.fault_engines:RaisingEngine``
(the repo root is on the Ray workers' PYTHONPATH, see tests/plugins/ray.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

VERSION = "0.0.1-fault"


class RaisingEngine:
    """Builds fine, then raises the same error on every request: an engine bug behind a green DAG."""

    name = "raising"
    version = VERSION

    def __init__(self, preload_model: bool = True, **_: Any) -> None:
        self.preload_model = preload_model

    def assets(self) -> list[Any]:
        return []

    def generate(self, request: Any, output_dir: str | Path, progress: Any = None) -> Any:
        raise RuntimeError(f"synthetic engine fault while rendering {request.genre}")
