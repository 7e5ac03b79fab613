"""The batch pipeline: catalog generation and playlist filling, stage by stage (see ``catalog`` and ``playlist``).

Importing this package is cheap: Ray, the engine and the warehouse drivers load inside the stages that use them.
"""

from __future__ import annotations

from maestro_ai.pipeline.catalog import PipelineOptions, RunReport, run_catalog

__all__ = ["PipelineOptions", "RunReport", "run_catalog"]
