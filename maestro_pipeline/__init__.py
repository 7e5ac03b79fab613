"""Orchestration: planning, the stages of a run, the Ray fan-out and worker, playlist fill, the royalty run.

Catalog generation and playlist filling run stage by stage (see ``catalog`` and ``playlist``); DAGs wire the same
stages through ``dag_wiring``. Importing this package is cheap (a DAG file imports it at parse time): Ray, the
engine, pyarrow and the warehouse drivers load inside the stages that use them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maestro_pipeline.catalog import PipelineOptions, RunReport, run_catalog

__all__ = ["PipelineOptions", "RunReport", "run_catalog"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("maestro_pipeline.catalog"), name)
    raise AttributeError(f"module 'maestro_pipeline' has no attribute {name!r}")
