"""On-demand C2PA verification of a stored track (``GET /tracks/{id}/c2pa``), through :mod:`maestro_core.verify`.

The page itself shows TRACK_PROVENANCE.MANIFEST_SIGNED (what the pipeline recorded); this verifies the stored bytes
now: manifest, signature chained to the configured CA, and agreement with the warehouse.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from maestro_core.config import Settings
from maestro_core.errors import ConfigError, InputError
from maestro_core.storage import TrackStore
from maestro_core.verify import verify_track
from maestro_core.warehouse import Warehouse


def verify_stored(settings: Settings, store: TrackStore, key: str, wh: Warehouse) -> dict[str, Any]:
    """``{"verified": bool, "checks": [{"name", "ok", "detail"}]}`` for the object at ``key`` (or an ``error``).

    A local store's file is verified in place (its provenance sidecar included); other stores' objects are copied
    to a temporary file first, since the C2PA reader takes a path.
    """
    try:
        if store.protocol == "file":
            report = verify_track(Path(store.uri(key).removeprefix("file://")), settings, wh=wh)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / key.rsplit("/", 1)[-1]
                local.write_bytes(store.read_bytes(key))
                report = verify_track(local, settings, wh=wh)
    except (ConfigError, InputError) as exc:
        return {"verified": False, "checks": [], "error": str(exc)}
    return {"verified": report.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks]}
