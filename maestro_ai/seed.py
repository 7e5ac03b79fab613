"""``maestro seed``: loads the deterministic sample catalog. Re-seeding is idempotent (MERGE on natural keys)."""

from __future__ import annotations

import logging

from maestro_ai import sample_catalog as catalog
from maestro_ai.warehouse import UpsertResult, Warehouse

log = logging.getLogger(__name__)


def seed_warehouse(wh: Warehouse) -> list[UpsertResult]:
    """Upserts holders, assets, licences, blocked terms, prompts, playlists and revenue pools in one transaction.

    Returns the per-table counts; a second call returns zero inserted and zero updated everywhere.
    """
    results = wh.upsert_many({
        "RIGHTS_HOLDERS": catalog.HOLDERS,
        "ASSETS": catalog.asset_rows(),
        "LICENSES": catalog.LICENSES,
        "BLOCKED_TERMS": catalog.BLOCKED_TERMS,
        "PROMPT_CATALOG": catalog.prompts(),
        "PLAYLISTS": catalog.playlists(),
        "REVENUE_POOLS": catalog.revenue_pools(),
    })
    for r in results:
        log.info("seeded", extra={"table": r.table, "inserted": r.inserted, "updated": r.updated})
    return results
