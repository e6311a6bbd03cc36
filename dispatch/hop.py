"""One hop as data: plan it, settle it or fail it, with no I/O.

A hop is one model call a specialist needs (see `dispatch.types.Hop`). Its
steps are pure functions over frozen values:

* `plan_hop` picks the model (policy, pins, budget, models to avoid);
* `settle_hop` prices what the model returned, after checking the usage it
  reports (`dispatch.usage.checked_usage`: a provider's usage is input too),
  prompt-cache reads and writes at the model's cache rates;
* `fail_hop` records a call that raised or that the budget refused, as facts
  (error type, status) and never as the provider's message text.

`dispatch.hop_flow.hop_flow` strings them together with the ledger into the
retry and failover loop; success and failure come back the same way, as a
`HopResult`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from langchain_core.messages import AIMessage, BaseMessage

from dispatch.cost import call_cost, usage_of
from dispatch.errors import HopFailed
from dispatch.faults import ErrorFacts, ErrorKind
from dispatch.pins import pin_key
from dispatch.policy import BudgetView, select
from dispatch.records import HopRecord
from dispatch.registry import Registry
from dispatch.types import Hop, ModelChoice, Pin, PinChange, RouteDecision
from dispatch.usage import checked_usage

__all__ = (
    "Attempt",
    "HopResult",
    "fail_hop",
    "next_pin",
    "pin_for",
    "plan_hop",
    "settle_hop",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One model call the driver makes for a hop."""

    choice: ModelChoice
    number: int
    """1 for the hop's first call; each retry or failover adds one."""
    failed: HopRecord | None = None
    """The record of the attempt before this one, which failed (its span can end)."""
    delay_s: float = 0.0
    """Seconds to wait before the call: a retry's backoff or ``Retry-After``, or
    until a rate-limited model has headroom again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HopResult:
    """What a hop produced: the same shape whether it succeeded or failed."""

    hop: Hop
    message: AIMessage | None
    """The model's reply; None when every attempt failed or the budget refused."""
    records: tuple[HopRecord, ...]
    """One record per attempt, in order; the last one is the hop's outcome."""
    pin: Pin | None = None
    """The pin the hop leaves for its scope (None when it failed)."""
    pin_scope: str = ""
    """The pins key the hop used (`dispatch.pins.pin_key`)."""

    @property
    def ok(self) -> bool:
        """True when a model answered."""
        return self.message is not None

    @property
    def record(self) -> HopRecord:
        """The last attempt's record."""
        return self.records[-1]

    @property
    def refused(self) -> bool:
        """True when the budget refused the hop."""
        return self.records[-1].refused

    @property
    def error(self) -> str | None:
        """Why the hop failed (secret-free), or None."""
        return None if self.ok else self.records[-1].error

    def raise_for_failure(self) -> HopResult:
        """Return self, or raise `HopFailed` when the hop failed."""
        if not self.ok:
            raise HopFailed(self.records, _failure_text(self))
        return self


def _failure_text(result: HopResult) -> str:
    tried = ", ".join(dict.fromkeys(r.model for r in result.records if r.model))
    where = result.hop.step or result.hop.specialist
    return f"hop {where!r} failed on {tried or 'no model'}: {result.record.error}"


# -- pure steps ------------------------------------------------------------------------


def plan_hop(
    hop: Hop,
    decision: RouteDecision,
    registry: Registry,
    *,
    pin: Pin | None,
    budget: BudgetView | None,
    exclude: frozenset[str] = frozenset(),
    failed_from: HopRecord | None = None,
) -> ModelChoice:
    """The model for one attempt of `hop` (pure).

    `exclude` holds models that must not be tried (failed in this hop, circuit
    open). After a failure, `failed_from` is the attempt that failed: the new
    choice is a failover that replaces the pin.

    Raises:
        NoEligibleModel: nothing qualifies.
    """
    choice = select(decision, hop, registry, pin=pin, budget=budget, exclude=exclude)
    if failed_from is None:
        return choice
    return replace(
        choice,
        pin_change=PinChange.FAILOVER,
        repinned_from=pin.model if pin else failed_from.model,
        reason=f"failover from {failed_from.model} ({failed_from.error})",
    )


