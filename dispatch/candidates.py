"""Which registered models may serve a hop, and what each would cost it.

The policy's arithmetic, apart from its rules (`dispatch.policy`): a model's
expected quality for a decision (its per-prompt prediction, else the registry
prior), the models that clear a bar with room for the hop's input, the
planned cost a hard budget reserves, and the cheapest of a set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from dispatch.cost import call_cost
from dispatch.errors import NoEligibleModel
from dispatch.registry import Registry
from dispatch.types import Hop, ModelSpec, RouteDecision

__all__ = (
    "at_tier",
    "cheapest",
    "eligible_models",
    "expected_quality",
    "fallen_back",
    "output_cap",
    "planned_cost",
)


def output_cap(spec: ModelSpec, hop: Hop) -> int:
    """The output cap of `hop` on `spec`: the hop's, never above the model's limit."""
    return max(1, min(hop.max_output_tokens, spec.max_output_tokens))


def planned_cost(spec: ModelSpec, hop: Hop, registry: Registry) -> Decimal:
    """Cost of `hop` on `spec` at its input estimate and its (clamped) output cap.

    Input is priced at the dearer of the input and cache-write rates: a
    provider may bill every input token as a cache write (Anthropic: 1.25x
    the input rate), and this is what a hard budget reserves.
    """
    tokens_in = hop.input_tokens or registry.expected_input_tokens
    writes = tokens_in if spec.cache_write_rate > spec.input_per_mtok else 0
    return call_cost(spec, tokens_in, output_cap(spec, hop), cache_write_tokens=writes)


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
    input_tokens: int = 0,
    predicted: Mapping[str, float] | None = None,
    bar: float | None = None,
    local_only: bool = False,
) -> list[ModelSpec]:
    """Models serving `capability` at or above the bar (`bar`, else `tier`'s)
    whose context window holds `input_tokens` (and, with `local_only`, that run
    on the user's own machines: a hop whose input holds personal data).

    `predicted` (a decision's per-prompt quality) overrides the registry priors;
    without it the registry's cached table answers.
    """
    if tier not in registry.tiers:
        raise NoEligibleModel(
            capability, tier, detail=f"unknown tier; known: {registry.tiers}"
        )
    if predicted is None and bar is None:
        serving: Sequence[ModelSpec] = registry.serving(capability, tier)
    else:
        need = registry.bar(tier) if bar is None else bar
        serving = [
            m for m in registry if expected_quality(m, capability, predicted) >= need
        ]
    return [
        m
        for m in serving
        if m.context_window >= input_tokens and (m.local or not local_only)
    ]


def cheapest(
    candidates: Sequence[ModelSpec], hop: Hop, registry: Registry
) -> ModelSpec:
    """The candidate with the lowest `planned_cost` (then latency, then id).

    Ranked by the cost times a million (the same order, exactly: Decimal
    arithmetic), inlined because it runs for every candidate of every new pin.
    """
    tokens_in = hop.input_tokens or registry.expected_input_tokens
    wanted = hop.max_output_tokens
    best, best_key = candidates[0], None
    for m in candidates:
        rate = m.input_per_mtok
        write = m.cache_write_per_mtok
        if write is not None and write > rate:  # as planned_cost reserves
            rate = write
        cap = max(1, min(wanted, m.max_output_tokens))
        key = (rate * tokens_in + m.output_per_mtok * cap, m.latency_ms, m.id)
        if best_key is None or key < best_key:
            best, best_key = m, key
    return best


def at_tier(
    decision: RouteDecision,
    tier: str,
    hop: Hop,
    registry: Registry,
    exclude: frozenset[str],
    unpredicted: bool = False,
) -> list[ModelSpec]:
    """Models eligible for `hop` at `tier`'s bar, not excluded. Of a decision
    with predictions: those it predicts, judged by their predictions; or, with
    `unpredicted`, the registered models it has no prediction for, judged by
    their registry priors at the tier's bar (never the decision's own bar:
    that is on the predictions' scale)."""
    predicted = decision.quality
    eligible = eligible_models(
        registry,
        decision.capability,
        tier,
        input_tokens=hop.input_tokens,
        predicted=None if unpredicted else predicted,
        local_only=bool(hop.sensitive),
    )
    return [
        m
        for m in eligible
        if m.id not in exclude
        and (predicted is None or (m.id in predicted) is not unpredicted)
    ]


def fallen_back(decision: RouteDecision) -> RouteDecision:
    """`decision`, served by a model it has no prediction for: its reason says
    so, and its bar is the tier's (the one that model's prior cleared)."""
    note = (
        f"no model the {decision.router.value} router predicts is eligible: "
        "chosen by registry prior at the tier's bar among the models it has "
        "no prediction for"
    )
    if decision.reason.endswith(note):  # a fallback choice, downgraded
        return decision
    return replace(decision, reason=f"{decision.reason}; {note}", bar=None)
