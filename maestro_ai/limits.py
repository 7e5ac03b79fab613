"""The limits every request is held to, stated once: the API, the CLI, planning and the engines all check these.

They exist so that one careless request cannot cost minutes (10,000 key phrases were once embedded one by one for
484 s) or produce something no catalog wants (a 0.1 s or a 3-hour track).
"""

from __future__ import annotations

TEMPO_RANGE_BPM = (30, 300)
"""Tempo a request may ask for, in BPM (inclusive)."""

DURATION_RANGE_S = (5, 900)
"""Track length a request may ask for, in seconds (inclusive)."""

MAX_KEY_PHRASES = 16
"""Key phrases per request; more add nothing the descriptors can tell apart."""

MAX_KEY_PHRASE_CHARS = 200
"""Characters per key phrase (after collapsing white space)."""

MAX_TARGET_COUNT = 10_000
"""Requests one prompt may plan per run (PROMPT_CATALOG.TARGET_COUNT); above it the prompt is rejected."""

WARN_TARGET_COUNT = 1_000
"""A prompt planning more requests than this per run is accepted with a warning: it is probably a typo."""

RUN_YEAR_RANGE = (2000, 2099)
"""Years a run date may fall in: ISRCs carry a two-digit year, and licences are dated in this century."""
