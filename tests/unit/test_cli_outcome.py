"""A run's status and exit code, from its tasks, results and hops."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dispatch.cli.outcome import ExitCode, busy, run_outcome, start_refusal

TASKS = [{"id": "a"}, {"id": "b"}]


@dataclass(frozen=True)
class Hop:
    step: str
    error: str | None = None
    refused: bool = False


def hop(step: str, *, error: str | None = None, refused: bool = False) -> Hop:
    return Hop(step, error, refused)


def result(ok: bool) -> dict[str, Any]:
    return {"ok": ok}


def test_everything_succeeding_is_ok() -> None:
    outcome = run_outcome(
        TASKS,
        {"a": result(True), "b": result(True)},
        [hop("a"), hop("b"), hop("synthesize")],
    )
    assert (outcome.status, outcome.exit_code) == ("ok", ExitCode.OK)


def test_a_failover_that_recovers_is_still_ok() -> None:
    hops = [hop("a", error="boom"), hop("a"), hop("b"), hop("synthesize")]
    outcome = run_outcome(TASKS, {"a": result(True), "b": result(True)}, hops)
    assert outcome.exit_code is ExitCode.OK


def test_no_task_succeeding_is_failed() -> None:
    hops = [hop("a", error="x"), hop("b", error="x"), hop("synthesize", error="x")]
    outcome = run_outcome(TASKS, {"a": result(False), "b": result(False)}, hops)
    assert (outcome.status, outcome.exit_code) == ("failed", ExitCode.FAILED)
    assert "0 of 2 task(s) succeeded" in outcome.reason
    assert "3 model call(s) failed" in outcome.reason


def test_the_budget_refusing_every_task_is_refused() -> None:
    hops = [hop("a", refused=True), hop("synthesize", refused=True)]
    outcome = run_outcome(TASKS, {}, hops)
    assert (outcome.status, outcome.exit_code) == ("refused", ExitCode.REFUSED)
    assert "not run: a, b" in outcome.reason


def test_the_budget_refusing_every_task_that_ran_is_refused() -> None:
    # what the orchestrator writes: a refused task has a result (not ok)
    hops = [
        hop("a", refused=True),
        hop("b", refused=True),
        hop("synthesize", refused=True),
    ]
    outcome = run_outcome(TASKS, {"a": result(False), "b": result(False)}, hops)
    assert (outcome.status, outcome.exit_code) == ("refused", ExitCode.REFUSED)
    assert "failed: a, b" in outcome.reason and "3 hop(s) refused" in outcome.reason
    # a first call paid, its follow-up refused: still nothing succeeded for want of money
    hops = [hop("a"), hop("a", refused=True), hop("b", refused=True)]
    outcome = run_outcome(TASKS, {"a": result(False), "b": result(False)}, hops)
    assert outcome.exit_code is ExitCode.REFUSED


def test_a_failed_model_call_among_refusals_is_failed() -> None:
    hops = [hop("a", error="boom"), hop("b", refused=True)]
    outcome = run_outcome(TASKS, {"a": result(False), "b": result(False)}, hops)
    assert (outcome.status, outcome.exit_code) == ("failed", ExitCode.FAILED)


def test_some_tasks_missing_or_synthesis_failing_is_partial() -> None:
    hops = [hop("a"), hop("b", refused=True), hop("synthesize")]
    outcome = run_outcome(TASKS, {"a": result(True)}, hops)
    assert (outcome.status, outcome.exit_code) == ("partial", ExitCode.PARTIAL)
    hops = [hop("a"), hop("b"), hop("synthesize", error="x")]
    outcome = run_outcome(TASKS, {"a": result(True), "b": result(True)}, hops)
    assert outcome.exit_code is ExitCode.PARTIAL
    assert "synthesis did not complete" in outcome.reason


def test_as_json_carries_status_exit_code_and_reason() -> None:
    outcome = run_outcome(TASKS, {}, [hop("a", error="x")])
    assert outcome.as_json() == {
        "status": "failed",
        "exit_code": 1,
        "reason": outcome.reason,
    }


# -- when a hard budget refuses to start -------------------------------------------

LIMIT = Decimal("0.05")
DEMO_LIKE = {"expected": Decimal("0.036"), "worst": Decimal("0.39")}


def test_a_hard_budget_starts_when_the_expected_cost_fits_though_the_worst_case_does_not() -> (
    None
):
    refusal = start_refusal(
        LIMIT, **DEMO_LIKE, mode="hard", strict=False, allow_partial=False
    )
    assert refusal is None


def test_strict_refuses_when_the_worst_case_does_not_fit() -> None:
    refusal = start_refusal(
        LIMIT, **DEMO_LIKE, mode="hard", strict=True, allow_partial=False
    )
    assert refusal is not None and "worst case $0.390000" in refusal
    assert "--strict" in refusal


def test_the_expected_cost_above_the_budget_refuses_unless_partial_runs_are_allowed() -> (
    None
):
    tight = Decimal("0.002")
    refusal = start_refusal(
        tight, **DEMO_LIKE, mode="hard", strict=False, allow_partial=False
    )
    assert refusal is not None and "expected cost $0.036000" in refusal
    assert "--allow-partial" in refusal
    assert (
        start_refusal(tight, **DEMO_LIKE, mode="hard", strict=False, allow_partial=True)
        is None
    )


def test_soft_and_warn_budgets_never_refuse_to_start() -> None:
    for mode in ("soft", "warn"):
        assert (
            start_refusal(
                Decimal(0), **DEMO_LIKE, mode=mode, strict=True, allow_partial=False
            )
            is None
        )


def test_a_busy_thread_has_its_own_exit_code() -> None:
    outcome = busy("thread 't' is already running")
    assert (outcome.status, outcome.exit_code) == ("busy", ExitCode.BUSY)
    assert int(ExitCode.BUSY) == 5
