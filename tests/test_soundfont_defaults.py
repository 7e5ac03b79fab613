"""Licence-clean sound defaults: FluidR3_GM (MIT) by default, TimGM6mb (GPL-2.0-only) only as a warned fallback the
rights gate refuses for commercial usage, every asset's licence in ASSETS and provenance, and a broken
MAESTRO_SOUNDFONT_PATH refused in one line before anything renders.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from maestro_core import assets
from maestro_core.errors import ConfigError
from maestro_core.rights import USAGE_NOT_GRANTED
from maestro_core.rights_snapshot import gate_prompt, load_snapshot
from maestro_core.warehouse import Warehouse

ON = dt.date(2026, 11, 25)
ALLOWED_PROMPT = "prm_0001"  # lofi-chill with a worldwide seed license valid in 2026 (see sample_catalog.prompts)
FLUIDR3_INSTALLED = assets.FLUIDR3_PATH.is_file()
needs_fluidr3 = pytest.mark.skipif(not FLUIDR3_INSTALLED, reason=f"{assets.FLUIDR3_PATH} is not installed "
                                                                 "(apt-get install fluid-soundfont-gm)")


@pytest.fixture
def no_configured_soundfont(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(assets.SOUNDFONT_ENV, raising=False)


@pytest.fixture
def without_fluidr3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_configured_soundfont: None) -> None:
    """A machine without fluid-soundfont-gm: the Debian path points at nothing."""
    monkeypatch.setattr(assets, "FLUIDR3_PATH", tmp_path / "not-installed" / "FluidR3_GM.sf2")
    monkeypatch.setattr(assets, "_WARNED", set())


def _engine_ids() -> tuple[str, ...]:
    from inference.composer.engine import ComposerEngine

    return ComposerEngine.asset_ids()


@needs_fluidr3
def test_the_default_soundfont_is_fluidr3_under_mit(no_configured_soundfont: None, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="maestro_core.assets"):
        chosen = assets.resolve_soundfont()
    assert (chosen.asset_id, chosen.path, chosen.spdx_license) == ("asset_soundfont_fluidr3_gm", assets.FLUIDR3_PATH,
                                                                   "MIT")
    assert not chosen.fallback and not caplog.records
    assert "asset_soundfont_fluidr3_gm" in _engine_ids() and "asset_soundfont_timgm6mb" not in _engine_ids()


def test_without_a_licence_clean_bank_timgm_stands_in_with_a_warning(without_fluidr3: None, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="maestro_core.assets"):
        chosen = assets.resolve_soundfont()
        assets.resolve_soundfont()  # warned once per process, not per track
    assert chosen.fallback and chosen.asset_id == "asset_soundfont_timgm6mb"
    assert chosen.spdx_license == "GPL-2.0-only" and chosen.path.name == "TimGM6mb.sf2" and chosen.path.is_file()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "fluid-soundfont-gm" in warnings[0] and "GPL-2.0-only" in warnings[0] and "MAESTRO_SOUNDFONT_PATH" in \
        warnings[0]


def test_the_gate_refuses_commercial_usage_of_the_gpl_fallback(warehouse: Warehouse, without_fluidr3: None) -> None:
    engine_ids = _engine_ids()
    assert "asset_soundfont_timgm6mb" in engine_ids
    decision = gate_prompt(warehouse, ALLOWED_PROMPT, ON, engine_ids)
    assert not decision.allowed
    refused = [r for r in decision.reasons if r.asset_id == "asset_soundfont_timgm6mb"]
    assert [r.code for r in refused] == [USAGE_NOT_GRANTED] and "commercial_streaming" in refused[0].message
    assert {r.asset_id for r in decision.reasons} == {"asset_soundfont_timgm6mb"}  # nothing else stands in the way


@needs_fluidr3
def test_the_gate_allows_the_same_prompt_rendered_with_fluidr3(warehouse: Warehouse,
                                                                no_configured_soundfont: None) -> None:
    decision = gate_prompt(warehouse, ALLOWED_PROMPT, ON, _engine_ids())
    assert decision.allowed, decision.reasons
    relied = {r.asset_id: r.license_id for r in decision.relied_on}
    assert relied["asset_soundfont_fluidr3_gm"] == "lic_soundfont_fluidr3"
    assert relied[assets.SYNTH_ASSET_ID] == "lic_synth_maestro"


def test_every_asset_row_records_its_licence_as_an_spdx_id(warehouse: Warehouse) -> None:
    rows = {r["ASSET_ID"]: r for r in warehouse.query("SELECT * FROM ASSETS").to_pylist()}
    assert all(r["SPDX_LICENSE"] for r in rows.values()), [a for a, r in rows.items() if not r["SPDX_LICENSE"]]
    assert rows["asset_soundfont_fluidr3_gm"]["SPDX_LICENSE"] == "MIT"
    assert rows["asset_soundfont_timgm6mb"]["SPDX_LICENSE"] == "GPL-2.0-only"
    synth = rows[assets.SYNTH_ASSET_ID]
    assert (synth["KIND"], synth["SPDX_LICENSE"], synth["HOLDER_ID"]) == ("synth", "Apache-2.0", "holder_maestro")
    assert rows[assets.ENGINE_ASSET_ID]["SPDX_LICENSE"] == "Apache-2.0"
    licenses = warehouse.query("SELECT ASSET_ID, USAGES FROM LICENSES").to_pylist()
    usages = {r["ASSET_ID"]: set(json.loads(r["USAGES"])) for r in licenses}
    assert "commercial_streaming" in usages["asset_soundfont_fluidr3_gm"]
    assert "commercial_streaming" not in usages["asset_soundfont_timgm6mb"]


def test_a_configured_file_is_its_own_asset_and_needs_its_own_license(warehouse: Warehouse, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "house-bank.sf2"
    shutil.copy(assets.timgm_path(), copy)
    monkeypatch.setenv(assets.SOUNDFONT_ENV, str(copy))
    chosen = assets.resolve_soundfont()
    assert chosen.asset_id == f"asset_soundfont_{assets.sha256_file(copy)[:16]}" and chosen.spdx_license == \
        "NOASSERTION"
    engine_ids = _engine_ids()
    assert chosen.asset_id in engine_ids
    denied = gate_prompt(warehouse, ALLOWED_PROMPT, ON, engine_ids)
    assert [(r.code, r.asset_id) for r in denied.reasons] == [("license_missing", chosen.asset_id)]
    warehouse.upsert("ASSETS", [{"ASSET_ID": chosen.asset_id, "KIND": "soundfont", "URI": copy.as_uri(),
                                 "SHA256": assets.sha256_file(copy), "HOLDER_ID": "holder_maestro",
                                 "SPDX_LICENSE": "LicenseRef-house-bank"}])
    warehouse.upsert("LICENSES", [{"LICENSE_ID": "lic_house_bank", "ASSET_ID": chosen.asset_id,
                                   "HOLDER_ID": "holder_maestro", "TERRITORIES": ["WW"],
                                   "USAGES": ["commercial_streaming"], "VALID_FROM": dt.date(2026, 1, 1),
                                   "VALID_TO": None, "SHARE_BPS": 0}])
    assert gate_prompt(warehouse, ALLOWED_PROMPT, ON, engine_ids).allowed


@needs_fluidr3
def test_provenance_lists_every_sound_source_with_its_licence(warehouse: Warehouse, tmp_path: Path,
                                                              no_configured_soundfont: None) -> None:
    from maestro_core.provenance import Environment, RunIdentity, build_provenance
    from maestro_pipeline import planning
    from maestro_pipeline.tables import load_assets

    prompts = warehouse.query_file("queries/active_prompts.sql").to_pylist()
    planned = planning.plan_requests(prompts, "run-s1", ON, "1.0.0", {})
    gated = planning.gate_requests(planned, load_snapshot(warehouse), ON, _engine_ids())
    row = next(r for r in gated.to_pylist() if r["PROMPT_ID"] == ALLOWED_PROMPT)
    audio = tmp_path / "t.wav"
    sf.write(audio, np.zeros((4410, 2), dtype=np.int16), 44100, subtype="PCM_16")
    record = build_provenance(track_id="trk", audio_path=audio, engine="composer", engine_version="1.0.0",
                              assets=load_assets(row["ASSETS"]), params={}, seed=1,
                              license_ids=json.loads(row["LICENSE_IDS"]), run=RunIdentity(),
                              environment=Environment("0", None, "h", "p", "3.11", "cpu"),
                              created_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    licences = {a["asset_id"]: a["spdx_license"] for a in record.to_dict()["assets"]}
    assert licences["asset_soundfont_fluidr3_gm"] == "MIT"
    assert licences[assets.SYNTH_ASSET_ID] == "Apache-2.0"
    assert all(licences.values()), licences
    assert json.loads(record.track_provenance_row(False)["INPUTS"])[0]["spdx_license"]


@needs_fluidr3
def test_the_engine_reports_each_sound_source_with_its_licence(no_configured_soundfont: None) -> None:
    from inference.composer.engine import ComposerEngine

    uses = {a.asset_id: a for a in ComposerEngine(preload_model=False).assets()}
    assert uses["asset_soundfont_fluidr3_gm"].license == "MIT"
    assert uses["asset_soundfont_fluidr3_gm"].sha256 == assets.sha256_file(assets.FLUIDR3_PATH)
    assert uses[assets.SYNTH_ASSET_ID].license == "Apache-2.0"
    assert set(uses) == set(ComposerEngine.asset_ids())  # what provenance records is what the gate checked


def _without_program(source: Path, target: Path, program: int) -> Path:
    """A copy of a real SoundFont whose preset ``program`` (bank 0) is moved to bank 99, so the bank lacks it."""
    data = bytearray(source.read_bytes())
    start = data.index(b"phdr") + 8
    for pos in range(start, start + struct.unpack_from("<I", data, start - 4)[0] - 38, 38):
        preset, bank = struct.unpack_from("<HH", data, pos + 20)
        if (bank, preset) == (0, program):
            struct.pack_into("<H", data, pos + 22, 99)
            target.write_bytes(bytes(data))
            return target
    raise AssertionError(f"{source} has no program {program}")


def _unreadable(tmp: Path) -> Path:
    if os.geteuid() != 0:
        path = tmp / "locked.sf2"
        shutil.copy(assets.timgm_path(), path)
        path.chmod(0)
        return path
    if not Path("/proc/self/mem").exists():
        pytest.skip("root reads every file mode; no /proc/self/mem to stand for an unreadable file")
    return Path("/proc/self/mem")  # a file that exists but whose first bytes cannot be read (EIO)


def _not_a_soundfont(tmp: Path) -> Path:
    path = tmp / "notes.sf2"
    path.write_text("this is a text file, not a SoundFont\n")
    return path


def _cut_short(tmp: Path) -> Path:
    path = tmp / "half.sf2"
    path.write_bytes(assets.timgm_path().read_bytes()[:200_000])
    return path


BAD_SOUNDFONTS = {
    "missing": (lambda tmp: tmp / "nowhere.sf2", "does not exist"),
    "a directory": (lambda tmp: tmp, "is a directory"),
    "unreadable": (_unreadable, "cannot read"),
    "not a SoundFont": (_not_a_soundfont, "is not a SoundFont"),
    "cut short": (_cut_short, "is cut short"),
    "lacking a program": (lambda tmp: _without_program(assets.timgm_path(), tmp / "nobass.sf2", 33),
                          "lacks General MIDI presets the arrangements need: program 33 Electric Bass (finger)"),
}


@pytest.mark.parametrize("case", list(BAD_SOUNDFONTS))
def test_a_bad_soundfont_stops_maestro_generate_in_one_line_before_rendering(case: str, tmp_path: Path) -> None:
    make, problem = BAD_SOUNDFONTS[case]
    font = make(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "MAESTRO_HOME": str(tmp_path / "home"), assets.SOUNDFONT_ENV: str(font)}
    proc = subprocess.run([sys.executable, "-m", "maestro_ai.cli", "generate", "--genre", "house", "--mood",
                           "energetic", "--duration", "5", "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: MAESTRO_SOUNDFONT_PATH: ") and problem in lines[0], lines[0]
    assert not out.exists() or not any(out.iterdir())  # nothing rendered


def test_a_bank_lacking_a_program_is_refused_at_load_not_mid_render(tmp_path: Path) -> None:
    from inference.composer.gm import program_name
    from inference.composer.presets import GENRES
    from inference.render import load_soundfont
    from inference.soundfont import needed_presets

    font = _without_program(assets.timgm_path(), tmp_path / "nobass.sf2", 33)
    with pytest.raises(ConfigError) as err:
        load_soundfont(font, needed_presets(GENRES.values(), program_name))
    assert err.value.field == "MAESTRO_SOUNDFONT_PATH" and "program 33" in str(err.value)
    _, info = load_soundfont(font)  # the same file serves callers that need no bass
    assert (0, 33) not in info.presets and (0, 0) in info.presets


def test_rendering_a_program_the_bank_lacks_raises_before_any_sample(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from inference.render import load_soundfont, render_arrangement

    font, _ = load_soundfont(_without_program(assets.timgm_path(), tmp_path / "nobass.sf2", 33))
    part = SimpleNamespace(program=33, channel=0, is_drum=False, volume=100, pan=64, notes=((0, 480, 40, 100),))
    arrangement = SimpleNamespace(ticks_per_beat=480, total_ticks=960, tempo_us=500_000, parts=(part,))
    with pytest.raises(ConfigError, match=r"MAESTRO_SOUNDFONT_PATH: .*program\(s\) \[33\]"):
        render_arrangement(arrangement, font)


def _one_call_per_span(arrangement: object, font: object, sample_rate: int) -> np.ndarray:
    """The oracle: TinySoundFont renders each span between two note events in one call, into one whole-track
    interleaved buffer (how the renderer worked before it rendered in blocks), transposed to channels first."""
    from inference.render import prepared_synth

    synth, frames, events = prepared_synth(arrangement, font, sample_rate, -6.0)
    whole = np.zeros((frames, 2), dtype=np.float32)
    bounds = sorted({0, frames, *(event[0] for event in events)})
    pending = iter(events)
    event = next(pending, None)
    for start, stop in itertools.pairwise(bounds):
        while event is not None and event[0] <= start:
            _, on, channel, pitch, velocity = event
            if on:
                synth.channel_note_on(channel, pitch, velocity / 127.0)
            else:
                synth.channel_note_off(channel, pitch)
            event = next(pending, None)
        synth.render(memoryview(whole[start:stop]).cast("B"))
    return whole.T


def test_rendering_in_blocks_gives_the_samples_of_one_call_per_span() -> None:
    """Spans shorter than a block, of several blocks with a ragged end, and one ending inside a decay: every
    sample is what one TinySoundFont call per span writes (its envelopes step every 64 frames of a call)."""
    from types import SimpleNamespace

    from inference import render

    font, _ = render.load_soundfont(assets.timgm_path())
    block = render.RENDER_BLOCK_FRAMES
    assert block % 64 == 0
    # 44.1 kHz, 480 ticks a beat at 120 BPM: 45.9375 frames a tick
    lead = SimpleNamespace(program=0, channel=0, is_drum=False, volume=110, pan=30,
                           notes=((0, 3, 60, 100), (3, 700, 64, 90), (700, 2881, 67, 127), (4000, 4001, 72, 60)))
    pad = SimpleNamespace(program=48, channel=1, is_drum=False, volume=90, pan=100, notes=((10, 5000, 48, 80),))
    drums = SimpleNamespace(program=0, channel=9, is_drum=True, volume=120, pan=64,
                            notes=tuple((t, t + 30, 36 + (t // 480) % 3, 110) for t in range(0, 4800, 480)))
    arrangement = SimpleNamespace(ticks_per_beat=480, total_ticks=5111, tempo_us=500_000, parts=(lead, pad, drums))
    rendered = render.render_arrangement(arrangement, font)
    expected = _one_call_per_span(arrangement, font, 44100)
    assert rendered.shape == expected.shape == (2, round(5111 * 45.9375)) and rendered.flags.c_contiguous
    assert np.abs(expected).max() > 0.05  # it sounds
    np.testing.assert_array_equal(rendered, expected)


@needs_fluidr3
def test_fluidr3_is_parsed_once_per_process_and_cloned_per_render(no_configured_soundfont: None) -> None:
    from tinysoundfont import _tinysoundfont

    from inference.render import load_soundfont

    first, info = load_soundfont()
    again, _ = load_soundfont()
    assert again is first and info.asset_id == "asset_soundfont_fluidr3_gm"
    clone = _tinysoundfont.SoundFont(first)
    assert clone is not first and clone.get_preset_count() == first.get_preset_count() >= 128


def test_migration_009_fills_the_licence_of_rows_loaded_before_it(tmp_path: Path) -> None:
    from maestro_core import schema
    from maestro_core.config import load_settings
    from maestro_core.warehouse import connect

    before = tmp_path / "ddl-before-009"
    before.mkdir()
    for path in schema.migration_files():
        if int(path.name[:3]) < 9:
            shutil.copy(path, before / path.name)
    with connect(load_settings(home=tmp_path)) as wh:
        wh.migrate(before)
        for asset_id in ("asset_soundfont_timgm6mb", "asset_seed_001"):
            wh.execute("INSERT INTO ASSETS (ASSET_ID, KIND, URI, SHA256, HOLDER_ID) VALUES (:a, 'x', 'u', 's', 'h')",
                       {"a": asset_id})
        assert "009_asset_licenses.sql" in wh.migrate()
        rows = {r["ASSET_ID"]: r["SPDX_LICENSE"] for r in wh.query("SELECT * FROM ASSETS").to_pylist()}
    assert rows == {"asset_soundfont_timgm6mb": "GPL-2.0-only", "asset_seed_001": "NOASSERTION"}