def settle_hop(
    hop: Hop,
    choice: ModelChoice,
    reply: AIMessage,
    request: Sequence[BaseMessage],
    registry: Registry,
    *,
    duration_ms: float,
    workflow: str = "",
    attempt: int = 1,
    fallback_from: str | None = None,
) -> HopRecord:
    """The record of a call that returned `reply`, priced from checked usage."""
    usage, anomaly = checked_usage(
        usage_of(reply, request), choice, request, sent_tokens=hop.input_tokens
    )
    return HopRecord(
        step=hop.step,
        specialist=hop.specialist,
        round=hop.round,
        capability=choice.decision.capability,
        tier=choice.decision.tier,
        model=choice.model.id,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        estimated=usage.estimated,
        cost_usd=call_cost(
            choice.model,
            usage.input_tokens,
            usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        # the counterfactual is one model for the whole conversation, so the
        # same prefix would be cached there too: priced with the same split
        baseline_cost_usd=call_cost(
            registry.baseline,
            usage.input_tokens,
            usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        pin_change=choice.pin_change,
        repinned_from=choice.repinned_from,
        router=choice.decision.router.value,
        confidence=choice.decision.confidence,
        reason=f"{choice.decision.reason} -> {choice.reason}",
        duration_ms=duration_ms,
        simulated=bool(reply.response_metadata.get("simulated")),
        workflow=workflow,
        attempt=attempt,
        fallback_from=fallback_from,
        usage_anomaly=anomaly,
        sensitive=tuple(sorted(hop.sensitive)),
    )


def fail_hop(
    hop: Hop,
    choice: ModelChoice | None,
    decision: RouteDecision,
    facts: ErrorFacts,
    *,
    error: str,
    duration_ms: float = 0.0,
    simulated: bool = False,
    workflow: str = "",
    attempt: int = 1,
    fallback_from: str | None = None,
) -> HopRecord:
    """The record of an attempt that raised, was refused, or found no model.

    `error` must already be secret-free (`ErrorFacts.summary`, or text built
    by graph-dispatch itself); no tokens, no cost.
    """
    zero = Decimal(0)
    return HopRecord(
        step=hop.step,
        specialist=hop.specialist,
        round=hop.round,
        capability=decision.capability,
        tier=choice.decision.tier if choice else decision.tier,
        model=choice.model.id if choice else "",
        input_tokens=0,
        output_tokens=0,
        cost_usd=zero,
        baseline_cost_usd=zero,
        pin_change=choice.pin_change if choice else PinChange.NEW,
        repinned_from=None,
        router=decision.router.value,
        confidence=decision.confidence,
        reason=choice.reason if choice else decision.reason,
        duration_ms=duration_ms,
        simulated=simulated,
        error=error,
        error_type=facts.type,
        workflow=workflow,
        refused=facts.kind is ErrorKind.BUDGET,
        attempt=attempt,
        fallback_from=fallback_from,
        sensitive=tuple(sorted(hop.sensitive)),
    )


def next_pin(choice: ModelChoice, pin: Pin | None) -> Pin:
    """The pin a successful hop on `choice` leaves (a kept pin stays as it was)."""
    if choice.pin_change is PinChange.KEPT and pin is not None:
        return pin
    return Pin(
        model=choice.model.id,
        tier=choice.decision.tier,
        reason=choice.reason,
        repinned_from=choice.repinned_from,
    )


def pin_for(
    hop: Hop,
    decision: RouteDecision,
    pins: Mapping[str, Pin],
    loop_pin: Pin | None,
    registry: Registry,
) -> tuple[RouteDecision, str, Pin | None]:
    """The decision, pin scope and pin a hop uses.

    Pins are kept per (specialist, tier): a conversation that once needed the
    large tier does not pay for it on every later small hop. A tool loop is one
    line of reasoning, so every follow-up call stays on the model of the loop's
    first call (`loop_pin`), at its tier, whatever the tool results look like;
    that also makes a loop's worst-case cost knowable before it starts. A
    learned decision's bar is the follow-up prompt's own, so it is lowered to
    the loop model's prediction where that falls short: the policy keeps the
    pin rather than escalating away from it mid-loop.
    """
    if loop_pin is not None and loop_pin.tier in registry.tiers:
        bar = decision.bar
        predicted = (decision.quality or {}).get(loop_pin.model)
        if bar is not None and predicted is not None and predicted < bar:
            bar = predicted
        if decision.tier != loop_pin.tier or bar != decision.bar:
            decision = replace(
                decision,
                tier=loop_pin.tier,
                bar=bar,
                reason=f"{decision.reason}; the tool loop stays on {loop_pin.model}",
            )
        return decision, pin_key(hop.specialist, loop_pin.tier), loop_pin
    key = pin_key(hop.specialist, decision.tier)
    return decision, key, pins.get(key)
