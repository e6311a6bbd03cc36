"""Choose the model for a route decision: cheapest good enough, honouring the pin.

Rules, in order:

1. Eligible models have the decision's capability with expected quality at or
   above the tier's bar (`Registry.bar`). Expected quality is the decision's
   per-prompt prediction (learned layer) when it has one for the model, else
   the registry prior; a decision may carry its own calibrated ``bar``.
2. An existing pin is reused when its model is still eligible; a hop that needs
   a lower tier keeps the pinned (stronger) model: never a silent downgrade.
3. A pin whose model is not eligible for the needed tier re-opens upward
   (escalation); the new choice records the model it replaced.
4. Otherwise the model with the lowest expected cost for the hop's expected
   tokens wins; ties go to lower latency, then to the id (deterministic).
5. In ``soft`` budget mode, when that choice's cost does not fit in what is
   left, the tier steps down until a model fits (an explicit, recorded
   downgrade that may re-open a pin); when nothing fits, the cheapest model
   is returned and the ledger refuses it.

The cost used for choosing is the hop's planned cost (its input estimate plus
its output cap), the same amount the ledger reserves: so in soft mode less
remaining money never selects a dearer model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from dispatch.cost import call_cost
from dispatch.errors import NoEligibleModel
from dispatch.registry import Registry
from dispatch.types import Hop, ModelChoice, ModelSpec, Pin, RouteDecision

__all__ = (
    "BudgetView",
    "eligible_models",
    "expected_quality",
    "planned_cost",
    "select",
)


@dataclass(frozen=True, slots=True)
class BudgetView:
    """What the policy needs to know of the workflow's budget."""

    remaining: Decimal | None
    """USD left for new calls; None without a limit."""
    mode: str = "hard"
    """``hard``, ``soft`` or ``warn``; only ``soft`` changes the choice."""


def planned_cost(spec: ModelSpec, hop: Hop, registry: Registry) -> Decimal:
    """Cost of `hop` on `spec` at its input estimate and its output cap."""
    tokens_in = hop.input_tokens or registry.expected_input_tokens
    return call_cost(spec, tokens_in, hop.max_output_tokens)


def expected_quality(
    m: ModelSpec, capability: str, predicted: Mapping[str, float] | None
) -> float:
    """`m`'s quality for this hop: the learned per-prompt prediction when the
    decision carries one for `m`, else the registry prior (-1: not served)."""
    if predicted is not None and m.id in predicted:
        return predicted[m.id]
    return m.quality.get(capability, -1.0)


def eligible_models(
    registry: Registry,
    capability: str,
    tier: str,
    *,
    predicted: Mapping[str, float] | None = None,
    bar: float | None = None,
) -> list[ModelSpec]:
    """Models serving `capability` at or above the bar (`bar`, else `tier`'s).

    `predicted` (a decision's per-prompt quality) overrides the registry priors.
    """
    if tier not in registry.tiers:
        raise NoEligibleModel(
            capability, tier, detail=f"unknown tier; known: {registry.tiers}"
        )
    need = registry.bar(tier) if bar is None else bar
    return [m for m in registry if expected_quality(m, capability, predicted) >= need]


def select(
    decision: RouteDecision,
    hop: Hop,
    registry: Registry,
    *,
    pin: Pin | None = None,
    budget: BudgetView | None = None,
    exclude: frozenset[str] = frozenset(),
) -> ModelChoice:
    """The model for `hop` given `decision`, the specialist's `pin` and the budget.

    Models in `exclude` (e.g. ones that just failed) are not considered.

    Raises:
        NoEligibleModel: no model meets the bar for the capability and tier.
    """
    choice = _select(decision, hop, registry, pin, exclude)
    if (
        budget is None
        or budget.mode != "soft"
        or budget.remaining is None
        or choice.expected_cost_usd <= budget.remaining
    ):
        return choice
    return _downgrade(choice, hop, registry, budget.remaining, exclude)


def _downgrade(
    choice: ModelChoice,
    hop: Hop,
    registry: Registry,
    remaining: Decimal,
    exclude: frozenset[str],
) -> ModelChoice:
    decision = choice.decision
    for rank in range(registry.tier_rank(decision.tier), -1, -1):
        tier = registry.tiers[rank]
        fits = [
            m
            for m in eligible_models(
                registry, decision.capability, tier, predicted=decision.quality
            )
            if m.id not in exclude and planned_cost(m, hop, registry) <= remaining
        ]
        if fits:
            best = min(fits, key=lambda m: _rank(m, hop, registry))
            why = f"budget: ${remaining:.6f} left, {decision.tier} -> {tier}"
            break
    else:
        cheapest = [
            m
            for m in eligible_models(
                registry,
                decision.capability,
                registry.tiers[0],
                predicted=decision.quality,
            )
            if m.id not in exclude
        ]
        if not cheapest:
            return choice
        best = min(cheapest, key=lambda m: _rank(m, hop, registry))
        tier = registry.tiers[0]
        why = f"budget: ${remaining:.6f} left, nothing fits; cheapest {tier} model"
    if best.id == choice.model.id:
        return choice
    pinned_model = choice.model.id if choice.pinned else choice.repinned_from
    kept = best.id == pinned_model
    return ModelChoice(
        model=best,
        decision=replace(decision, tier=tier, reason=f"{decision.reason}; {why}"),
        pinned=kept,
        repinned_from=None if kept else pinned_model,
        reason=why,
        expected_cost_usd=planned_cost(best, hop, registry),
    )


def _rank(m: ModelSpec, hop: Hop, registry: Registry) -> tuple[Decimal, int, str]:
    return (planned_cost(m, hop, registry), m.latency_ms, m.id)


def _select(
    decision: RouteDecision,
    hop: Hop,
    registry: Registry,
    pin: Pin | None,
    exclude: frozenset[str],
) -> ModelChoice:
    candidates = [
        m
        for m in eligible_models(
            registry,
            decision.capability,
            decision.tier,
            predicted=decision.quality,
            bar=decision.bar,
        )
        if m.id not in exclude
    ]
    if not candidates:
        served = sorted(
            (expected_quality(m, decision.capability, decision.quality), m.id)
            for m in registry
            if decision.capability in m.quality
            or (decision.quality is not None and m.id in decision.quality)
        )
        bar = registry.bar(decision.tier) if decision.bar is None else decision.bar
        detail = (
            f"bar is {bar}, best is {served[-1][1]} at {served[-1][0]}"
            if served
            else "no registered model declares this capability"
        )
        if exclude:
            detail += f"; excluded after failing: {', '.join(sorted(exclude))}"
        raise NoEligibleModel(decision.capability, decision.tier, detail=detail)

    if pin is not None and pin.model in registry:
        pinned = registry.get(pin.model)
        if pinned in candidates:
            return ModelChoice(
                model=pinned,
                decision=decision,
                pinned=True,
                repinned_from=None,
                reason=f"pinned since: {pin.reason}",
                expected_cost_usd=planned_cost(pinned, hop, registry),
            )
    best = min(candidates, key=lambda m: _rank(m, hop, registry))
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
        expected_cost_usd=planned_cost(best, hop, registry),
    )
