"""Choose the model for a route decision: cheapest good enough, honouring the pin.

Rules, in order:

1. Eligible models have the decision's capability with expected quality at or
   above the tier's bar (`Registry.bar`), a context window that holds the hop's
   input, and are not excluded (failed in this hop, circuit open, no rate-limit
   headroom). Expected quality is the decision's per-prompt prediction (learned
   layer) when it has one for the model, else the registry prior; a decision
   may carry its own calibrated ``bar``. A decision with predictions chooses
   among the models it predicts: a prediction and a typed-in prior are not on
   one scale, so the registered models it has no prediction for serve only
   when none of the predicted ones is eligible, judged by their priors at the
   tier's bar, and the decision's reason says so.
2. An existing pin is reused when its model is still eligible; a hop that needs
   a lower tier keeps the pinned (stronger) model: never a silent downgrade.
3. A pin whose model is not eligible for the needed tier re-opens upward
   (escalation); the new choice records the model it replaced.
4. Otherwise the model with the lowest expected cost for the hop's expected
   tokens wins; ties go to lower latency, then to the id (deterministic).
5. In ``soft`` budget mode, when that choice's cost does not fit in what is
   left, the tier steps down until a model fits (an explicit, recorded
   downgrade that may re-open a pin; a decision with predictions takes the
   best-predicted model that fits instead, see `dispatch.downgrade`); when
   nothing fits, the cheapest model is returned and the ledger refuses it.

The cost used for choosing is the hop's planned cost (its input estimate plus
its output cap, clamped to the model's own output limit), the same amount the
ledger reserves: so in soft mode less remaining money never selects a dearer
model, and an absurd cap cannot reserve an absurd amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dispatch.candidates import (
    at_tier,
    cheapest,
    eligible_models,
    expected_quality,
    fallen_back,
    output_cap,
    planned_cost,
)
from dispatch.downgrade import downgrade
from dispatch.errors import NoEligibleModel
from dispatch.registry import Registry
from dispatch.types import (
    BudgetMode,
    Hop,
    ModelChoice,
    ModelSpec,
    Pin,
    PinChange,
    RouteDecision,
)

__all__ = (
    "BudgetView",
    "eligible_models",
    "expected_quality",
    "output_cap",
    "planned_cost",
    "select",
)


@dataclass(frozen=True, slots=True)
class BudgetView:
    """What the policy needs to know of the workflow's budget."""

    remaining: Decimal | None
    """USD left for new calls; None without a limit."""
    mode: BudgetMode = "hard"
    """Only ``soft`` changes the choice."""


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
    choice = _remembered(decision, hop, registry, pin, exclude)
    if (
        budget is None
        or budget.mode != "soft"
        or budget.remaining is None
        or choice.expected_cost_usd <= budget.remaining
    ):
        return choice
    return downgrade(choice, hop, registry, budget.remaining, exclude)


_CHOICES: dict[tuple[object, ...], ModelChoice] = {}
"""Choices already made, by everything `_select` reads (see `_remembered`)."""
_CHOICES_MAX = 1024


def _remembered(
    decision: RouteDecision,
    hop: Hop,
    registry: Registry,
    pin: Pin | None,
    exclude: frozenset[str],
) -> ModelChoice:
    """`_select`, remembered: the choice is a pure function of immutable facts
    (decision, registry, pin, exclusions; the hop's input estimate, output cap
    and sensitive kinds). Decisions with per-prompt predictions (a dict) are not."""
    if decision.quality is not None:
        return _select(decision, hop, registry, pin, exclude)
    key = (
        registry, decision, pin, exclude,
        hop.input_tokens, hop.max_output_tokens, hop.sensitive,
    )  # fmt: skip
    choice = _CHOICES.get(key)
    if choice is None:
        choice = _select(decision, hop, registry, pin, exclude)
        if len(_CHOICES) >= _CHOICES_MAX:
            _CHOICES.clear()
        _CHOICES[key] = choice
    return choice


