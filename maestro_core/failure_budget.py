"""The failure budget: when a run's failed requests stop being bad luck and start being a systemic fault.

One bad request never sinks a batch: it becomes a ``failed`` row with its reason, and the run goes on. But when a
whole batch fails (missing keys, a full disk, an engine bug), a thousand failed rows behind a green DAG hide the
fault. So a run is **over budget**, and closes ``failed``, when any of these holds:

1. every attempted request failed (at least one was attempted);
2. the first ``first_n`` attempted requests all failed with the same error class: the run stops early instead
   of failing the rest one by one;
3. more than ``max_failed_pct`` percent of the attempted requests failed, and at least ``first_n`` did (so one
   unlucky request of three does not fail a small run).

Pure functions over (status, error class, message) outcomes; the pipeline feeds them worker result rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from maestro_core.request_status import FAILED, GENERATED


@dataclass(frozen=True)
class FailureBudget:
    """How many failures a run tolerates.

    Attributes:
        max_failed_pct: the run fails when more than this percentage (0..100) of attempted requests failed...
        first_n: ...and at least this many did; also, the first ``first_n`` attempts failing with one error class
            fail the run at once.
    """

    max_failed_pct: int = 20
    first_n: int = 3

    def __post_init__(self) -> None:
        from maestro_core.errors import InputError

        if isinstance(self.max_failed_pct, bool) or not isinstance(self.max_failed_pct, int) \
                or not 0 <= self.max_failed_pct <= 100:
            raise InputError("failure_budget_pct", f"must be an integer 0..100, got {self.max_failed_pct!r}")
        if isinstance(self.first_n, bool) or not isinstance(self.first_n, int) or self.first_n < 1:
            raise InputError("failure_budget_first_n", f"must be an integer >= 1, got {self.first_n!r}")

    @classmethod
    def from_settings(cls, settings: Any) -> FailureBudget:
        return cls(settings.failure_budget_pct, settings.failure_budget_first_n)


@dataclass(frozen=True)
class FailureCause:
    """One kind of failure: the error class, a representative message, and how many requests it hit."""

    error: str
    message: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "count": self.count}


@dataclass(frozen=True)
class BudgetVerdict:
    """The budget's reading of a set of outcomes.

    Attributes:
        attempted: requests that were generated or failed (resumed ones count as generated).
        failed: requests that failed.
        exceeded: the run is over budget.
        rule: which rule fired (``all_failed``, ``first_n_same_error``, ``failed_share``), or "".
        why: the rule in words, for people.
        causes: failure causes, most frequent first (the error that fired ``first_n_same_error`` first).
    """

    attempted: int
    failed: int
    exceeded: bool
    rule: str = ""
    why: str = ""
    causes: tuple[FailureCause, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        """One line: what fired and the dominant error with its message ("" when within budget)."""
        if not self.exceeded:
            return ""
        top = self.causes[0] if self.causes else FailureCause("unknown", "", self.failed)
        return f"failure budget exceeded: {self.why}; dominant error {top.error} x{top.count}: {top.message}"


def outcome(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """(status, error class, message) of a worker result row."""
    return (str(row.get("STATUS") or ""), str(row.get("ERROR_CLASS") or ""), str(row.get("ERROR_MESSAGE") or ""))


def failure_causes(outcomes: Iterable[tuple[str, str, str]], top: int = 5) -> tuple[FailureCause, ...]:
    """The ``top`` most frequent failure causes (error class and message), with counts."""
    counts: Counter[tuple[str, str]] = Counter((error, message) for status, error, message in outcomes
                                               if status == FAILED)
    by_error: Counter[str] = Counter()
    first_message: dict[str, str] = {}
    for (error, message), n in counts.most_common():
        by_error[error] += n
        first_message.setdefault(error, message)
    return tuple(FailureCause(e, first_message[e], n) for e, n in by_error.most_common(top))


def judge(outcomes: Iterable[tuple[str, str, str]], budget: FailureBudget, *, final: bool = True) -> BudgetVerdict:
    """Reads outcomes in the order they were attempted and says whether the run is over budget.

    Args:
        outcomes: (status, error class, message) per request, in the order attempted.
        budget: the limits.
        final: every outcome is in. False (results still arriving) applies only the early rule, the first N
            failing alike: a share measured on the first few results says little about the whole run.
    """
    done = [o for o in outcomes if o[0] in (FAILED, GENERATED)]
    failed = [o for o in done if o[0] == FAILED]
    causes = failure_causes(done)
    rule, why = "", ""
    head = done[:budget.first_n]
    if final and done and len(failed) == len(done):
        rule, why = "all_failed", f"all {len(done)} attempted requests failed"
    elif len(head) == budget.first_n and all(o[0] == FAILED for o in head) and len({o[1] for o in head}) == 1:
        rule, why = "first_n_same_error", f"the first {budget.first_n} attempted requests all failed with {head[0][1]}"
        causes = tuple(sorted(causes, key=lambda c: c.error != head[0][1]))
    elif final and len(failed) >= budget.first_n and len(failed) * 100 > budget.max_failed_pct * len(done):
        rule = "failed_share"
        why = (f"{len(failed)} of {len(done)} attempted requests failed, more than the budget's "
               f"{budget.max_failed_pct}%")
    return BudgetVerdict(len(done), len(failed), bool(rule), rule, why, causes)


class BudgetExceeded(Exception):
    """Raised by a stage whose outcomes are over budget; the run row has been closed ``failed`` with ``reason``.

    Not a MaestroError on purpose: it is not bad input (exit 2) but a run that failed (exit 1).
    """

    def __init__(self, verdict: BudgetVerdict, run_id: str = "") -> None:
        self.verdict = verdict
        self.run_id = run_id
        super().__init__(f"{run_id}: {verdict.reason}" if run_id else verdict.reason)
