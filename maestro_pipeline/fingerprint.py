"""Fingerprints that show a rerun changed nothing: per-table row counts and content hashes, and stored objects."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

PIPELINE_TABLES = ("GENERATION_RUNS", "GENERATION_REQUESTS", "TRACKS", "TRACK_PROVENANCE", "ROYALTY_SPLITS",
                   "PLAYLIST_TRACKS", "ISRC_REGISTRY")


@dataclass(frozen=True)
class Fingerprint:
    """``tables``: table -> (rows, sha256 of its sorted rows); ``objects``: delivered key -> sha256."""

    tables: dict[str, tuple[int, str]]
    objects: dict[str, str]

    def differences(self, other: Fingerprint) -> list[str]:
        """Human lines naming every table or object that differs (empty when nothing changed)."""
        out = []
        for name in sorted(set(self.tables) | set(other.tables)):
            if self.tables.get(name) != other.tables.get(name):
                before, after = self.tables.get(name, (0, "")), other.tables.get(name, (0, ""))
                out.append(f"{name}: {before[0]} -> {after[0]} rows" + (" (content changed)"
                                                                         if before[0] == after[0] else ""))
        added = sorted(set(other.objects) - set(self.objects))
        removed = sorted(set(self.objects) - set(other.objects))
        rewritten = sorted(k for k in set(self.objects) & set(other.objects) if self.objects[k] != other.objects[k])
        for label, keys in (("new object", added), ("removed object", removed), ("rewritten object", rewritten)):
            out.extend(f"{label}: {k}" for k in keys)
        return out


def table_fingerprint(wh: Warehouse, table: str) -> tuple[int, str]:
    """(row count, sha256 over the table's rows sorted as canonical JSON)."""
    rows = wh.query_file("tables/all_rows.sql", table=table).to_pylist()
    lines = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return len(rows), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def fingerprint(settings: Any, tables: tuple[str, ...] = PIPELINE_TABLES) -> Fingerprint:
    """The fingerprint of the pipeline's tables and of every delivered object in storage."""
    from maestro_core.storage import TrackStore
    from maestro_pipeline.context import warehouse
    from maestro_pipeline.staging import delivered_fingerprint

    with warehouse(settings) as wh:
        prints = {t: table_fingerprint(wh, t) for t in tables if wh.table_exists(t)}
    return Fingerprint(prints, delivered_fingerprint(TrackStore(settings.storage_url)))
