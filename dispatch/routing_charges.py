"""The router's own model calls, charged to the workflow whose hop they routed.

The LLM-classifier layer (`dispatch.routing.llm.LLMRouter`) asks a small model
for a route, and that call costs money like any other. It reports the call's
usage to its ``on_usage`` callback; `attach` points that callback at the
dispatcher, and while a hop is being routed (`decide_charged`) each report becomes
a `HopRecord` of its own (router ``llm``, capability ``routing``, priced from
the registry) charged to the hop's ledger. The records go before the hop's own
in its `HopResult`, so state, reports and traces show what routing cost.

A classifier whose model is not in the registry cannot be priced: its record
says so and costs 0. A layer that already has an ``on_usage`` is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import replace
from decimal import Decimal

from dispatch.budget import Ledger
from dispatch.cost import call_cost
from dispatch.hop import HopResult
from dispatch.records import HopRecord
from dispatch.registry import Registry
from dispatch.types import Hop, PinChange, RouteDecision, RouterLayer, Usage

__all__ = ("attach", "decide_charged", "with_charges")

_CURRENT: ContextVar[tuple[Ledger | None, list[HopRecord]] | None] = ContextVar(
    "dispatch_routing_charges", default=None
)
"""The ledger and the records of the hop being routed in this context."""


def attach(router: object, registry: Registry) -> None:
    """Point the ``on_usage`` of every LLM layer in `router` (a `HybridRouter`'s
    layers included) at the hop being routed."""
    nested = getattr(router, "layers", None)
    if nested is not None:
        for layer in nested:
            attach(layer, registry)
    elif hasattr(router, "on_usage") and router.on_usage is None:
        router.on_usage = _charger(registry)


def _charger(registry: Registry) -> Callable[[Hop, str, Usage], None]:
    def charge(hop: Hop, model_id: str, usage: Usage) -> None:
        current = _CURRENT.get()
        if current is None:  # routed outside a hop (e.g. `dispatch route`)
            return
        ledger, records = current
        spec = registry.get(model_id) if model_id in registry else None
        cost = (
            call_cost(spec, usage.input_tokens, usage.output_tokens)
            if spec is not None
            else Decimal(0)
        )
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
                reason="LLM classifier call (routing)"
                if spec is not None
                else f"LLM classifier call: {model_id} is not in the registry, unpriced",
                duration_ms=0.0,
                workflow=ledger.workflow if ledger is not None else "",
            )
        )
        if ledger is not None and cost:
            ledger.charge(cost)

    return charge


def decide_charged(
    decide: Callable[[Hop], RouteDecision], hop: Hop, ledger: Ledger | None
) -> tuple[RouteDecision, list[HopRecord]]:
    """`decide(hop)`, with the routing calls it made (charged to `ledger`).

    A plain try/finally around the contextvar, not a generator context
    manager: this runs on every hop.
    """
    records: list[HopRecord] = []
    token = _CURRENT.set((ledger, records))
    try:
        return decide(hop), records
    finally:
        _CURRENT.reset(token)


def with_charges(result: HopResult, charges: list[HopRecord]) -> HopResult:
    """`result` with the routing records first (unchanged when there are none)."""
    if not charges:
        return result
    return replace(result, records=(*charges, *result.records))
