"""The router's own model calls, charged to the workflow whose hop they routed.

The LLM-classifier layer (`dispatch.routing.llm.LLMRouter`) asks a small model
for a route, and that call costs money like any other. It reports the call's
usage to its ``on_usage`` callback; `attach` points that callback at the
dispatcher, and while a hop is being routed (`decide_charged`) each report becomes
a `HopRecord` of its own (router ``llm``, capability ``routing``, priced from
the registry) charged to the hop's ledger. The records go before the hop's own
in its `HopResult`, so state, reports and traces show what routing cost.

Before the call, the layer's ``admit`` hook holds the call's worst case (the
prompt's estimate plus `VERDICT_OUTPUT_TOKENS`) on the ledger, as a hop's
reservation: a budget that cannot pay for it (or a ``hard`` one closed by an
overrun) skips the classifier instead of charging past the limit. The reported
usage is checked like a hop's (`dispatch.usage.checked_usage`: negative, NaN or
impossible counts are replaced and the record says so), and the checked cost
settles the hold; a call that failed releases it.

A classifier whose model is not in the registry cannot be priced: its record
says so and costs 0. A layer that already has an ``on_usage`` is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import Decimal

from dispatch.budget import Ledger, Reservation
from dispatch.cost import call_cost
from dispatch.errors import BudgetExceeded
from dispatch.hop import HopResult
from dispatch.records import HopRecord
from dispatch.registry import Registry
from dispatch.routing.llm import VERDICT_OUTPUT_TOKENS
from dispatch.routing.protocol import leaf_layers
from dispatch.types import (
    Hop,
    ModelChoice,
    ModelSpec,
    PinChange,
    RouteDecision,
    RouterLayer,
    Usage,
)
from dispatch.usage import checked_usage

__all__ = ("attach", "decide_charged", "with_charges")


@dataclass(slots=True)
class _Routing:
    """The ledger, the records and the open holds of the hop being routed."""

    ledger: Ledger | None
    records: list[HopRecord] = field(default_factory=list)
    holds: list[tuple[Reservation | None, int]] = field(default_factory=list)
    """Reservations of classifier calls not yet settled, with the input tokens
    estimated for each."""


_CURRENT: ContextVar[_Routing | None] = ContextVar(
    "dispatch_routing_charges", default=None
)
"""What the hop being routed in this context has spent on routing."""


def attach(router: object, registry: Registry) -> None:
    """Point the ``on_usage`` of every LLM layer in `router` (a `HybridRouter`'s
    layers included) at the hop being routed."""
    for layer in leaf_layers(router):
        if hasattr(layer, "on_usage") and layer.on_usage is None:
            layer.on_usage = _charger(registry)
            if getattr(layer, "admit", False) is None:
                setattr(layer, "admit", _admitter(registry))  # noqa: B010 - duck-typed layer


def _admitter(registry: Registry) -> Callable[[Hop, str, int], bool]:
    def admit(hop: Hop, model_id: str, input_tokens: int) -> bool:
        current = _CURRENT.get()
        if current is None:  # routed outside a hop (e.g. `dispatch route`)
            return True
        hold = None
        if current.ledger is not None and model_id in registry:
            worst = call_cost(
                registry.get(model_id), input_tokens, VERDICT_OUTPUT_TOKENS
            )
            try:
                hold = current.ledger.reserve(worst, hop=f"{hop.step}:routing")
            except BudgetExceeded:
                return False
        current.holds.append((hold, input_tokens))
        return True

    return admit


def _checked(
    spec: ModelSpec, usage: Usage, sent_tokens: int
) -> tuple[Usage, str | None]:
    """The classifier's reported usage checked as a hop's is (same bounds)."""
    choice = ModelChoice(
        model=spec,
        decision=RouteDecision(
            capability="routing",
            tier=spec.tier,
            confidence=1.0,
            router=RouterLayer.LLM,
            reason="routing",
        ),
        pin_change=PinChange.NEW,
        repinned_from=None,
        reason="routing",
        expected_cost_usd=Decimal(0),
        max_output_tokens=min(VERDICT_OUTPUT_TOKENS, spec.max_output_tokens),
    )
    return checked_usage(usage, choice, (), sent_tokens=sent_tokens)


def _charger(registry: Registry) -> Callable[[Hop, str, Usage], None]:
    def charge(hop: Hop, model_id: str, usage: Usage) -> None:
        current = _CURRENT.get()
        if current is None:  # routed outside a hop (e.g. `dispatch route`)
            return
        ledger, records = current.ledger, current.records
        spec = registry.get(model_id) if model_id in registry else None
        hold, sent = current.holds.pop(0) if current.holds else (None, 0)
        problem = None
        if spec is not None:
            usage, problem = _checked(spec, usage, sent)
        cost = (
            call_cost(spec, usage.input_tokens, usage.output_tokens)
            if spec is not None
            else Decimal(0)
        )
        reason = (
            "LLM classifier call (routing)"
            if spec is not None
            else f"LLM classifier call: {model_id} is not in the registry, unpriced"
        )
        if problem is not None:
            reason += f"; reported usage not trusted: {problem}"
        records.append(
            HopRecord(
                step=hop.step,
                specialist=hop.specialist,
                round=hop.round,
                capability="routing",
                tier=spec.tier if spec is not None else "",
                model=model_id,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                estimated=usage.estimated,
                cost_usd=cost,
                baseline_cost_usd=cost,
                pin_change=PinChange.NEW,
                router=RouterLayer.LLM.value,
                confidence=1.0,
                reason=reason,
                duration_ms=0.0,
                workflow=ledger.workflow if ledger is not None else "",
            )
        )
        if ledger is None:
            return
        if hold is not None:
            ledger.settle(hold, cost)
        elif cost:
            ledger.charge(cost)

    return charge


def decide_charged(
    decide: Callable[[Hop], RouteDecision], hop: Hop, ledger: Ledger | None
) -> tuple[RouteDecision, list[HopRecord]]:
    """`decide(hop)`, with the routing calls it made (charged to `ledger`).

    A plain try/finally around the contextvar, not a generator context
    manager: this runs on every hop.
    """
    routing = _Routing(ledger)
    token = _CURRENT.set(routing)
    try:
        return decide(hop), routing.records
    finally:
        _CURRENT.reset(token)
        if ledger is not None:  # a call that failed costs nothing known
            for hold, _ in routing.holds:
                if hold is not None:
                    ledger.release(hold)


def with_charges(result: HopResult, charges: list[HopRecord]) -> HopResult:
    """`result` with the routing records first (unchanged when there are none)."""
    if not charges:
        return result
    return replace(result, records=(*charges, *result.records))
