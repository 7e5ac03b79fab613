"""The limits every request is held to, stated once: the API, the CLI, planning and the engines all check these.

They exist so that one careless request cannot cost minutes (10,000 key phrases were once embedded one by one for
484 s) or produce something no catalog wants (a 0.1 s or a 3-hour track).
"""

from __future__ import annotations

from collections.abc import Sequence

from maestro_core.errors import InputError

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
"""Years a run date may fall in: ISRCs carry a two-digit year, and licenses are dated in this century."""


def check_key_phrases(phrases: object) -> tuple[str, ...]:
    """Key phrases as a tuple of non-empty strings with white space collapsed.

    At most ``MAX_KEY_PHRASES`` phrases of at most ``MAX_KEY_PHRASE_CHARS`` characters each (after collapsing):
    the count is checked first, so an oversized request is refused before anything is embedded.

    Raises:
        InputError: naming ``key_phrases`` (not a list, too many) or ``key_phrases[i]`` (not a string, empty,
            too long).
    """
    if phrases is None:
        return ()
    if isinstance(phrases, str | bytes) or not isinstance(phrases, Sequence):
        raise InputError("key_phrases", f"must be a list of strings, got {type(phrases).__name__}")
    if len(phrases) > MAX_KEY_PHRASES:
        raise InputError("key_phrases", f"has {len(phrases)} phrases; at most {MAX_KEY_PHRASES} are accepted")
    out = []
    for i, phrase in enumerate(phrases):
        if not isinstance(phrase, str):
            raise InputError(f"key_phrases[{i}]", f"must be a string, got {type(phrase).__name__}")
        text = " ".join(phrase.split())
        if not text:
            raise InputError(f"key_phrases[{i}]", "is empty; give a short descriptive phrase")
        if len(text) > MAX_KEY_PHRASE_CHARS:
            raise InputError(f"key_phrases[{i}]", f"is {len(text)} characters long; at most "
                                                  f"{MAX_KEY_PHRASE_CHARS} are accepted")
        out.append(text)
    return tuple(out)
