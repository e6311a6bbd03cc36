"""Pure metrics of a routing evaluation: curve summaries, APGR, bootstrap bounds, F1.

APGR (RouteLLM's *average performance gap recovered*), generalised from two
models to many: with ``q_ref`` the reference model's mean quality and ``q_weak``
the mean quality of the cheapest model, a router's point at cost ratio ``c``
(its cost over always-reference) recovers ``PGR = (q - q_weak) / (q_ref -
q_weak)`` of the gap. ``PGR*(c)`` is the best PGR any curve point reaches at a
cost ratio of at most ``c`` (0 when none), clipped to [0, 1]. Then
``APGR = integral of PGR*(c) dc over c in [0, 1]`` (exact, on the step
function). A random mix of the cheapest and the reference model scores about
0.5; a router that recovers the whole gap at no cost scores 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = (
    "CurvePoint",
    "apgr",
    "bootstrap_ratio_bound",
    "cost_ratio_at_quality",
    "mixed_cost_ratio_at_quality",
    "per_class_scores",
    "percentile_ms",
)


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One operating point of a router, relative to the reference model."""

    threshold: float
    """The bar this point was routed at."""
    quality_ratio: float
    """Mean routed quality over the reference model's mean quality."""
    cost_ratio: float
    """Mean routed cost over the reference model's mean cost."""


def cost_ratio_at_quality(curve: Sequence[CurvePoint], target: float) -> float | None:
    """Lowest cost ratio among points whose quality ratio reaches `target`."""
    costs = [p.cost_ratio for p in curve if p.quality_ratio >= target - 1e-12]
    return min(costs) if costs else None


def mixed_cost_ratio_at_quality(
    curve: Sequence[CurvePoint], target: float
) -> float | None:
    """Lowest expected cost ratio reaching `target` when two points may be mixed.

    A router can route a share of prompts at one bar and the rest at another
    (`LearnedArtefact.alt_bar`), so every point of a segment between two curve
    points is an operating point: this reads the lower-right hull at `target`.
    The curve alone jumps where a bar moves a whole task between models;
    `cost_ratio_at_quality` then reports the point after the jump.
    """
    best = cost_ratio_at_quality(curve, target)
    for a in curve:
        for b in curve:
            if b.quality_ratio < target <= a.quality_ratio:
                share = (target - b.quality_ratio) / (a.quality_ratio - b.quality_ratio)
                cost = b.cost_ratio + share * (a.cost_ratio - b.cost_ratio)
                best = cost if best is None else min(best, cost)
    return best


def apgr(curve: Sequence[CurvePoint], *, weak_quality_ratio: float) -> float:
    """Average performance gap recovered over cost ratio in [0, 1] (module doc)."""
    gap = 1.0 - weak_quality_ratio
    if gap <= 0:
        return 1.0
    points = sorted(
        (min(max(p.cost_ratio, 0.0), 1.0), (p.quality_ratio - weak_quality_ratio) / gap)
        for p in curve
    )
    area, best, last_c = 0.0, 0.0, 0.0
    for cost, pgr in points:
        area += best * (cost - last_c)
        best = max(best, min(max(pgr, 0.0), 1.0))
        last_c = cost
    area += best * (1.0 - last_c)
    return area


def bootstrap_ratio_bound(
    achieved: npt.NDArray[np.float64],
    reference: npt.NDArray[np.float64],
    *,
    rounds: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``mean(achieved) / mean(reference)``.

    Prompts are resampled with replacement; the pair is resampled together, so
    the bound reflects how much the quality ratio can move on another sample of
    prompts of the same kind. Returns the ``(alpha/2, 1 - alpha/2)`` quantiles.
    """
    rng = np.random.default_rng(seed)
    n = len(achieved)
    idx = rng.integers(0, n, size=(rounds, n))
    ref = reference[idx].mean(axis=1)
    ratios = achieved[idx].mean(axis=1) / np.where(ref == 0, np.nan, ref)
    low, high = np.nanquantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def per_class_scores(
    truth: Sequence[str], predicted: Sequence[str]
) -> tuple[float, float, dict[str, dict[str, float]]]:
    """Accuracy, macro-F1 and per-class precision/recall/F1/n over `truth`'s classes."""
    classes = sorted(set(truth))
    per: dict[str, dict[str, float]] = {}
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != c and p == c for t, p in zip(truth, predicted, strict=True))
        n = sum(t == c for t in truth)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / n if n else 0.0
        f1 = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
        per[c] = {"precision": precision, "recall": recall, "f1": f1, "n": n}
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / max(
        len(truth), 1
    )
    macro = sum(v["f1"] for v in per.values()) / max(len(per), 1)
    return accuracy, macro, per


def accuracy_by_group(
    groups: Sequence[str], truth: Sequence[str], predicted: Sequence[str]
) -> dict[str, float]:
    """Accuracy within each group (e.g. each prompt's source), groups sorted."""
    hits: dict[str, list[bool]] = {}
    for g, t, p in zip(groups, truth, predicted, strict=True):
        hits.setdefault(g, []).append(t == p)
    return {g: sum(v) / len(v) for g, v in sorted(hits.items())}


def percentile_ms(seconds: Sequence[float]) -> Mapping[str, float]:
    """p50 and p99 of durations in seconds, as milliseconds."""
    arr = np.asarray(seconds, dtype=np.float64) * 1e3
    return {"p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99))}
