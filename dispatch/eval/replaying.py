"""Replay recorded outcomes through the production policy.

Every routed prompt goes through `dispatch.policy.select` with the decision a
router produced: the exact code a live hop runs. Nothing here re-implements
the choice of a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dispatch.cost import estimate_tokens
from dispatch.eval.metrics import CurvePoint, bootstrap_ratio_bound
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.routing.replay import ReplayRecord
from dispatch.types import Hop, RouteDecision

__all__ = (
    "Calibration",
    "Routed",
    "calibrate_bar",
    "hop_for",
    "route_records",
    "sweep",
)

OUTPUT_TOKENS = 256
"""Output cap assumed for a replayed prompt (it only orders models by price)."""


def hop_for(record: ReplayRecord) -> Hop:
    """The hop a live dispatcher would build for a replayed prompt."""
    return Hop(
        specialist="eval",
        prompt=record.prompt,
        step=record.id,
        input_tokens=estimate_tokens(record.prompt),
        max_output_tokens=OUTPUT_TOKENS,
    )


@dataclass(frozen=True, slots=True)
class Routed:
    """What a router + policy chose on every replayed prompt, and how it went."""

    models: list[str]
    """Outcome model name chosen per prompt."""
    quality: npt.NDArray[np.float64]
    """Recorded quality of the chosen model, per prompt (0-1)."""
    cost: npt.NDArray[np.float64]
    """Recorded cost of the chosen model's call, per prompt (USD)."""

    def calls_by_model(self) -> dict[str, int]:
        """How many prompts went to each model."""
        counts: dict[str, int] = {}
        for m in self.models:
            counts[m] = counts.get(m, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def route_records(
    decisions: Sequence[RouteDecision],
    records: Sequence[ReplayRecord],
    registry: Registry,
    names: Mapping[str, str],
) -> Routed:
    """Select a model for each decision (policy) and read its recorded outcome.

    Args:
        decisions: one router decision per record.
        records: the replayed prompts with their outcomes.
        registry: the benchmark registry.
        names: registry model id -> outcome model name.
    """
    chosen, quality, cost = [], [], []
    for decision, record in zip(decisions, records, strict=True):
        choice = select(decision, hop_for(record), registry)
        name = names[choice.model.id]
        outcome = record.outcomes[name]
        chosen.append(name)
        quality.append(outcome.quality)
        cost.append(outcome.cost_usd)
    return Routed(chosen, np.asarray(quality), np.asarray(cost))


def sweep(
    decide: Callable[[int, float], RouteDecision],
    records: Sequence[ReplayRecord],
    registry: Registry,
    names: Mapping[str, str],
    thresholds: Sequence[float],
    reference: str,
) -> list[tuple[CurvePoint, Routed]]:
    """The router's operating point at each bar in `thresholds`.

    `decide` takes a bar so the (slow) predictions are computed once and only
    the cheap decision is repeated per bar.

    Args:
        decide: ``(record index, bar) -> decision`` (predictions computed once).
        records: the replayed prompts with their outcomes.
        registry: the benchmark registry the policy selects from.
        names: registry model id -> outcome model name.
        thresholds: the bars to try (see `bar_grid`).
        reference: outcome name of the reference model (ratios are against it).

    Returns:
        One ``(point, routed)`` pair per bar, in `thresholds` order.
    """
    ref_q = np.mean([r.outcomes[reference].quality for r in records])
    ref_c = np.mean([r.outcomes[reference].cost_usd for r in records])
    out = []
    for t in thresholds:
        routed = route_records(
            [decide(i, t) for i in range(len(records))], records, registry, names
        )
        point = CurvePoint(
            threshold=float(t),
            quality_ratio=float(routed.quality.mean() / ref_q),
            cost_ratio=float(routed.cost.mean() / ref_c),
        )
        out.append((point, routed))
    return out


@dataclass(frozen=True, slots=True)
class Calibration:
    """The bar chosen on training data for a target quality ratio."""

    bar: float
    """The chosen bar, in the units of the artefact's `bar_mode`."""
    target: float
    """The quality ratio (vs the reference model) asked for."""
    train_quality_ratio: float
    """Quality ratio reached at `bar` on the out-of-fold training curve."""
    train_cost_ratio: float
    """Cost ratio (vs always-reference) at `bar` on the same curve."""
    quality_ratio_interval: tuple[float, float]
    """95 % bootstrap interval of the quality ratio at `bar` (training prompts)."""


def calibrate_bar(
    curve: Sequence[tuple[CurvePoint, Routed]],
    reference_quality: npt.NDArray[np.float64],
    target: float,
    *,
    higher_bar_costs_more: bool = True,
) -> Calibration:
    """The cheapest bar from which every dearer bar still reaches `target`.

    A dearer bar is a higher one for ``absolute``/``relative`` bars and a lower
    one for the ``utility`` bar (`higher_bar_costs_more=False`).

    `curve` must be computed from *out-of-fold* predictions on the training
    prompts: in-sample predictions are over-confident and land the held-out
    quality below target. Requiring every higher bar to reach the target (not
    just the single cheapest point) keeps one lucky point from setting the bar.
    """
    sign = 1.0 if higher_bar_costs_more else -1.0
    ordered = sorted(curve, key=lambda pr: sign * pr[0].threshold)
    chosen = ordered[-1]
    for point, routed in reversed(ordered):
        if point.quality_ratio < target:
            break
        chosen = (point, routed)
    point, routed = chosen
    low, high = bootstrap_ratio_bound(routed.quality, reference_quality)
    return Calibration(
        bar=point.threshold,
        target=target,
        train_quality_ratio=point.quality_ratio,
        train_cost_ratio=point.cost_ratio,
        quality_ratio_interval=(low, high),
    )
