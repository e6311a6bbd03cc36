"""One hop's retry and failover loop, sans I/O.

`hop_flow` is the only generator on the hop path. It yields each `Attempt` (the
model to call, and how long to wait first) and receives the model's reply or
the exception its call raised; the sync and async drivers in
`dispatch.dispatcher` only sleep and call. They close the generator in a
``finally`` (as httpx closes its auth flows), which releases the reservation of
an attempt the driver gave up before calling (cancelled during its wait); a
call stopped in flight is sent in as its exception.

Per attempt: plan (`dispatch.hop.plan_hop`) avoiding models that failed in this
hop and those the process-wide `ModelHealth` says to avoid (circuit open, no
rate-limit headroom), reserve the worst case, hand the attempt out, then settle
or release. A retryable failure (429, 5xx, connection, timeout) tries the same
model again after `ModelHealth.retry_delay` (the provider's ``Retry-After`` when
it gives one); anything else, or retries used up, fails over to the next
eligible model. A budget refusal or a cancellation ends the hop at once; a
call cancelled in flight is charged its input, as a timed-out one is.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from langchain_core.messages import AIMessage, BaseMessage

from dispatch._redact import redact
from dispatch.budget import Ledger, Reservation
from dispatch.cost import call_cost
from dispatch.errors import BudgetExceeded, ModelUnavailable, NoEligibleModel
from dispatch.faults import ErrorFacts, ErrorKind, error_facts
from dispatch.hop import (
    Attempt,
    HopResult,
    fail_hop,
    next_pin,
    pin_for,
    plan_hop,
    settle_hop,
)
from dispatch.pin_screening import screened_pins
from dispatch.policy import BudgetView
from dispatch.records import CircuitFact, HopRecord
from dispatch.registry import Registry
from dispatch.types import Hop, ModelChoice, ModelSpec, Pin, RouteDecision

__all__ = ("HealthView", "NO_HEALTH", "hop_flow")


class HealthView(Protocol):
    """What the flow asks of the process-wide model health (injected; see
    `dispatch.resilience.ModelHealth`)."""

    max_models: int
    """Models tried per hop: the chosen one plus failovers."""

    def avoid(self, models: Iterable[ModelSpec], tokens: int) -> frozenset[str]:
        """Ids among `models` not to call now (circuit open, no headroom)."""
        ...

    def wait_s(self, spec: ModelSpec, tokens: int) -> float:
        """Seconds until `spec` has headroom for a call of `tokens`."""
        ...

    def retry_delay(self, attempt: int, facts: ErrorFacts) -> float | None:
        """Wait before calling the same model again, or None to fail over."""
        ...

    def observe(self, spec: ModelSpec, tokens: int, facts: ErrorFacts | None) -> None:
        """The outcome of one call: None for success."""
        ...

    def circuits(self, model_id: str) -> tuple[CircuitFact, ...]:
        """Circuit facts for the record of a call of `model_id` (empty: all well)."""
        ...


class _NoHealth:
    """Never avoid, never wait, never retry the same model."""

    max_models = 3

    def avoid(self, models: Iterable[ModelSpec], tokens: int) -> frozenset[str]:
        return frozenset()

    def wait_s(self, spec: ModelSpec, tokens: int) -> float:
        return 0.0

    def retry_delay(self, attempt: int, facts: ErrorFacts) -> float | None:
        return None

    def observe(self, spec: ModelSpec, tokens: int, facts: ErrorFacts | None) -> None:
        return None

    def circuits(self, model_id: str) -> tuple[CircuitFact, ...]:
        return ()


NO_HEALTH: HealthView = _NoHealth()
"""The health of a dispatcher built without one: plain failover."""


def _error_text(outcome: BaseException, facts: ErrorFacts) -> str:
    """What a failed attempt's record says: the facts' secret-free summary; a
    model that could not be built also says why (graph-dispatch's own text:
    which key to set, which package to install), redacted all the same."""
    if isinstance(outcome, ModelUnavailable):
        return f"{facts.summary()}: {redact(str(outcome))}"
    return facts.summary()


def _close_failed(
    failed: HopRecord,
    outcome: BaseException,
    facts: ErrorFacts,
    hop: Hop,
    choice: ModelChoice,
    ledger: Ledger | None,
    reservation: Reservation | None,
) -> HopRecord:
    """A failed attempt's record, its reservation released or settled.

    A call that raised before the provider could bill it costs nothing. One
    that timed out, or was cancelled or interrupted while in flight, is charged
    the input it sent (marked estimated): the provider had the request and may
    have read and billed it, while what it wrote is unknown. Releasing would
    count the call as free; charging the whole worst case would close a budget
    on every timeout.
    """
    if facts.kind is ErrorKind.TIMEOUT or _stops(outcome, facts):
        cost = call_cost(choice.model, hop.input_tokens, 0)
        failed = replace(
            failed,
            input_tokens=hop.input_tokens,
            cost_usd=cost,
            baseline_cost_usd=cost,
            estimated=True,
        )
    if ledger is not None and reservation is not None:
        if failed.cost_usd:
            ledger.settle(reservation, failed.cost_usd)
        else:
            ledger.release(reservation)
    return failed


_BUDGET = ErrorFacts(type="BudgetExceeded", kind=ErrorKind.BUDGET)
_NO_MODEL = ErrorFacts(type="NoEligibleModel", kind=ErrorKind.REQUEST)
_EMPTY = ErrorFacts(type="EmptyReply", kind=ErrorKind.SERVER, retryable=True)


def _plan(
    hop: Hop,
    decision: RouteDecision,
    registry: Registry,
    pin: Pin | None,
    budget: BudgetView | None,
    tried: frozenset[str],
    health: HealthView,
    last: HopRecord | None,
) -> tuple[ModelChoice, float]:
    """The next model and how long to wait for it.

    Models the health says to avoid are skipped while another is eligible; when
    only avoided ones are left, the hop queues for the one with headroom first
    rather than fail. A chosen model the health did not avoid may still be out
    of headroom for a short while (a short ``Retry-After``): the hop waits.
    """
    tokens = hop.input_tokens + hop.max_output_tokens
    avoid = health.avoid(registry, tokens) - {m for m in tried}
    try:
        choice = plan_hop(
            hop, decision, registry, pin=pin, budget=budget,
            exclude=tried | avoid, failed_from=last,
        )  # fmt: skip
        return choice, health.wait_s(choice.model, tokens)
    except NoEligibleModel:
        if not avoid:
            raise
    choice = plan_hop(
        hop, decision, registry, pin=pin, budget=budget, exclude=tried,
        failed_from=last,
    )  # fmt: skip
    return choice, health.wait_s(choice.model, tokens)


def _retry_or_move_on(
    health: HealthView,
    choice: ModelChoice,
    calls: int,
    facts: ErrorFacts,
    tried: set[str],
) -> tuple[ModelChoice | None, float]:
    """After a failed call: the same model again and the wait, or (None, 0) to
    fail over (the model joins `tried`)."""
    wait = health.retry_delay(calls, facts)
    if wait is None:
        tried.add(choice.model.id)
        return None, 0.0
    return choice, wait


def _with_circuits(record: HopRecord, health: HealthView) -> HopRecord:
    """`record` with the breaker's noteworthy circuits after its call (so the
    checkpoint, and ``dispatch report``, can show them)."""
    circuits = health.circuits(record.model)
    return replace(record, circuits=circuits) if circuits else record


def _budget_view(ledger: Ledger | None) -> BudgetView | None:
    """What the policy sees of the budget (None when unlimited: nothing to weigh)."""
    if ledger is None or ledger.limit is None:
        return None
    return BudgetView(ledger.remaining, ledger.mode)


def _stops(outcome: BaseException, facts: ErrorFacts) -> bool:
    """Cancelled or interrupted: no retry, no failover."""
    return facts.kind is ErrorKind.CANCELLED or not isinstance(outcome, Exception)


def _empty(reply: AIMessage) -> bool:
    """A reply with neither text nor tool calls: paid for, but no answer."""
    return not reply.text.strip() and not reply.tool_calls


def hop_flow(
    hop: Hop,
    request: Sequence[BaseMessage],
    *,
    decision: RouteDecision,
    registry: Registry,
    pins: Mapping[str, Pin] | None = None,
    loop_pin: Pin | None = None,
    ledger: Ledger | None = None,
    health: HealthView = NO_HEALTH,
    clock: Callable[[], float],
    simulate: bool = False,
) -> Generator[Attempt, AIMessage | BaseException, HopResult]:
    """One hop with retries and failover (see the module docstring)."""
    # pins come from state anyone may write: drop the ones this hop may not use
    usable, loop_pin, ignored = screened_pins(
        hop, decision, pins or {}, loop_pin, registry
    )
    if ignored:
        decision = replace(decision, reason=f"{decision.reason}; {ignored}")
    decision, scope, pin = pin_for(hop, decision, usable, loop_pin, registry)
    workflow = ledger.workflow if ledger else ""
    tokens = hop.input_tokens + hop.max_output_tokens
    records: list[HopRecord] = []
    tried: set[str] = set()
    reservation: Reservation | None = None
    retry: ModelChoice | None = None  # the model to call again, if retrying
    delay, calls_of_model = 0.0, 0

    def failure() -> HopResult:
        return HopResult(hop=hop, message=None, records=tuple(records), pin_scope=scope)

    try:
        while True:
            last = records[-1] if records else None
            if retry is not None:
                choice = retry
            elif len(tried) >= health.max_models:
                return failure()
            else:
                view = _budget_view(ledger)
                try:
                    choice, delay = _plan(
                        hop, decision, registry, pin, view, frozenset(tried), health,
                        last,
                    )  # fmt: skip
                except NoEligibleModel as exc:
                    if not records:  # nothing was tried: say why no model qualifies
                        records.append(
                            fail_hop(hop, None, decision, _NO_MODEL, error=str(exc))
                        )
                    return failure()
                calls_of_model = 0
            moved = last is not None and last.model != choice.model.id
            common = {
                "workflow": workflow,
                "attempt": len(records) + 1,
                "fallback_from": last.model if moved and last else None,
            }
            if ledger is not None:
                try:
                    reservation = ledger.reserve(choice.expected_cost_usd, hop=hop.step)
                except BudgetExceeded as exc:
                    records.append(
                        fail_hop(
                            hop, choice, decision, _BUDGET, error=f"refused: {exc}",
                            simulated=simulate, **common,  # type: ignore[arg-type]
                        )
                    )  # fmt: skip
                    return failure()
            started = clock()
            outcome = yield Attempt(
                choice=choice, number=len(records) + 1, failed=last, delay_s=delay
            )
            elapsed = round((clock() - started) * 1000, 3)
            calls_of_model += 1
            if isinstance(outcome, BaseException):
                facts = error_facts(outcome)
                failed = fail_hop(
                    hop, choice, decision, facts, error=_error_text(outcome, facts),
                    duration_ms=elapsed, simulated=simulate,
                    **common,  # type: ignore[arg-type]
                )  # fmt: skip
                failed = _close_failed(
                    failed, outcome, facts, hop, choice, ledger, reservation
                )
                reservation = None
                health.observe(choice.model, tokens, facts)
                records.append(_with_circuits(failed, health))
                if _stops(outcome, facts):
                    return failure()
                retry, delay = _retry_or_move_on(
                    health, choice, calls_of_model, facts, tried
                )
                continue
            record = settle_hop(
                hop, choice, outcome, request, registry, duration_ms=elapsed,
                **common,  # type: ignore[arg-type]
            )  # fmt: skip
            if ledger is not None and reservation is not None:
                ledger.settle(reservation, record.cost_usd)
            reservation = None
            if _empty(outcome):  # paid for, but no answer: fail over
                health.observe(choice.model, tokens, _EMPTY)
                records.append(
                    _with_circuits(
                        replace(record, error="empty reply", error_type="EmptyReply"),
                        health,
                    )
                )
                retry, delay = _retry_or_move_on(
                    health, choice, calls_of_model, _EMPTY, tried
                )
                continue
            health.observe(choice.model, tokens, None)
            record = _with_circuits(record, health)
            outcome.response_metadata["dispatch"] = record.as_dict()
            records.append(record)
            return HopResult(
                hop=hop,
                message=outcome,
                records=tuple(records),
                pin=next_pin(choice, pin),
                pin_scope=scope,
            )
    finally:
        # An attempt given up before its call (GeneratorExit from the driver's
        # close) gives its reservation back: nothing was sent.
        if ledger is not None and reservation is not None:
            ledger.release(reservation)
