"""A soft budget's downgrade: the model a hop steps down to when the choice
does not fit in the money left (rule 5 of `dispatch.policy`)."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

from dispatch.candidates import (
    at_tier,
    cheapest,
    eligible_models,
    fallen_back,
    output_cap,
    planned_cost,
)
from dispatch.registry import Registry
from dispatch.types import Hop, ModelChoice, ModelSpec, PinChange, RouteDecision

__all__ = ("downgrade",)


def downgrade(
    choice: ModelChoice,
    hop: Hop,
    registry: Registry,
    remaining: Decimal,
    exclude: frozenset[str],
) -> ModelChoice:
    """`choice`, or the model a soft budget steps down to when its planned
    cost does not fit in `remaining` (an explicit, recorded downgrade that may
    re-open a pin); when nothing fits, the cheapest model of the kind already
    chosen, which the ledger will refuse.

    Without predictions the tier steps down, by the registry's bars, until a
    model fits. A decision with predictions takes the predicted model with the
    highest prediction that fits, whatever its tier: the tiers' bars are
    typed-in priors, not on the predictions' scale (a 0.6 prediction below a
    0.7 bar would have refused a hop the budget could pay for).
    """
    decision = choice.decision
    # A decision with predictions steps down among the models it predicts, by
    # prediction (the tiers' bars are typed-in priors, not on its scale); the
    # others, by tier and prior, only when none of those fits (see
    # `candidates.at_tier`), or when `_select` already fell back to them.
    fell_back = decision.quality is not None and (
        choice.model.id not in decision.quality
    )
    if decision.quality is None:
        found = _by_tier_that_fits(decision, hop, registry, remaining, exclude, False)
    else:
        found = None
        if not fell_back:
            found = _best_predicted_that_fits(
                decision, hop, registry, remaining, exclude
            )
        if found is None:
            found = _by_tier_that_fits(
                decision, hop, registry, remaining, exclude, True
            )
    if found is not None:
        best, tier, unpredicted, note = found
        why = f"{choice.model.id} does not fit, {decision.tier} -> {tier}{note}"
    else:
        found = _cheapest_of_kind(decision, hop, registry, exclude, fell_back)
        if found is None:
            return choice
        best, tier, unpredicted, _ = found
        why = f"nothing fits; cheapest {tier} model"
    why = f"budget: ${remaining:.6f} left, {why}"
    if best.id == choice.model.id:
        return choice
    pinned_model = choice.model.id if choice.pinned else choice.repinned_from
    kept = best.id == pinned_model
    if unpredicted:
        decision = fallen_back(decision)
    return ModelChoice(
        model=best,
        # The why goes in the choice's reason only: a hop's reason is
        # "<decision reason> -> <choice reason>", so it would appear twice.
        decision=replace(decision, tier=tier),
        pin_change=PinChange.KEPT if kept else PinChange.DOWNGRADED,
        repinned_from=None if kept else pinned_model,
        reason=why,
        expected_cost_usd=planned_cost(best, hop, registry),
        max_output_tokens=output_cap(best, hop),
    )


_Found = tuple[ModelSpec, str, bool, str]
"""A downgrade's model, the tier it serves at, whether the decision has no
prediction for it, and a note for the reason."""


def _best_predicted_that_fits(
    decision: RouteDecision,
    hop: Hop,
    registry: Registry,
    remaining: Decimal,
    exclude: frozenset[str],
) -> _Found | None:
    """The predicted model with the highest prediction whose planned cost fits
    in `remaining` (ties: the cheapest), whatever its tier or the bar."""
    quality = decision.quality or {}
    fits = [
        m
        for m in _predicted(decision, hop, registry, exclude)
        if planned_cost(m, hop, registry) <= remaining
    ]
    if not fits:
        return None
    top = max(quality[m.id] for m in fits)
    best = cheapest([m for m in fits if quality[m.id] == top], hop, registry)
    return best, best.tier, False, f"; best prediction that fits: {top:.3f}"


def _by_tier_that_fits(
    decision: RouteDecision,
    hop: Hop,
    registry: Registry,
    remaining: Decimal,
    exclude: frozenset[str],
    unpredicted: bool,
) -> _Found | None:
    """The cheapest model that fits in `remaining` at the highest tier, from
    the decision's down, whose bar it clears (registry priors; of a decision
    with predictions, with `unpredicted`, the models it does not predict)."""
    for rank in range(registry.tier_rank(decision.tier), -1, -1):
        fits = [
            m
            for m in at_tier(
                decision, registry.tiers[rank], hop, registry, exclude, unpredicted
            )
            if planned_cost(m, hop, registry) <= remaining
        ]
        if fits:
            return cheapest(fits, hop, registry), registry.tiers[rank], unpredicted, ""
    return None


def _cheapest_of_kind(
    decision: RouteDecision,
    hop: Hop,
    registry: Registry,
    exclude: frozenset[str],
    unpredicted: bool,
) -> _Found | None:
    """Nothing fits (the ledger will refuse): the cheapest model of the kind
    already chosen, never a switch to a model without a prediction. Predicted
    models are taken at any prediction; priors at the lowest tier's bar."""
    by_prediction = decision.quality is not None and not unpredicted
    if by_prediction:
        models = _predicted(decision, hop, registry, exclude)
    else:
        models = at_tier(
            decision, registry.tiers[0], hop, registry, exclude, unpredicted
        )
    if not models:
        return None
    best = cheapest(models, hop, registry)
    tier = best.tier if by_prediction else registry.tiers[0]
    return best, tier, unpredicted, ""


def _predicted(
    decision: RouteDecision, hop: Hop, registry: Registry, exclude: frozenset[str]
) -> list[ModelSpec]:
    """The models `decision` predicts that may serve `hop` (context window,
    privacy, not excluded), at any prediction."""
    quality = decision.quality or {}
    return [
        m
        for m in eligible_models(
            registry,
            decision.capability,
            decision.tier,
            input_tokens=hop.input_tokens,
            predicted=quality,
            bar=-math.inf,
            local_only=bool(hop.sensitive),
        )
        if m.id in quality and m.id not in exclude
    ]
