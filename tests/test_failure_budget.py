"""The failure budget: when failed requests are bad luck (the run goes on) and when they are a systemic fault."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maestro_core.errors import InputError
from maestro_core.failure_budget import FailureBudget, failure_causes, judge

OK = ("generated", "", "")


def fail(error: str = "RuntimeError", message: str = "boom") -> tuple[str, str, str]:
    return ("failed", error, message)


def test_one_bad_request_in_a_batch_stays_within_budget():
    verdict = judge([OK, fail(), OK, OK, OK, OK], FailureBudget())
    assert not verdict.exceeded and verdict.reason == ""
    assert (verdict.attempted, verdict.failed) == (6, 1)


def test_every_attempted_request_failing_exceeds_the_budget_even_for_one_request():
    verdict = judge([fail("ConfigError", "MAESTRO_SIGNING_CERT_PATH: missing")], FailureBudget())
    assert verdict.exceeded and verdict.rule == "all_failed"
    assert "ConfigError" in verdict.reason and "MAESTRO_SIGNING_CERT_PATH: missing" in verdict.reason


def test_the_first_n_failing_alike_exceeds_the_budget_before_the_rest_arrive():
    outcomes = [fail("StorageError", "disk full")] * 3
    assert judge(outcomes, FailureBudget(first_n=3), final=False).rule == "first_n_same_error"
    assert not judge(outcomes[:2], FailureBudget(first_n=3), final=False).exceeded


def test_the_first_n_failing_with_different_errors_is_not_the_early_rule():
    outcomes = [fail("A"), fail("B"), fail("A"), OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK]
    verdict = judge(outcomes, FailureBudget(max_failed_pct=20, first_n=3))
    assert not verdict.exceeded  # 3 of 15 is exactly 20%, not more


def test_a_share_over_the_percentage_exceeds_only_with_at_least_first_n_failures():
    assert judge([OK, fail(), OK], FailureBudget(max_failed_pct=20, first_n=3)).exceeded is False
    verdict = judge([OK, OK, fail("A"), OK, fail("B"), OK, fail("A"), OK], FailureBudget(max_failed_pct=20, first_n=3))
    assert verdict.exceeded and verdict.rule == "failed_share"
    assert verdict.causes[0].error == "A" and verdict.causes[0].count == 2


def test_a_share_is_judged_only_when_every_outcome_is_in():
    early = [fail("A"), OK, fail("B"), fail("C")]
    assert not judge(early, FailureBudget(max_failed_pct=20, first_n=3), final=False).exceeded
    assert judge(early, FailureBudget(max_failed_pct=20, first_n=3)).exceeded


def test_rejected_and_done_requests_are_not_attempts():
    verdict = judge([("rejected", "", ""), ("done", "", ""), OK], FailureBudget())
    assert (verdict.attempted, verdict.failed, verdict.exceeded) == (1, 0, False)
    assert not judge([], FailureBudget()).exceeded


def test_failure_causes_group_by_error_class_most_frequent_first():
    causes = failure_causes([fail("B", "b1"), fail("A", "a1"), fail("B", "b2"), OK, fail("B", "b1")])
    assert [(c.error, c.count) for c in causes] == [("B", 3), ("A", 1)]
    assert causes[0].message == "b1"  # the most common message of the class represents it


@pytest.mark.parametrize(("pct", "first_n", "field"), [(-1, 3, "failure_budget_pct"), (101, 3, "failure_budget_pct"),
                                                        (20, 0, "failure_budget_first_n")])
def test_a_malformed_budget_names_its_setting(pct, first_n, field):
    with pytest.raises(InputError) as info:
        FailureBudget(pct, first_n)
    assert info.value.field == field


outcomes = st.lists(st.sampled_from([OK, fail("A"), fail("B"), ("rejected", "", "")]), max_size=60)


@given(outcomes, st.integers(0, 100), st.integers(1, 10))
def test_no_failures_never_exceed_and_all_failures_always_do(items, pct, first_n):
    budget = FailureBudget(pct, first_n)
    without = [o for o in items if o[0] != "failed"]
    assert not judge(without, budget).exceeded
    attempted = [o for o in items if o[0] in ("failed", "generated")]
    only_failed = [o for o in attempted if o[0] == "failed"]
    if only_failed:
        assert judge(only_failed, budget).exceeded


@given(outcomes, st.integers(0, 100), st.integers(1, 10))
def test_an_early_verdict_never_fires_where_the_final_one_would_not(items, pct, first_n):
    budget = FailureBudget(pct, first_n)
    for end in range(len(items) + 1):
        if judge(items[:end], budget, final=False).exceeded:
            assert judge(items, budget).exceeded
