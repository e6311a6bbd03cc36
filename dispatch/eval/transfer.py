"""Train a `ShareRouter` on one task and measure it on another (RouteLLM transfer).

Training, on the training task only (e.g. MMLU):

1. embed every prompt through the artefact's text view (cached on disk);
2. label each prompt "strong wins" (the strong model answers well and the
   weak one does not);
3. out-of-fold scores of a logistic regression on the embedding, with the
   folds *grouped* (by MMLU subject): each prompt is scored by a head that saw
   none of its subject, the closest the training data comes to an unseen task;
4. the share of strong calls that reaches the target quality ratio on those
   scores (`calibrate_share`), with a bootstrap interval;
5. the final head on every prompt; its training scores seed the live window.

Evaluation (`evaluate_share`) routes every prompt of the new task through
`ShareRouter.decide` and `dispatch.policy.select`, in a given order (the
running quantile depends on what came before), and sweeps the threshold over
the same scores for the curve. No outcome of the evaluated task is read
before routing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, KFold

from dispatch.eval.metrics import CurvePoint, apgr, bootstrap_ratio_bound
from dispatch.eval.metrics import cost_ratio_at_quality as _cost_at
from dispatch.eval.replaying import Routed, hop_for, route_records, sweep
from dispatch.registry import Registry
from dispatch.routing.encoder import Encoder
from dispatch.routing.features import TEXT_WINDOW, embed
from dispatch.routing.heads import LinearHeads
from dispatch.routing.replay import ReplayRecord
from dispatch.routing.share import ShareArtefact, ShareRouter, TextView, view_text
from dispatch.types import RouteDecision

__all__ = (
    "ShareCalibration",
    "TrainedShare",
    "calibrate_share",
    "evaluate_share",
    "fit_share_head",
    "oof_share_scores",
    "strong_wins",
    "summarise",
    "train_share_router",
)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def strong_wins(q_strong: F64, q_weak: F64) -> npt.NDArray[np.bool_]:
    """True where the strong model is good (> 0.5) and the weak one is not.

    The event a strong call pays for: on every other prompt the weak model's
    answer is at least as good, so routing it to the strong model buys nothing.
    """
    return (q_strong > 0.5) & (q_weak <= 0.5)


def fit_share_head(x: F32, y: npt.NDArray[np.bool_], *, c: float) -> LinearHeads:
    """An L2 logistic regression of `y` on `x`, as a one-output `LinearHeads`.

    Raises:
        ValueError: `y` holds one class only (nothing to learn).
    """
    if y.all() or not y.any():
        raise ValueError("strong-wins labels are all equal; nothing to learn")
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(x, y)
    return LinearHeads(
        weights=model.coef_.T.astype(np.float32),
        bias=model.intercept_.astype(np.float32),
    )


def oof_share_scores(
    x: F32,
    y: npt.NDArray[np.bool_],
    *,
    c: float,
    groups: Sequence[str] | None = None,
    folds: int = 5,
) -> F32:
    """Out-of-fold head scores; folds keep each group (subject) whole.

    Grouping matters: random folds put questions of the same subject on both
    sides, so the scores (and the share calibrated on them) reflect topic
    memorisation that a new task will not offer. With fewer groups than
    `folds`, each group is one fold.

    Raises:
        ValueError: `groups` holds fewer than two distinct groups.
    """
    out = np.zeros(len(y), dtype=np.float32)
    if groups is not None:
        distinct = len(set(groups))
        if distinct < 2:
            raise ValueError("grouped folds need at least two groups")
        folds = min(folds, distinct)
    splits = (
        GroupKFold(folds).split(x, y, np.asarray(groups))
        if groups is not None
        else KFold(folds, shuffle=True, random_state=0).split(x)
    )
    for train, test in splits:
        out[test] = fit_share_head(x[train], y[train], c=c).predict(x[test])[:, 0]
    return out


@dataclass(frozen=True, slots=True)
class ShareCalibration:
    """The share of strong calls chosen on training scores for a target."""

    share: float
    """Share of prompts (top scores) to send to the strong model."""
    target: float
    """Quality ratio (vs always-strong) asked for."""
    train_quality_ratio: float
    """Quality ratio reached at `share` on the out-of-fold training ranking."""
    quality_ratio_interval: tuple[float, float]
    """95 % bootstrap interval of that ratio (training prompts resampled)."""


def calibrate_share(
    scores: F32, q_strong: F64, q_weak: F64, target: float
) -> ShareCalibration:
    """The smallest share from which every larger share reaches `target`.

    Prompts are taken by descending score; the quality at share k/n is the weak
    model's on the rest plus the strong model's on the top k. Requiring every
    larger share to reach the target keeps one lucky dip from setting it.
    """
    n = len(scores)
    order = np.argsort(-scores, kind="stable")
    gains = np.concatenate([[0.0], np.cumsum((q_strong - q_weak)[order])])
    ratios = (q_weak.sum() + gains) / q_strong.sum()
    below = np.nonzero(ratios < target - 1e-12)[0]
    k = int(below[-1]) + 1 if len(below) else 0
    k = min(k, n)
    chosen = q_weak.copy()
    chosen[order[:k]] = q_strong[order[:k]]
    low, high = bootstrap_ratio_bound(chosen, q_strong)
    return ShareCalibration(
        share=k / n,
        target=target,
        train_quality_ratio=float(ratios[k]),
        quality_ratio_interval=(low, high),
    )


@dataclass(frozen=True, slots=True)
class TrainedShare:
    """A trained share artefact and what training measured."""

    artefact: ShareArtefact
    """What `ShareRouter` loads."""
    calibration: ShareCalibration
    """The calibrated share and its training-side quality."""
    oof_auc: float
    """Grouped out-of-fold AUC of the strong-wins head."""


def train_share_router(
    records: Sequence[ReplayRecord],
    encoder: Encoder,
    *,
    strong: tuple[str, str],
    weak: tuple[str, str],
    target: float = 0.95,
    c: float = 0.1,
    view: TextView = "question",
    group: Callable[[ReplayRecord], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> TrainedShare:
    """Train and calibrate a share router on `records` (module doc, steps 1-5).

    Args:
        records: training prompts with outcomes for both models.
        encoder: the encoder the artefact is bound to.
        strong: ``(outcome name, registry id)`` of the strong model.
        weak: ``(outcome name, registry id)`` of the weak model.
        target: quality ratio vs always-strong to calibrate the share for.
        c: inverse L2 strength of the logistic regression (0.1: best
            subject-grouped out-of-fold share at 0.95 on MMLU among
            0.03/0.1/0.3/1; README "RouteLLM transfer").
        view: what of each prompt the head reads (default: the question
            without few-shot demonstrations; see `question_text` for why).
        group: a record's group for the out-of-fold folds (e.g. its MMLU
            subject); None: shuffled folds.
        progress: called with the number of prompts embedded per batch.
    """
    x = embed(
        encoder,
        [view_text(r.prompt, view) for r in records],
        window=TEXT_WINDOW,
        progress=progress,
    )
    q_strong = np.asarray([r.outcomes[strong[0]].quality for r in records])
    q_weak = np.asarray([r.outcomes[weak[0]].quality for r in records])
    y = strong_wins(q_strong, q_weak)
    groups = [group(r) for r in records] if group is not None else None
    oof = oof_share_scores(x, y, c=c, groups=groups)
    calibration = calibrate_share(oof, q_strong, q_weak, target)
    head = fit_share_head(x, y, c=c)
    fitted = np.clip(head.predict(x)[:, 0], 1e-6, 1 - 1e-6)
    reference = np.quantile(fitted, np.linspace(0.0, 1.0, 2001)).astype(np.float32)
    auc = float(roc_auc_score(y, oof))
    meta = {
        "trained_on": len(records),
        "strong": strong[0],
        "weak": weak[0],
        "target_quality": target,
        "c": c,
        "view": view,
        "grouped_folds": group is not None,
        "oof_auc": round(auc, 4),
        "strong_wins_rate": round(float(y.mean()), 4),
        "calibration": {
            "share": calibration.share,
            "train_quality_ratio": calibration.train_quality_ratio,
            "quality_ratio_interval_95": list(calibration.quality_ratio_interval),
        },
    }
    artefact = ShareArtefact(
        encoder=encoder.id,
        strong=strong[1],
        weak=weak[1],
        head=head,
        share=calibration.share,
        reference=reference,
        view=view,
        window=TEXT_WINDOW,
        meta=meta,
    )
    return TrainedShare(artefact, calibration, auc)


def evaluate_share(
    router: ShareRouter,
    data: Sequence[ReplayRecord],
    registry: Registry,
    names: Mapping[str, str],
    *,
    reference: str,
    scores: F32,
    points: int = 101,
) -> dict[str, Any]:
    """Route `data` in order through `router` + the policy, then sweep the curve.

    Args:
        router: a fresh router (its running window is advanced by routing).
        data: the new task's prompts, in arrival order.
        registry: the registry the policy selects from.
        names: registry id -> outcome name.
        reference: outcome name of the strong model (ratios are against it).
        scores: ``scores_of(router.artefact, ...)`` for `data` (the curve
            reuses them instead of re-encoding per threshold).
        points: thresholds on the curve (quantiles of `scores`), plus one
            below every score (always strong).

    Returns:
        `summarise` over all of `data`.
    """
    decisions = [router.decide(hop_for(r)) for r in data]

    def decide(i: int, threshold: float) -> RouteDecision:
        return router.decision(hop_for(data[i]), float(scores[i]), threshold)

    grid = sorted({float(v) for v in np.quantile(scores, np.linspace(0, 1, points))})
    return summarise(
        decisions,
        decide,
        [-1.0, *grid],
        data,
        registry,
        names,
        reference=reference,
        strong=router.artefact.strong,
        weak=router.artefact.weak,
    )


def summarise(
    decisions: Sequence[RouteDecision],
    decide: Callable[[int, float], RouteDecision],
    thresholds: Sequence[float],
    data: Sequence[ReplayRecord],
    registry: Registry,
    names: Mapping[str, str],
    *,
    reference: str,
    strong: str,
    weak: str,
    subset: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The operating point and the curve of any router on `data` (or a subset).

    Both go through `dispatch.policy.select` (`route_records`, `sweep`); the
    subset lets a report break one routed stream down by task without routing
    it again (a running quantile would not route the same way twice).

    Args:
        decisions: the router's decision per record of `data` (operating point).
        decide: ``(record index, threshold) -> decision`` for the curve.
        thresholds: the thresholds (bars) the curve sweeps.
        data: the routed prompts with their outcomes.
        registry: the registry the policy selects from.
        names: registry id -> outcome name.
        reference: outcome name of the strong model (ratios are against it).
        strong: registry id of the strong model (its share of calls is reported).
        weak: registry id of the weak model (the APGR floor).
        subset: indices into `data` to report on; default all.

    Returns:
        ``n``, ``result`` (quality and cost ratios, strong-call share, calls per
        model), ``cost_ratio_at_quality`` and ``share_at_quality`` (lowest cost
        ratio / strong share on the curve reaching 0.9 and 0.95; None if never),
        ``apgr`` (see `dispatch.eval.metrics`) and ``curve``.
    """
    idx = list(range(len(data))) if subset is None else list(subset)
    rows = [data[i] for i in idx]
    routed = route_records([decisions[i] for i in idx], rows, registry, names)
    curve = sweep(
        lambda j, t: decide(idx[j], t), rows, registry, names, thresholds, reference
    )
    strong_name, weak_name = names[strong], names[weak]
    ref_q = float(np.mean([r.outcomes[reference].quality for r in rows]))
    ref_c = float(np.mean([r.outcomes[reference].cost_usd for r in rows]))
    weak_q = float(np.mean([r.outcomes[weak_name].quality for r in rows])) / ref_q
    points = [p for p, _ in curve]
    return {
        "n": len(rows),
        "result": {
            "quality_ratio": float(routed.quality.mean()) / ref_q,
            "cost_ratio": float(routed.cost.mean()) / ref_c,
            "strong_share": _share(routed, strong_name),
            "calls_by_model": routed.calls_by_model(),
        },
        "cost_ratio_at_quality": {
            k: _cost_at(points, float(k)) for k in ("0.9", "0.95")
        },
        "share_at_quality": {
            k: _share_at(curve, strong_name, float(k)) for k in ("0.9", "0.95")
        },
        "apgr": apgr(points, weak_quality_ratio=weak_q),
        "weak_quality_ratio": weak_q,
        "curve": [
            {
                "threshold": p.threshold,
                "quality_ratio": p.quality_ratio,
                "cost_ratio": p.cost_ratio,
                "strong_share": _share(r, strong_name),
            }
            for p, r in curve
        ],
    }


def _share(routed: Routed, strong: str) -> float:
    """Share of `routed`'s prompts sent to `strong` (an outcome name)."""
    return sum(m == strong for m in routed.models) / max(len(routed.models), 1)


def _share_at(
    curve: Sequence[tuple[CurvePoint, Routed]], strong: str, target: float
) -> float | None:
    """Smallest strong share among curve points reaching `target` quality."""
    shares = [_share(r, strong) for p, r in curve if p.quality_ratio >= target - 1e-12]
    return min(shares) if shares else None
