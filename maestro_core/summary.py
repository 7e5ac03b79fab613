"""What is in the warehouse: row counts per table and the catalog at a glance (``maestro summary``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from maestro_core import schema
from maestro_core.warehouse import Warehouse


@dataclass(frozen=True)
class WarehouseSummary:
    backend: str
    row_counts: dict[str, int]
    prompts_by_genre: list[dict[str, Any]]
    licenses_by_state: list[dict[str, Any]]
    pools_by_period: list[dict[str, Any]]


def summarize(wh: Warehouse) -> WarehouseSummary:
    """Counts every table the migrations define, plus three catalog breakdowns."""
    counts = {}
    for name in sorted(schema.tables()):
        counts[name] = int(wh.scalar_file("tables/row_count.sql", table=name)) if wh.table_exists(name) else 0
    return WarehouseSummary(
        backend=wh.backend,
        row_counts=counts,
        prompts_by_genre=wh.query_file("queries/summary_prompts_by_genre.sql").to_pylist(),
        licenses_by_state=wh.query_file("queries/summary_licenses_by_state.sql").to_pylist(),
        pools_by_period=wh.query_file("queries/summary_pools_by_period.sql").to_pylist(),
    )
