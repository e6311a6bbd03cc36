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
    "calibrate_mix",
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
    alt_bar: float | None = None
    """Second bar of a mixed operating point (`calibrate_mix`); None: `bar` alone."""
    share: float = 1.0
    """Share of prompts routed at `bar` (the rest at `alt_bar`)."""


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


def calibrate_mix(
    curve: Sequence[tuple[CurvePoint, Routed]],
    reference_quality: npt.NDArray[np.float64],
    reference_cost: npt.NDArray[np.float64],
    target: float,
    units: npt.NDArray[np.float64],
) -> Calibration:
    """The cheapest operating point, or mix of two, expected to reach `target`.

    Why a mix: the per-model predictions of one task sit close together, so a
    single bar moves a whole task at once and the curve jumps several quality
    points between neighbouring bars; the conservative rule (`calibrate_bar`)
    then has to stop above the jump and overshoots the target. Mixing the two
    points around the target, each prompt routed at one of them, reaches any
    quality on the segment between them at the interpolated cost: the
    lower-right hull of the curve. The cheapest hull point at `target` is
    chosen, so the expected quality lands on the target rather than above it.

    The chosen mix is then *realised* on the training prompts exactly as the
    router will apply it (`units[i] < share` takes `bar`), and the reported
    ratios and bootstrap interval are those of the realised routing.

    Args:
        curve: out-of-fold operating points on the training prompts (`sweep`).
        reference_quality: the reference model's quality per training prompt.
        reference_cost: the reference model's cost per training prompt.
        target: quality ratio to reach.
        units: `dispatch.routing.learned.prompt_unit` of each training prompt.

    Returns:
        The calibration; ``share`` 1 (no mix) when one point is cheapest, and
        the best-quality point when none reaches `target`.
    """
    points = list(curve)
    best: tuple[float, int, int, float] | None = None  # cost, dear, cheap, share
    for a, (pa, _) in enumerate(points):
        if pa.quality_ratio >= target and (best is None or pa.cost_ratio < best[0]):
            best = (pa.cost_ratio, a, a, 1.0)
    for a, (pa, _) in enumerate(points):
        for b, (pb, _) in enumerate(points):
            if not pb.quality_ratio < target <= pa.quality_ratio:
                continue
            share = (target - pb.quality_ratio) / (pa.quality_ratio - pb.quality_ratio)
            cost = pb.cost_ratio + share * (pa.cost_ratio - pb.cost_ratio)
            if best is None or cost < best[0] - 1e-12:
                best = (cost, a, b, share)
    if best is None:  # the target is out of reach: the best quality, cheapest
        top = min(
            range(len(points)),
            key=lambda i: (-points[i][0].quality_ratio, points[i][0].cost_ratio),
        )
        best = (points[top][0].cost_ratio, top, top, 1.0)
    _, a, b, share = best
    (dear, dear_routed), (cheap, cheap_routed) = points[a], points[b]
    takes_dear = units < share
    quality = np.where(takes_dear, dear_routed.quality, cheap_routed.quality)
    paid = np.where(takes_dear, dear_routed.cost, cheap_routed.cost)
    low, high = bootstrap_ratio_bound(quality, reference_quality)
    mixed = a != b
    return Calibration(
        bar=dear.threshold,
        target=target,
        train_quality_ratio=float(quality.mean() / reference_quality.mean()),
        train_cost_ratio=float(paid.mean() / reference_cost.mean()),
        quality_ratio_interval=(low, high),
        alt_bar=cheap.threshold if mixed else None,
        share=float(share) if mixed else 1.0,
    )
