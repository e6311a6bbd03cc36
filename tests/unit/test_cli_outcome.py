"""A run's status and exit code, from its tasks, results and hops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.cli.outcome import ExitCode, run_outcome

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
