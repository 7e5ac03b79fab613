"""Suggested variations of a track: each is a small dict of changed request fields plus a seed.

Passing one back (``MusicGenerator.generate_track(input_data, variation=v)``) applies its fields over the input
and uses its seed, so a suggestion always reproduces the same track.
"""

from __future__ import annotations

import hashlib
from typing import Any

from inference.composer.gm import program_name
from inference.composer.plan import TEMPO_RANGE, Plan

VARIATION_FIELDS = ("tempo_bpm", "key", "instrumentation", "time_signature", "key_phrases")


def derived_seed(seed: int, index: int) -> int:
    """A new seed (0..2**63-1) derived from ``seed`` and ``index``; stable across runs and machines."""
    digest = hashlib.sha256(f"maestro-variation:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def suggest_variations(plan: Plan, request: Any) -> list[dict[str, Any]]:
    """At least three variations: a new melody, a tempo change, the relative key and (when possible) new voices."""
    seed = request.seed
    faster = round(min(TEMPO_RANGE[1], plan.tempo_bpm * 1.08), 1)
    out: list[dict[str, Any]] = [
        {"label": "new melody and arrangement", "seed": derived_seed(seed, 1)},
        {"label": "tempo +8%", "tempo_bpm": faster, "seed": seed},
        {"label": f"relative {plan.key.relative.mode}", "key": plan.key.relative.name, "seed": seed},
    ]
    swaps = {v.role: program_name(v.alternatives[0]) for v in plan.voices
             if not v.is_drum and v.alternatives and v.role != "bass"}
    if swaps:
        out.append({"label": "alternate instrumentation", "instrumentation": swaps, "seed": seed})
    return out
