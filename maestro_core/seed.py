"""``maestro seed``: loads the deterministic sample catalog. Re-seeding is idempotent (MERGE on natural keys)."""

from __future__ import annotations

import logging

from maestro_core import sample_catalog as catalog
from maestro_core.warehouse import UpsertResult, Warehouse

log = logging.getLogger(__name__)


def seed_warehouse(wh: Warehouse) -> list[UpsertResult]:
    """Upserts holders, assets, licenses, blocked terms, prompts, playlists and revenue pools.

    Each table is one MERGE (atomic by itself); the load needs no cross-table transaction because every MERGE is
    idempotent, so a seed interrupted midway is completed by running it again. Returns the per-table counts; a
    second call returns zero inserted and zero updated everywhere.
    """
    loads = {
        "RIGHTS_HOLDERS": catalog.HOLDERS,
        "ASSETS": catalog.asset_rows(),
        "LICENSES": catalog.LICENSES,
        "BLOCKED_TERMS": catalog.BLOCKED_TERMS,
        "PROMPT_CATALOG": catalog.prompts(),
        "PLAYLISTS": catalog.playlists(),
        "REVENUE_POOLS": catalog.revenue_pools(),
    }
    results = [wh.upsert(table, rows) for table, rows in loads.items()]
    for r in results:
        log.info("seeded", extra={"table": r.table, "inserted": r.inserted, "updated": r.updated})
    return results
