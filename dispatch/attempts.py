"""One hop's attempts, sans I/O: route, select, reserve, (call), settle or fail over.

`hop_attempts` is a generator the dispatcher drives once synchronously and once
with ``await``: it yields each `ModelChoice` to call and receives the reply or
the exception, so the failover and budget logic is written (and tested) once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import replace

from langchain_core.messages import AIMessage, BaseMessage

from dispatch._loop import HopResult
from dispatch.budget import Ledger
from dispatch.errors import BudgetExceeded, HopFailed, NoEligibleModel
from dispatch.hops import failed_record, next_pin, settled_record
from dispatch.policy import BudgetView, select
from dispatch.registry import Registry
from dispatch.routing import Router
from dispatch.types import Hop, HopRecord, ModelChoice, Pin

__all__ = ("hop_attempts",)


def hop_attempts(
    hop: Hop,
    messages: Sequence[BaseMessage],
    pin: Pin | None,
    ledger: Ledger | None,
    *,
    router: Router,
    registry: Registry,
    max_failovers: int,
    clock: Callable[[], float],
    simulate: bool,
) -> Generator[ModelChoice, AIMessage | Exception, HopResult]:
    """One hop without I/O: yields each model to call and receives its reply or
    exception; fails over to the next eligible model up to `max_failovers` times.

    Route once, then per attempt: select (honouring pin and budget, excluding
    models that failed), reserve the worst case, hand the choice out, and settle
    or release. Raises `HopFailed` (with one record per attempt) when the budget
    refuses or every model tried failed; `NoEligibleModel` when none qualifies.
    """
    decision = router.decide(hop)
    failed: list[HopRecord] = []
    workflow = ledger.workflow if ledger else ""
    for _ in range(max_failovers + 1):
        view = BudgetView(ledger.remaining, ledger.mode) if ledger else None
        try:
            choice = select(
                decision,
                hop,
                registry,
                pin=pin,
                budget=view,
                exclude=frozenset(r.model for r in failed),
            )
        except NoEligibleModel:
            if failed:
                break  # nothing left to fail over to
            raise
        last = failed[-1] if failed else None
        if last is not None:
            choice = replace(
                choice,
                pinned=False,
                repinned_from=pin.model if pin else last.model,
                reason=f"failover from {last.model} ({last.error}); {choice.reason}",
            )
        started = clock()
        reservation = None
        if ledger is not None:
            try:
                reservation = ledger.reserve(choice.expected_cost_usd, hop=hop.step)
            except BudgetExceeded as exc:
                refused = failed_record(
                    hop,
                    choice,
                    f"refused: {exc}",
                    duration_ms=0.0,
                    simulated=simulate,
                    workflow=workflow,
                    refused=True,
                )
                raise HopFailed([*failed, refused], str(exc)) from exc
        outcome = yield choice
        elapsed = round((clock() - started) * 1000, 3)
        if isinstance(outcome, Exception):
            if reservation is not None and ledger is not None:
                ledger.release(reservation)
            failed.append(
                failed_record(
                    hop,
                    choice,
                    f"{type(outcome).__name__}: {outcome}",
                    duration_ms=elapsed,
                    simulated=simulate,
                    workflow=workflow,
                    fallback_from=last.model if last else None,
                )
            )
            continue
        record = settled_record(
            hop,
            choice,
            outcome,
            messages,
            registry,
            duration_ms=elapsed,
            workflow=workflow,
            fallback_from=last.model if last else None,
        )
        if reservation is not None and ledger is not None:
            ledger.settle(reservation, record.cost_usd)
        outcome.response_metadata["dispatch"] = record.as_dict()
        return HopResult(
            message=outcome,
            record=record,
            pin=next_pin(choice),
            failed_attempts=tuple(failed),
        )
    tried = ", ".join(r.model for r in failed)
    raise HopFailed(
        failed,
        f"hop {hop.step or hop.specialist!r} failed on {tried}: {failed[-1].error}",
    )
