"""The main job on the production backend: the catalog run against Snowflake (fakesnow's server, the real
connector over HTTP), the same code and SQL as on DuckDB, changed only by configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from maestro_core.seed import seed_warehouse
from maestro_core.signing_keys import default_keys_dir, init_keys
from maestro_core.warehouse import connect
from maestro_pipeline import PipelineOptions, run_catalog
from tests.plugins.warehouse import snowflake_settings

DAY = dt.date(2026, 11, 15)
# Two prompts the sample licenses allow (one with a co-published melody seed) and two the gate rejects.
PROMPTS = ("prm_0001", "prm_0005", "prm_0008", "prm_0019")


def test_catalog_run_on_snowflake_loads_tracks_and_a_rerun_changes_nothing(fakesnow_server, ray_cluster,
                                                                           tmp_path: Path) -> None:
    settings = snowflake_settings(fakesnow_server, tmp_path)
    with connect(settings) as wh:
        wh.migrate()
        seed_warehouse(wh)
        wh.execute("UPDATE PROMPT_CATALOG SET ACTIVE = (PROMPT_ID IN (:a, :b, :c, :d))",
                   dict(zip("abcd", PROMPTS, strict=True)))
    init_keys(default_keys_dir(settings))

    first = run_catalog(settings, DAY, PipelineOptions(duration_s=5))
    assert (first.counts["generated"], first.counts["rejected"], first.counts["failed"]) == (2, 2, 0)
    with connect(settings) as wh:
        before = {t: wh.query(f"SELECT * FROM {t} ORDER BY 1, 2").to_pylist()
                  for t in ("TRACKS", "TRACK_PROVENANCE", "ROYALTY_SPLITS", "GENERATION_REQUESTS", "ISRC_REGISTRY")}
        shares = wh.query("SELECT TRACK_ID, SHARE_BPS FROM ROYALTY_SPLITS").to_pylist()
    assert len(before["TRACKS"]) == 2 and len(before["TRACK_PROVENANCE"]) == 2
    totals: dict[str, int] = {}
    for row in shares:
        totals[row["TRACK_ID"]] = totals.get(row["TRACK_ID"], 0) + int(row["SHARE_BPS"])
    assert set(totals.values()) == {10000}
    rejected = {r["PROMPT_ID"] for r in before["GENERATION_REQUESTS"] if r["STATUS"] == "rejected"}
    assert rejected == {"prm_0008", "prm_0019"}

    again = run_catalog(settings, DAY, PipelineOptions(duration_s=5))
    assert again.counts == first.counts
    with connect(settings) as wh:
        after = {t: wh.query(f"SELECT * FROM {t} ORDER BY 1, 2").to_pylist() for t in before}
    assert after == before
