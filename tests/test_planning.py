"""Planning holds every prompt to the request limits (maestro_core.limits) before any text model or engine runs."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from maestro_core import limits
from maestro_pipeline import planning

DAY = dt.date(2026, 11, 15)
PROMPT = {"PROMPT_ID": "p1", "GENRE": "house", "MOOD": "energetic", "KEY_PHRASES": ["neon rain"], "TEMPO_BPM": 120,
          "MUSICAL_KEY": "A minor", "DURATION_S": 30, "TERRITORIES": ["US"], "TARGET_COUNT": 1, "ACTIVE": True}


def _reasons(prompt: dict) -> list[dict]:
    row = planning.plan_requests([prompt], "run", DAY, "1.0.0", {}).to_pylist()[0]
    return json.loads(row["REASONS"]) if row["STATUS"] == "rejected" else []


def test_a_prompt_within_every_limit_is_planned():
    assert _reasons(PROMPT) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"KEY_PHRASES": ["x"] * (limits.MAX_KEY_PHRASES + 1)}, "KEY_PHRASES"),
    ({"KEY_PHRASES": ["x" * (limits.MAX_KEY_PHRASE_CHARS + 1)]}, "KEY_PHRASES"),
    ({"TEMPO_BPM": limits.TEMPO_RANGE_BPM[1] + 1}, "TEMPO_BPM"),
    ({"DURATION_S": limits.DURATION_RANGE_S[0] - 1}, "DURATION_S"),
    ({"TARGET_COUNT": limits.MAX_TARGET_COUNT + 1}, "TARGET_COUNT"),
])
def test_a_prompt_past_a_limit_is_rejected_naming_the_column(change, field):
    reasons = _reasons({**PROMPT, **change})
    assert [r["field"] for r in reasons] == [field] and reasons[0]["code"] == "invalid_prompt"


def test_ten_thousand_phrases_are_refused_without_describing_any():
    prompt = {**PROMPT, "KEY_PHRASES": [f"phrase {i}" for i in range(10_000)]}
    plan = planning.plan_requests([prompt], "run", DAY, "1.0.0", {})
    described = planning.with_descriptors(plan, describe=lambda phrases: pytest.fail("must not be described"))
    assert described["STATUS"].to_pylist() == ["rejected"]


def test_a_target_count_above_the_warning_threshold_is_planned_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="maestro_pipeline.planning"):
        plan = planning.plan_requests([{**PROMPT, "TARGET_COUNT": limits.WARN_TARGET_COUNT + 1}], "run", DAY,
                                      "1.0.0", {})
    assert plan.num_rows == limits.WARN_TARGET_COUNT + 1
    assert "is TARGET_COUNT right?" in caplog.text
    with caplog.at_level(logging.WARNING, logger="maestro_pipeline.planning"):
        caplog.clear()
        planning.plan_requests([{**PROMPT, "TARGET_COUNT": limits.WARN_TARGET_COUNT}], "run", DAY, "1.0.0", {})
    assert caplog.text == ""