def _bar_text(decision: RouteDecision, registry: Registry) -> str:
    """The bar the candidates cleared: the decision's own (learned) or the tier's."""
    if decision.bar is None:
        return str(registry.bar(decision.tier))
    return f"{decision.bar:.3f} predicted"


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
            input_tokens=hop.input_tokens,
            predicted=decision.quality,
            bar=decision.bar,
            local_only=bool(hop.sensitive),
        )
        if m.id not in exclude
    ]
    if decision.quality is not None:
        predicted = [m for m in candidates if m.id in decision.quality]
        if predicted:
            candidates = predicted
        else:
            candidates = at_tier(
                decision, decision.tier, hop, registry, exclude, unpredicted=True
            )
            if candidates:
                decision = fallen_back(decision)
    if not candidates:
        raise NoEligibleModel(
            decision.capability,
            decision.tier,
            detail=_why_none(decision, hop, registry, exclude),
        )
    if pin is not None and pin.model in registry:
        pinned = registry.get(pin.model)
        if pinned in candidates:
            return _choice(
                pinned, decision, hop, registry, PinChange.KEPT, None, pin.reason
            )
    best = cheapest(candidates, hop, registry)
    if pin is None:
        change, why = (
            PinChange.NEW,
            f"cheapest of {len(candidates)} eligible for {decision.capability}/"
            f"{decision.tier} (bar {_bar_text(decision, registry)})",
        )
    elif pin.model not in registry:
        change, why = (
            PinChange.REPLACED,
            f"re-pinned: {pin.model} is no longer registered",
        )
    elif pin.model in exclude:
        change, why = PinChange.FAILOVER, f"failover from {pin.model}"
    elif hop.sensitive and not registry.get(pin.model).local:
        change, why = (
            PinChange.REPLACED,
            f"privacy: the input holds {', '.join(sorted(hop.sensitive))}; "
            f"{pin.model} is not a local model",
        )
    elif decision.quality is not None and pin.model not in decision.quality:
        change, why = (
            PinChange.REPLACED,
            f"re-pinned: the {decision.router.value} router has no prediction "
            f"for {pin.model}",
        )
    else:
        change, why = (
            PinChange.ESCALATED,
            f"escalated from {pin.model}: below the {decision.tier} bar for "
            f"{decision.capability}",
        )
    repinned = None if pin is None else pin.model
    return _choice(best, decision, hop, registry, change, repinned, why)


def _choice(
    model: ModelSpec,
    decision: RouteDecision,
    hop: Hop,
    registry: Registry,
    change: PinChange,
    repinned_from: str | None,
    reason: str,
) -> ModelChoice:
    return ModelChoice(
        model=model,
        decision=decision,
        pin_change=change,
        repinned_from=repinned_from,
        reason=reason,
        expected_cost_usd=planned_cost(model, hop, registry),
        max_output_tokens=output_cap(model, hop),
    )


def _why_none(
    decision: RouteDecision, hop: Hop, registry: Registry, exclude: frozenset[str]
) -> str:
    """Why no model is eligible, naming the nearest miss."""
    # The near miss of a decision with predictions is a predicted model: an
    # unpredicted one's prior is not on the bar's scale.
    served = sorted(
        (expected_quality(m, decision.capability, decision.quality), m.id)
        for m in registry
        if (
            m.id in decision.quality
            if decision.quality is not None
            else decision.capability in m.quality
        )
    )
    if not served:
        return "no registered model declares this capability"
    bar = registry.bar(decision.tier) if decision.bar is None else decision.bar
    detail = (
        f"bar is {round(bar, 3)}, best is {served[-1][1]} at {round(served[-1][0], 3)}"
    )
    too_small = [
        m.id
        for m in eligible_models(
            registry,
            decision.capability,
            decision.tier,
            predicted=decision.quality,
            bar=decision.bar,
        )
        if m.context_window < hop.input_tokens
    ]
    if too_small:
        detail += (
            f"; {hop.input_tokens} input tokens exceed the context window of "
            f"{', '.join(too_small)}"
        )
    if hop.sensitive:
        local = [m.id for m in registry if m.local]
        detail += (
            f"; the input holds {', '.join(sorted(hop.sensitive))}, so only local "
            f"models may serve it ({', '.join(local) or 'none registered'})"
        )
    if exclude:
        detail += f"; excluded: {', '.join(sorted(exclude))}"
    return detail
