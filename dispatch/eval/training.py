"""Train and calibrate a learned artefact (shared by `dispatch train` and `eval`).

The steps, on training data only:

1. embed every prompt (cached on disk by encoder id and text);
2. out-of-fold predictions of the per-model quality heads (5 folds);
3. sweep the bar over those predictions through the production policy and pick
   the cheapest operating point, or mix of two, expected to reach the target
   (`calibrate_mix`; `calibrate_bar` is the older conservative rule), with a
   bootstrap interval;
4. fit the final heads on all training prompts; fit the capability classifier
   on the labelled prompts (if any).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

from dispatch.eval.metrics import accuracy_by_group, per_class_scores
from dispatch.eval.replaying import (
    Calibration,
    calibrate_bar,
    calibrate_mix,
    hop_for,
    sweep,
)
from dispatch.registry import Registry
from dispatch.routing.encoder import Encoder, base_width
from dispatch.routing.features import TEXT_WINDOW, embed, router_text
from dispatch.routing.heads import CapabilityHead
from dispatch.routing.learned import LearnedArtefact, LearnedRouter, prompt_unit
from dispatch.routing.replay import ReplayRecord
from dispatch.routing.train import (
    fit_capability,
    fit_quality,
    oof_capability,
    oof_quality,
    outcome_matrix,
)
from dispatch.types import RouteDecision

__all__ = ("HeadConfig", "TrainedRouter", "bar_grid", "train_router")

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``; the CLI draws a progress bar from it."""


@dataclass(frozen=True, slots=True)
class HeadConfig:
    """Which quality head to fit (chosen by cross-validation, README).

    `dispatch.eval.outcomes.ROUTERS` names the configurations compared.
    """

    kind: str = "logreg"
    """``logreg`` (one logistic regression per model), ``knn`` or ``mf``
    (RouteLLM-style matrix factorisation, all models fitted jointly)."""
    bar_mode: str = "utility"
    """How the calibrated bar becomes a per-hop bar; one of `BAR_MODES`."""
    calibration: str = "mix"
    """``mix`` (`calibrate_mix`: the cheapest point or two-point mix expected to
    reach the target) or ``conservative`` (`calibrate_bar`)."""
    c: float = 0.3
    """Inverse L2 strength of the quality regressions (smaller: smoother)."""
    k: int = 25
    """Neighbours averaged by a ``knn`` head; unused by the others."""
    rank: int = 8
    """Shared dimensions of an ``mf`` head; unused by the others."""
    capability_c: float = 10.0
    """Inverse L2 strength of the capability classifier."""
    folds: int = 5
    """Cross-validation folds for the out-of-fold predictions and scores."""


@dataclass(frozen=True, slots=True)
class TrainedRouter:
    """A trained artefact and what training measured."""

    artefact: LearnedArtefact
    """What `LearnedRouter` loads; its `meta` repeats the scores below."""
    calibration: Calibration | None
    """The calibrated bar and its train-side ratios; None without a target."""
    scores: Mapping[str, Any] = field(default_factory=dict)
    """Out-of-fold AUC/Brier per quality head and, when labels allowed it,
    the capability classifier's cross-validated accuracy and macro-F1."""


def bar_grid(
    predictions: np.ndarray, mode: str = "utility", points: int = 61
) -> list[float]:
    """Bars to sweep for `mode` (see `dispatch.routing.learned.BAR_MODES`).

    ``utility``: 0 plus a geometric grid from 0.001 to 2 quality points per
    dearest-model price; ``relative``: quantiles of each prompt's predictions over
    its best one; ``absolute``: quantiles of the predictions.
    """
    if mode == "utility":
        return [0.0, *(round(float(v), 5) for v in np.geomspace(1e-3, 2.0, points))]
    values = (
        predictions / predictions.max(axis=1, keepdims=True)
        if mode == "relative"
        else predictions
    )
    qs = np.quantile(values.ravel(), np.linspace(0, 1, points))
    return sorted({0.0, 1.0, *(round(float(q), 4) for q in qs)})


