"""Choose the model for a route decision: cheapest good enough, honouring the pin.

Rules, in order:

1. Eligible models have the decision's capability with expected quality at or
   above the tier's bar (`Registry.bar`).
2. An existing pin is reused when its model is still eligible; a hop that needs
   a lower tier keeps the pinned (stronger) model: never a silent downgrade.
3. A pin whose model is not eligible for the needed tier re-opens upward
   (escalation); the new choice records the model it replaced.
4. Otherwise the model with the lowest expected cost for the hop's expected
   tokens wins; ties go to lower latency, then to the id (deterministic).
"""

from __future__ import annotations

from dispatch.cost import call_cost
from dispatch.errors import NoEligibleModel
from dispatch.registry import Registry
from dispatch.types import Hop, ModelChoice, ModelSpec, Pin, RouteDecision

__all__ = ("eligible_models", "select")


def eligible_models(registry: Registry, capability: str, tier: str) -> list[ModelSpec]:
    """Models serving `capability` at or above `tier`'s quality bar."""
    if tier not in registry.tiers:
        raise NoEligibleModel(
            capability, tier, detail=f"unknown tier; known: {registry.tiers}"
        )
    bar = registry.bar(tier)
    return [m for m in registry if m.quality.get(capability, -1.0) >= bar]


def select(
    decision: RouteDecision, hop: Hop, registry: Registry, *, pin: Pin | None = None
) -> ModelChoice:
    """The model for `hop` given `decision` and the specialist's current `pin`.

    Raises:
        NoEligibleModel: no model meets the bar for the capability and tier.
    """
    candidates = eligible_models(registry, decision.capability, decision.tier)
    if not candidates:
        served = sorted(
            (m.quality[decision.capability], m.id)
            for m in registry
            if decision.capability in m.quality
        )
        detail = (
            f"bar is {registry.bar(decision.tier)}, best is {served[-1][1]} at {served[-1][0]}"
            if served
            else "no registered model declares this capability"
        )
        raise NoEligibleModel(decision.capability, decision.tier, detail=detail)
    in_tokens = hop.input_tokens or registry.expected_input_tokens
    out_tokens = hop.max_output_tokens

    def expected(m: ModelSpec) -> tuple[object, ...]:
        return (call_cost(m, in_tokens, out_tokens), m.latency_ms, m.id)

    if pin is not None and pin.model in registry:
        pinned = registry.get(pin.model)
        if pinned in candidates:
            return ModelChoice(
                model=pinned,
                decision=decision,
                pinned=True,
                repinned_from=None,
                reason=f"pinned since: {pin.reason}",
                expected_cost_usd=call_cost(pinned, in_tokens, out_tokens),
            )
    best = min(candidates, key=expected)
    repinned_from: str | None = None
    if pin is not None and pin.model not in registry:
        reason = f"re-pinned: {pin.model} is no longer registered"
        repinned_from = pin.model
    elif pin is not None:
        reason = (
            f"escalated from {pin.model}: below the {decision.tier} bar for "
            f"{decision.capability}"
        )
        repinned_from = pin.model
    else:
        reason = (
            f"cheapest of {len(candidates)} eligible for {decision.capability}/"
            f"{decision.tier} (bar {registry.bar(decision.tier)})"
        )
    return ModelChoice(
        model=best,
        decision=decision,
        pinned=False,
        repinned_from=repinned_from,
        reason=reason,
        expected_cost_usd=call_cost(best, in_tokens, out_tokens),
    )
