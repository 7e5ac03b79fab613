"""The configured neural checkpoint as a rights-bearing asset: registered in ASSETS, with its licence, before the gate.

A neural engine's output depends on its weights, and the weights carry a licence: MusicGen's released weights are
CC-BY-NC-4.0 (no commercial use), Stable Audio Open's the Stability AI Community License. So when the run's engine
has a checkpoint setting (``config.MODEL_SETTINGS``), the gate stage first upserts (idempotent MERGEs):

* an ASSETS row for the checkpoint: a deterministic id and the sha256 over its weight files
  (``inference.neural.base.model_asset``), kind ``model``, the SPDX licence in SPDX_LICENSE where the warehouse has
  that column, and in the title either way;
* a RIGHTS_HOLDERS row for the weights' licensor;
* a LICENSES row for the published licence, granting what that licence grants by itself
  (``maestro_core.rights.spdx_usages``: for both models, non-commercial usages only).

The gate then checks the checkpoint's own row: a ``commercial_streaming`` request is refused with
``usage_not_granted`` naming the model, unless an operator has added a LICENSES row for that asset that grants it
(a licence bought from the model's owner). Weights that change get a new id, so a licence never silently carries
over to other weights.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from maestro_core.config import MODEL_SETTINGS, Settings
from maestro_core.rights import WORLDWIDE, spdx_usages

if TYPE_CHECKING:
    from inference.engine import AssetUse
    from maestro_core.warehouse import Warehouse

# engine -> (holder id, holder name) of the party that licenses its released weights.
LICENSORS = {"musicgen": ("holder_meta_musicgen", "Meta Platforms (MusicGen weights)"),
             "stable-audio": ("holder_stability_ai", "Stability AI (Stable Audio Open weights)")}
# When each published licence took effect (its VALID_FROM): CC BY-NC 4.0 was published on 2013-11-25, the
# Stability AI Community License on 2024-07-05.
LICENSE_SINCE = {"CC-BY-NC-4.0": dt.date(2013, 11, 25), "LicenseRef-Stability-AI-Community": dt.date(2024, 7, 5)}
SPDX_COLUMN = "SPDX_LICENSE"


def checkpoint_asset(settings: Settings) -> AssetUse | None:
    """The configured checkpoint of the run's engine as an asset (id, path, weights sha256, SPDX licence); None
    for engines without a checkpoint setting, or when it is unset (preflight reports that)."""
    setting = MODEL_SETTINGS.get(settings.engine)
    path = getattr(settings, setting) if setting else None
    if path is None:
        return None
    from inference.neural.base import model_asset

    return model_asset(path, settings.engine)


def model_rows(engine: str, asset: AssetUse) -> dict[str, list[dict[str, Any]]]:
    """The RIGHTS_HOLDERS, ASSETS and LICENSES rows that register ``asset`` (engine ``engine``'s checkpoint)."""
    from maestro_core import schema

    holder_id, holder_name = LICENSORS.get(engine, (f"holder_{engine.replace('-', '_')}_licensor",
                                                    f"{engine} model licensor"))
    spdx = asset.license or "NOASSERTION"
    row: dict[str, Any] = {"ASSET_ID": asset.asset_id, "KIND": "model", "URI": f"file://{asset.path}",
                           "SHA256": asset.sha256, "HOLDER_ID": holder_id,
                           "TITLE": f"{engine} checkpoint {asset.path.rstrip('/').rsplit('/', 1)[-1]} ({spdx})"}
    if any(c.name == SPDX_COLUMN for c in schema.table("ASSETS").columns):
        row[SPDX_COLUMN] = spdx
    published = {"LICENSE_ID": f"lic_{asset.asset_id.removeprefix('asset_')}_published", "ASSET_ID": asset.asset_id,
                 "HOLDER_ID": holder_id, "TERRITORIES": [WORLDWIDE], "USAGES": list(spdx_usages(spdx)),
                 "VALID_FROM": LICENSE_SINCE.get(spdx, dt.date(2000, 1, 1)), "VALID_TO": None, "SHARE_BPS": 0}
    return {"RIGHTS_HOLDERS": [{"HOLDER_ID": holder_id, "NAME": holder_name, "KIND": "model_licensor"}],
            "ASSETS": [row], "LICENSES": [published]}


def register_model_assets(wh: Warehouse, settings: Settings) -> tuple[str, ...]:
    """Upserts the configured checkpoint's rows (one transaction); returns its asset id (none for the composer)."""
    asset = checkpoint_asset(settings)
    if asset is None:
        return ()
    wh.upsert_many(model_rows(settings.engine, asset))
    return (asset.asset_id,)


def gate_asset_ids(engine_ids: tuple[str, ...], checkpoint_ids: tuple[str, ...]) -> tuple[str, ...]:
    """The ASSET_IDs the gate checks: the engine's own, where a registered checkpoint replaces the engine-wide model
    id it refines (``asset_model_musicgen`` -> ``asset_model_musicgen_<sha256[:12]>``), then the checkpoints."""
    kept = [a for a in engine_ids if not any(c.startswith(f"{a}_") for c in checkpoint_ids)]
    return tuple(dict.fromkeys([*kept, *checkpoint_ids]))


def run_asset_ids(settings: Settings, checkpoint_ids: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The ASSET_IDs the gate checks for a run under ``settings``: the engine's, for the options it is built with
    (the SoundFont in use, say), refined by the registered checkpoints (``gate_asset_ids``)."""
    from inference.engine import engine_asset_ids
    from maestro_pipeline.context import engine_options

    return gate_asset_ids(engine_asset_ids(settings.engine, **engine_options(settings)), checkpoint_ids)