def train_router(
    records: Sequence[ReplayRecord],
    encoder: Encoder,
    *,
    registry: Registry,
    names: Mapping[str, str],
    reference: str,
    target: float | None,
    labelled: Sequence[ReplayRecord] = (),
    config: HeadConfig = HeadConfig(),
    progress: Progress | None = None,
) -> TrainedRouter:
    """Train quality heads on `records`' outcomes and calibrate the bar.

    Calibration sweeps the bar over *out-of-fold* predictions (each prompt
    scored by heads that never saw it) because in-sample predictions are
    over-confident and would pick a bar that misses the target on new
    prompts; only then are the final heads fitted on every record. The
    capability classifier is trained only when `labelled` holds at least two
    distinct capabilities; otherwise the artefact routes quality alone.

    Args:
        records: training prompts with outcomes for every model in `names`.
        encoder: the encoder the artefact is bound to.
        registry: the benchmark registry (for the calibration sweep).
        names: outcome model name -> registry model id.
        reference: outcome name of the reference model.
        target: quality ratio to calibrate for (None: no calibration, bar 0.5).
        labelled: prompts with capability labels for the capability classifier.
        config: head kind and hyper-parameters.
        progress: optional progress callback.

    Returns:
        The artefact (bar 0.5 when `target` is None) with its calibration and
        cross-validated scores, both also written into `artefact.meta`.

    Raises:
        ValueError: `config.kind` is not ``logreg``, ``knn`` or ``mf``, or
            `config.calibration` is not ``mix`` or ``conservative``.
    """
    if config.calibration not in ("mix", "conservative"):
        raise ValueError(
            f"unknown calibration {config.calibration!r}; expected mix or conservative"
        )
    outcome_names = list(names)
    ids = [names[n] for n in outcome_names]
    x = _embed(encoder, [r.prompt for r in records], "embed outcomes", progress)
    x = x[
        :, : base_width(encoder.id, x.shape[1])
    ]  # as `LearnedArtefact.predict_quality`
    quality, _ = outcome_matrix(records, outcome_names)
    oof = oof_quality(
        x,
        quality,
        kind=config.kind,
        c=config.c,
        k=config.k,
        rank=config.rank,
        folds=config.folds,
    )
    scores: dict[str, Any] = {
        "quality_heads": _head_scores(oof, quality, outcome_names)
    }
    heads = fit_quality(
        x, quality, kind=config.kind, c=config.c, k=config.k, rank=config.rank
    )

    cap_head: CapabilityHead | None = None
    classes: tuple[str, ...] = ()
    if len({r.capability for r in labelled if r.capability}) >= 2:
        lab = [r for r in labelled if r.capability]
        xl = _embed(encoder, [r.prompt for r in lab], "embed labelled", progress)
        labels = [str(r.capability) for r in lab]
        texts = [r.prompt for r in lab]
        groups = [r.source for r in lab]  # one softmax part per source
        predicted = oof_capability(
            xl,
            labels,
            prompts=texts,
            groups=groups,
            c=config.capability_c,
            folds=config.folds,
        )
        acc, macro, _ = per_class_scores(labels, predicted)
        scores["capability_cv"] = {
            "accuracy": acc,
            "macro_f1": macro,
            "n": len(lab),
            "accuracy_by_source": accuracy_by_group(groups, labels, predicted),
        }
        cap_head = fit_capability(
            xl, labels, prompts=texts, groups=groups, c=config.capability_c
        )
        classes = cap_head.classes

    draft = LearnedArtefact(
        encoder=encoder.id,
        models=tuple(ids),
        quality=heads,
        capabilities=classes,
        capability=cap_head,
        bar=0.5,
        bar_mode=config.bar_mode,
        window=TEXT_WINDOW,
    )
    calibration = None
    if target is not None:
        router = LearnedRouter(
            draft,
            encoder,
            specs=registry,
            expected_input_tokens=registry.expected_input_tokens,
            tiers=registry.tiers,
        )

        def decide(i: int, bar: float) -> RouteDecision:
            return router.decision(hop_for(records[i]), oof[i], None, bar=bar)

        by_id = {model: name for name, model in names.items()}
        curve = sweep(
            decide, records, registry, by_id, bar_grid(oof, config.bar_mode), reference
        )
        ref_q = np.asarray([r.outcomes[reference].quality for r in records])
        if config.calibration == "mix":
            ref_c = np.asarray([r.outcomes[reference].cost_usd for r in records])
            units = np.asarray(
                [prompt_unit(router_text(r.prompt, TEXT_WINDOW)) for r in records]
            )
            calibration = calibrate_mix(curve, ref_q, ref_c, target, units)
        else:
            calibration = calibrate_bar(
                curve,
                ref_q,
                target,
                higher_bar_costs_more=config.bar_mode != "utility",
            )
    meta = {
        "kind": config.kind,
        "bar_mode": config.bar_mode,
        "calibration_rule": config.calibration,
        "c": config.c,
        "k": config.k,
        "reference_model": names[reference],
        "target_quality": target,
        "trained_on": len(records),
        "scores": scores,
        "calibration": None
        if calibration is None
        else {
            "bar": calibration.bar,
            "alt_bar": calibration.alt_bar,
            "share": calibration.share,
            "train_quality_ratio": calibration.train_quality_ratio,
            "train_cost_ratio": calibration.train_cost_ratio,
            "quality_ratio_interval_95": list(calibration.quality_ratio_interval),
        },
    }
    artefact = LearnedArtefact(
        encoder=encoder.id,
        models=tuple(ids),
        quality=heads,
        capabilities=classes,
        capability=cap_head,
        bar=calibration.bar if calibration else 0.5,
        bar_mode=config.bar_mode,
        alt_bar=calibration.alt_bar if calibration else None,
        share=calibration.share if calibration else 1.0,
        window=TEXT_WINDOW,
        meta=meta,
    )
    return TrainedRouter(artefact, calibration, scores)


def _embed(
    encoder: Encoder, prompts: list[str], stage: str, progress: Progress | None
) -> np.ndarray:
    """Embed `prompts`, reporting cumulative progress under `stage`.

    `embed` reports batch sizes; the CLI's bar wants ``done`` of ``total``.
    """
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(stage, done, len(prompts))

    return embed(encoder, prompts, progress=tick)


def _head_scores(
    oof: np.ndarray, quality: np.ndarray, names: Sequence[str]
) -> dict[str, dict[str, float | None]]:
    """AUC, Brier score and base rate of each model's out-of-fold head.

    Quality above 0.5 counts as "good", as in `fit_quality`. AUC is None
    (``null`` in ``--json``, which has no NaN) for a model that is always (or
    never) good on these prompts: it is undefined there, and reporting 0.5
    would hide that.
    """
    out: dict[str, dict[str, float | None]] = {}
    for j, name in enumerate(names):
        y = quality[:, j] > 0.5
        auc = (
            round(float(roc_auc_score(y, oof[:, j])), 4)
            if 0 < y.sum() < len(y)
            else None
        )
        out[name] = {
            "auc": auc,
            "brier": round(float(brier_score_loss(y, oof[:, j])), 4),
            "mean_quality": round(float(y.mean()), 4),
        }
    return out
