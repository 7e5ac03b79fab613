"""Fixtures for the rights, identity, ISRC, provenance and Content Credentials tests."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from maestro_core.rights import Asset, BlockedTerm, Holder, License, RightsSnapshot

DAY = dt.date(2026, 3, 1)
PLATFORM = "holder_platform"


def license(license_id: str, asset_id: str, holder_id: str, *, territories: tuple[str, ...] = ("WW",),
            usages: tuple[str, ...] = ("commercial_streaming",), valid_from: dt.date = dt.date(2025, 1, 1),
            valid_to: dt.date | None = None, share_bps: int = 0) -> License:
    """A License with permissive defaults: worldwide, commercial streaming, open-ended from 2025."""
    return License(license_id, asset_id, holder_id, frozenset(territories), frozenset(usages), valid_from, valid_to,
                   share_bps)


def base_records() -> tuple[list[Holder], list[Asset], list[License], list[BlockedTerm]]:
    """A small consistent catalogue: platform engine, embedding model, SoundFont, one melody seed, one style."""
    holders = [Holder(PLATFORM, "Maestro Platform", "platform"), Holder("holder_minilm", "MiniLM authors",
                                                                          "model_licensor"),
               Holder("holder_sf", "SoundFont author", "model_licensor"), Holder("holder_ana", "Ana", "artist"),
               Holder("holder_vale", "Aurora Vale", "artist")]
    assets = [Asset("asset_engine_composer", "model", PLATFORM, "a" * 64),
              Asset("asset_model_minilm_l6_v2", "model", "holder_minilm", "b" * 64),
              Asset("asset_soundfont_timgm6mb", "soundfont", "holder_sf", "c" * 64),
              Asset("asset_seed_001", "melody_seed", "holder_ana", "d" * 64, title="Ana's tune"),
              Asset("asset_style_vale", "style", "holder_vale", "e" * 64, title="Aurora Vale")]
    licenses = [license("lic_engine", "asset_engine_composer", PLATFORM),
                license("lic_minilm", "asset_model_minilm_l6_v2", "holder_minilm", share_bps=0),
                license("lic_sf", "asset_soundfont_timgm6mb", "holder_sf", share_bps=100),
                license("lic_seed", "asset_seed_001", "holder_ana", share_bps=2500),
                license("lic_style", "asset_style_vale", "holder_vale", share_bps=1500)]
    terms = [BlockedTerm("in the style of Aurora Vale", "style imitation needs a license"),
             BlockedTerm("O'Brien; DROP TABLE LICENSES;--", "hostile"),
             BlockedTerm("Björk-esque", "artist imitation")]
    return holders, assets, licenses, terms


def load_base_records(wh: Any, with_terms: bool = True) -> None:
    """Loads :func:`base_records` into a warehouse (holders, assets, licenses and, optionally, blocked terms)."""
    holders, assets, licenses, terms = base_records()
    wh.upsert("RIGHTS_HOLDERS", [{"HOLDER_ID": h.holder_id, "NAME": h.name, "KIND": h.kind} for h in holders])
    wh.upsert("ASSETS", [{"ASSET_ID": a.asset_id, "KIND": a.kind, "URI": f"file:///{a.asset_id}",
                          "SHA256": a.sha256, "HOLDER_ID": a.holder_id, "TITLE": a.title} for a in assets])
    wh.upsert("LICENSES", [{"LICENSE_ID": lic.license_id, "ASSET_ID": lic.asset_id, "HOLDER_ID": lic.holder_id,
                            "TERRITORIES": sorted(lic.territories), "USAGES": sorted(lic.usages),
                            "VALID_FROM": lic.valid_from, "VALID_TO": lic.valid_to,
                            "SHARE_BPS": lic.share_bps} for lic in licenses])
    if with_terms:
        wh.upsert("BLOCKED_TERMS", [{"TERM": t.term, "REASON": t.reason} for t in terms])


def snapshot(extra_licenses: tuple[License, ...] = (), replace: bool = False, **kwargs: object) -> RightsSnapshot:
    holders, assets, licenses, terms = base_records()
    if replace:
        ids = {lic.license_id for lic in extra_licenses}
        licenses = [lic for lic in licenses if lic.license_id not in ids]
    return RightsSnapshot.of(kwargs.get("holders", holders), kwargs.get("assets", assets),
                             list(licenses) + list(extra_licenses), kwargs.get("terms", terms))


def write_sine_wav(path: Path, seconds: float = 1.0, sample_rate: int = 22050, subtype: str = "PCM_16") -> Path:
    """A stereo 440 Hz test tone (amplitude 0.2)."""
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = (0.2 * np.sin(2 * np.pi * 440 * t)).astype("float32")
    sf.write(str(path), np.stack([mono, mono * 0.5], axis=1), sample_rate, subtype=subtype)
    return path


def flip_one_sample(path: Path, frame: int = 1000) -> None:
    """Changes one PCM sample of a WAV in place (the lowest bit of the left channel at ``frame``), leaving every
    other byte, including an embedded C2PA manifest, as it was."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a RIFF/WAVE file"
    pos = 12
    block_align = None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk_id == b"fmt ":
            block_align = struct.unpack("<H", data[pos + 20:pos + 22])[0]
        if chunk_id == b"data":
            assert block_align, "fmt chunk must precede data"
            data[pos + 8 + frame * block_align] ^= 0x01
            path.write_bytes(bytes(data))
            return
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory: pytest.TempPathFactory):
    """A development CA and signing certificate made by ``init_keys`` (shared by the session)."""
    from maestro_core.signing_keys import init_keys

    return init_keys(tmp_path_factory.mktemp("maestro-keys") / "keys")


@pytest.fixture
def rights_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings whose home (and DuckDB warehouse) is a fresh temp dir, migrated; MAESTRO_HOME points there too."""
    from maestro_core.config import load_settings
    from maestro_core.warehouse import connect

    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path / "home"))
    settings = load_settings(home=tmp_path / "home")
    with connect(settings) as wh:
        wh.migrate()
    return settings


@pytest.fixture
def open_warehouse(rights_settings) -> Iterator[Callable[[], object]]:
    """A factory of connections to ``rights_settings``' warehouse (open one per unit of work, as in production)."""
    from maestro_core.warehouse import connect

    yield lambda: connect(rights_settings)
