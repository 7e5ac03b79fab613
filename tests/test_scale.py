"""Scale without surprises: stage tables stream in row groups, carry the pool's statistics, and the load decodes
only the columns it needs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest

from maestro_core.storage import TrackStore
from maestro_pipeline import catalog, staging
from maestro_pipeline.catalog import PipelineOptions
from maestro_pipeline.tables import RESULT_TABLE


def _results(n: int) -> pa.Table:
    rows = [{**dict.fromkeys(RESULT_TABLE.names), "REQUEST_ID": f"req_{i:06d}", "STATUS": "generated",
             "URI": f"file:///tracks/{i}.wav", "TRACK_ROW": json.dumps({"TRACK_ID": f"trk_{i}"}), "RESUMED": False,
             "T_GENERATE_S": 0.5, "T_QC_S": 0.1, "T_SIGN_STORE_S": 0.0} for i in range(n)]
    return pa.Table.from_pylist(rows, schema=RESULT_TABLE)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"file://{tmp_path}/store"


@pytest.fixture
def store(store_url: str) -> TrackStore:
    return TrackStore(store_url)


def test_a_stage_table_streams_back_in_bounded_row_groups_with_only_the_columns_asked_for(store):
    table = _results(2 * staging.ROW_GROUP_ROWS + 7)
    key = staging.write_stage(store, "run_1", "results-0000-of-0001", table)
    groups = list(staging.iter_stage(store, key, ["REQUEST_ID", "STATUS"]))
    assert len(groups) == 3 and max(g.num_rows for g in groups) <= staging.ROW_GROUP_ROWS
    assert pa.concat_tables(groups).column_names == ["REQUEST_ID", "STATUS"]
    assert pa.concat_tables(groups)["REQUEST_ID"].to_pylist() == table["REQUEST_ID"].to_pylist()
    assert staging.read_stage(store, key, ["URI"]).column_names == ["URI"]


def test_pool_statistics_ride_with_the_results_and_give_the_run_idle_share(store, store_url):
    ctx = SimpleNamespace(settings=SimpleNamespace(storage_url=store_url), run_id="run_1")
    keys = []
    for shard, (busy, wall) in enumerate([(6.0, 4.0), (2.0, 4.0)]):  # 2 actors each: 8 of 16 actor-seconds busy
        stats = {"actors": 2, "busy_s": busy, "wall_s": wall}
        keys.append(staging.write_stage(store, "run_1", f"results-{shard:04d}-of-0002", _results(3),
                                        {catalog.POOL_STATS_KEY: json.dumps(stats)}))
    assert json.loads(staging.read_stage_metadata(store, keys[0])[catalog.POOL_STATS_KEY])["busy_s"] == 6.0
    assert catalog.pool_idle_share(ctx, keys) == pytest.approx(0.5)  # type: ignore[arg-type]
    bare = staging.write_stage(store, "run_1", "results-none", _results(1))
    assert catalog.pool_idle_share(ctx, [bare]) is None  # type: ignore[arg-type]


def test_the_batch_size_is_chosen_per_run_unless_given():
    assert PipelineOptions().batch_size is None
    assert PipelineOptions(batch_size=8).batch_size == 8
    from maestro_core.errors import InputError

    with pytest.raises(InputError, match="batch_size"):
        PipelineOptions(batch_size=0)


def test_the_gate_streams_the_planned_table_and_gives_what_one_pass_over_all_of_it_gives(make_home, monkeypatch):
    """Gated one row group at a time (groups of 4 here), the stage still holds, row for row, the one-pass gate's
    decisions, and every allowed track its registry ISRC and the run's context; rejected ones get neither."""
    import datetime as dt

    from maestro_core.isrc import mint_isrc
    from maestro_core.rights_snapshot import load_snapshot
    from maestro_pipeline import planning
    from maestro_pipeline.context import warehouse
    from maestro_pipeline.model_assets import register_model_assets, run_asset_ids
    from tests.plugins.pipeline import RUN_DATE

    monkeypatch.setattr(staging, "ROW_GROUP_ROWS", 4)
    settings = make_home("streamed-gate")
    ctx = catalog.context(settings, dt.date.fromisoformat(RUN_DATE), {"run_id": "manual__streamed"})
    catalog.open_stage(ctx)
    store = catalog.stage_store(ctx)
    planned_path = catalog.plan_stage(ctx, PipelineOptions(duration_s=5))
    assert len(list(staging.iter_stage(store, planned_path))) >= 3
    gated = staging.read_stage(store, catalog.gate_stage(ctx, planned_path))

    with warehouse(settings) as wh:
        engine_assets = run_asset_ids(settings, register_model_assets(wh, settings))
        one_pass = planning.gate_requests(staging.read_stage(store, planned_path), load_snapshot(wh),
                                          ctx.logical_date, engine_assets, catalog._melody_paths())
        allowed = planning.with_status(one_pass, "planned")["TRACK_ID"].to_pylist()
        registry = mint_isrc(wh, allowed, year=ctx.logical_date.year, country=settings.isrc_country,
                             registrant=settings.isrc_registrant)  # codes minted before are given back, not new
    assert {"planned", "rejected"} <= set(gated["STATUS"].to_pylist())
    assert gated.drop_columns(["ISRC", "RUN_CONTEXT"]) == one_pass.drop_columns(["ISRC", "RUN_CONTEXT"])
    for row in gated.to_pylist():
        if row["STATUS"] == "planned":
            assert row["ISRC"] == registry[row["TRACK_ID"]], row["REQUEST_ID"]
            assert json.loads(row["RUN_CONTEXT"]) == ctx.airflow, row["REQUEST_ID"]
        else:
            assert row["ISRC"] is None and row["RUN_CONTEXT"] is None, row["REQUEST_ID"]
    assert len({r for r in gated["ISRC"].to_pylist() if r}) == len(allowed)
