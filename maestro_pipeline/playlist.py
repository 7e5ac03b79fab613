"""Playlist fill: top up playlists below TARGET_TRACKS with new tracks that fit their genre, mood and tempo window.

Stages: open run -> plan (per playlist, the missing count; keys walk the circle of fifths and tempos step
through the window) -> gate -> generate on Ray -> load (same path as catalog generation) -> append (smooth order,
positions after the current last) -> close.

One run per day (``maestro_playlist_fill__YYYY-MM-DD``): the hourly schedule re-runs the day, which is a no-op
unless a target grew or a request failed. A playlist never exceeds its target: tracks this day's run already
placed count as done, and appends stop at the target.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from maestro_core.config import Settings
from maestro_pipeline import catalog, planning, records, staging, tables
from maestro_pipeline.catalog import PipelineOptions, RunReport
from maestro_pipeline.context import PLAYLIST_DAG_ID, RunContext, warehouse
from maestro_pipeline.ordering import plan_keys_and_tempos, smooth_order

if TYPE_CHECKING:
    from maestro_core.warehouse import Warehouse

log = logging.getLogger(__name__)


def context(settings: Settings, logical_date: Any, airflow: dict[str, Any] | None = None) -> RunContext:
    return RunContext.create(settings, PLAYLIST_DAG_ID, logical_date, airflow)


def plan_stage(ctx: RunContext, options: PipelineOptions) -> str:
    """Requests for every playlist below target, recorded as ``planned``; returns the staged table's path."""
    with warehouse(ctx.settings) as wh:
        playlists = wh.query_file("playlists/playlists.sql").to_pylist()
        prompts = wh.query_file("playlists/catalog_prompts.sql").to_pylist()
        plans = []
        for playlist in playlists:
            state = _playlist_state(wh, playlist["PLAYLIST_ID"], ctx.run_id)
            needed = max(0, int(playlist["TARGET_TRACKS"]) - (state["count"] - state["from_run"]))
            if needed:
                plans.append(_plan_playlist(wh, ctx, playlist, prompts, needed, state["last_before_run"], options))
        planned = pa.concat_tables(plans) if plans else tables.REQUEST_TABLE.empty_table()
        planned = catalog.refuse_unsupported(ctx, planned)
        records.record_planned(wh, planned)
    planned = planning.with_descriptors(planned)  # text understanding once per phrase list, here in the driver
    return staging.write_stage(catalog.stage_store(ctx), ctx.run_id, "planned", planned)


def append_stage(ctx: RunContext) -> dict[str, int]:
    """Appends this run's generated tracks to their playlists in smooth order, never past TARGET_TRACKS."""
    appended: dict[str, int] = {}
    with warehouse(ctx.settings) as wh:
        playlists = wh.query_file("playlists/playlists.sql").to_pylist()
        with wh.transaction():
            for playlist in playlists:
                rows = _append_rows(wh, ctx, playlist)
                if rows:
                    wh.upsert("PLAYLIST_TRACKS", rows)
                    appended[playlist["PLAYLIST_ID"]] = len(rows)
    log.info("playlists filled", extra={"run_id": ctx.run_id, "appended": appended})
    return appended


def run_playlist_fill(settings: Settings, logical_date: Any, options: PipelineOptions | None = None,
                      airflow: dict[str, Any] | None = None) -> RunReport:
    """The whole playlist fill for one day in this process (the CLI calls this; Airflow calls the stages).

    The same stages as catalog generation (:func:`~maestro_pipeline.catalog.run_stages`), planned per
    playlist, with the append after the load; the report's counts add ``appended``.
    """
    report = catalog.run_stages(context(settings, logical_date, airflow), options or PipelineOptions(), plan_stage,
                                after_load=lambda ctx: {"appended": sum(append_stage(ctx).values())})
    return report


def _playlist_state(wh: Warehouse, playlist_id: str, run_id: str) -> dict[str, Any]:
    rows = wh.query_file("playlists/playlist_tracks.sql", {"pl": playlist_id}).to_pylist()
    before_run = [r for r in rows if r["RUN_ID"] != run_id]
    # The plan starts next to the last track placed by *earlier* runs, so a rerun plans exactly the same requests.
    return {"count": len(rows), "from_run": len(rows) - len(before_run),
            "last_before_run": before_run[-1] if before_run else None, "last": rows[-1] if rows else None,
            "rows": rows}


def _plan_playlist(wh: Warehouse, ctx: RunContext, playlist: Mapping[str, Any], prompts: list[dict[str, Any]],
                   needed: int, last: Mapping[str, Any] | None, options: PipelineOptions) -> pa.Table:
    template = _template(playlist, prompts)
    minor = "minor" in str(template.get("MUSICAL_KEY") or "").lower() or playlist["MOOD"] in (
        "melancholic", "dark", "tense")
    steps = plan_keys_and_tempos(needed, playlist["TEMPO_MIN"], playlist["TEMPO_MAX"],
                                 (last or {}).get("MUSICAL_KEY"), (last or {}).get("TEMPO_BPM"), minor)
    variants = [{**template, "TARGET_COUNT": 1, "MUSICAL_KEY": key, "TEMPO_BPM": tempo,
                 "_ID_KEY": f"playlist:{playlist['PLAYLIST_ID']}|{template['PROMPT_ID']}|{i}"}
                for i, (key, tempo) in enumerate(steps)]
    keys = [v["_ID_KEY"] for v in variants]
    ids = [planning.plan_requests([v], ctx.run_id, ctx.logical_date, ctx.engine_version, {},
                                  id_key=lambda p: p["_ID_KEY"])["REQUEST_ID"][0].as_py() for v in variants]
    existing = {rid: row["STATUS"] for rid, row in records.existing_statuses(wh, ids).items()}
    tables = [planning.plan_requests([v], ctx.run_id, ctx.logical_date, ctx.engine_version, existing,
                                     duration_override_s=options.duration_s, validate_style=catalog.style_check(ctx),
                                     id_key=lambda p: p["_ID_KEY"], playlist_id=playlist["PLAYLIST_ID"])
              for v in variants]
    table = pa.concat_tables(tables)
    return planning.assign(table, "ORDINAL", {rid: i for i, rid in enumerate(ids)}) if keys else table


def _template(playlist: Mapping[str, Any], prompts: list[dict[str, Any]]) -> dict[str, Any]:
    """The catalog prompt closest to the playlist (same genre and mood, else same genre), or one made from it."""
    for match in (lambda p: p["GENRE"] == playlist["GENRE"] and p["MOOD"] == playlist["MOOD"],
                  lambda p: p["GENRE"] == playlist["GENRE"]):
        found = [p for p in prompts if match(p) and not p.get("MELODY_SEED_ASSET_ID")]
        if found:
            return {**found[0], "MOOD": playlist["MOOD"], "ACTIVE": True}
    return {"PROMPT_ID": f"playlist:{playlist['PLAYLIST_ID']}", "GENRE": playlist["GENRE"],
            "MOOD": playlist["MOOD"], "KEY_PHRASES": json.dumps([playlist["NAME"]]), "DURATION_S": 30,
            "MELODY_SEED_ASSET_ID": None, "TERRITORIES": json.dumps(["WW"]), "PRIORITY": 1, "ACTIVE": True}


def _append_rows(wh: Warehouse, ctx: RunContext, playlist: Mapping[str, Any]) -> list[dict[str, Any]]:
    state = _playlist_state(wh, playlist["PLAYLIST_ID"], ctx.run_id)
    room = int(playlist["TARGET_TRACKS"]) - state["count"]
    if room <= 0:
        return []
    placed = {r["TRACK_ID"] for r in state["rows"]}
    fresh = wh.query_file("playlists/run_tracks.sql", {"pl": playlist["PLAYLIST_ID"], "run": ctx.run_id}).to_pylist()
    fresh = [t for t in fresh if t["TRACK_ID"] not in placed]
    ordered = smooth_order(fresh, after=state["last"])[:room]
    start = (max((r["POSITION"] for r in state["rows"]), default=0)) + 1
    return [{"PLAYLIST_ID": playlist["PLAYLIST_ID"], "POSITION": start + i, "TRACK_ID": t["TRACK_ID"]}
            for i, t in enumerate(ordered)]
