"""`dispatch eval outcomes`: train on TRAIN, route DATA, score recorded outcomes.

Only TRAIN is used to train and to calibrate the bar; DATA is routed once at
the calibrated bar (`result`) and swept over bars (`curve`). Every routed prompt
goes through `LearnedRouter` and `dispatch.policy.select`, as a live hop does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dispatch.errors import ConfigError
from dispatch.eval.metrics import (
    CurvePoint,
    apgr,
    cost_ratio_at_quality,
    mixed_cost_ratio_at_quality,
)
from dispatch.eval.models import benchmark_registry, model_id, outcome_models
from dispatch.eval.replaying import Routed, hop_for, route_records, sweep
from dispatch.eval.training import HeadConfig, Progress, bar_grid, train_router
from dispatch.routing.encoder import Encoder
from dispatch.routing.features import embed
from dispatch.routing.learned import LearnedRouter
from dispatch.routing.replay import ReplayRecord
from dispatch.types import RouteDecision

__all__ = ("ROUTERS", "check_router", "evaluate_outcomes")

ROUTERS: Mapping[str, HeadConfig] = {
    "learned": HeadConfig(kind="logreg", c=0.3),
    "logreg": HeadConfig(kind="logreg", c=0.3),
    "mf": HeadConfig(kind="mf", c=0.12, rank=8),
    "knn": HeadConfig(kind="knn", k=100),
    "logreg-conservative": HeadConfig(kind="logreg", c=0.3, calibration="conservative"),
    "logreg-relative": HeadConfig(kind="logreg", c=0.3, bar_mode="relative"),
    "logreg-absolute": HeadConfig(kind="logreg", c=0.3, bar_mode="absolute"),
}
"""Quality-head configurations by the name ``--router``/``--head`` accepts.

``learned`` is the production default (the head and bar mode that won
cross-validation, README "Routing quality"); it equals ``logreg`` so reports
can name either. The ``logreg-*`` entries keep the losing bar modes and the
older conservative calibration runnable so the comparison can be repeated on
new data; ``mf`` is the matrix factorisation it was compared with.
"""


def check_router(router: str) -> None:
    """Refuse a ``--router`` that is not a key of `ROUTERS` (before anything is
    read or encoded).

    Raises:
        ConfigError: naming the flag, the value and the choices.
    """
    if router not in ROUTERS:
        raise ConfigError(
            "unknown router",
            path="--router",
            found=router,
            expected=", ".join(sorted(ROUTERS)),
        )


def evaluate_outcomes(
    data: Sequence[ReplayRecord],
    train: Sequence[ReplayRecord],
    models: Mapping[str, Mapping[str, Any]],
    encoder: Encoder,
    *,
    router: str = "learned",
    reference: str | None = None,
    target: float = 0.95,
    progress: Progress | None = None,
    models_file: str | None = None,
) -> dict[str, Any]:
    """Train on `train`, route `data` as live hops would, and score the outcomes.

    Why this split: the bar is calibrated on out-of-fold predictions over
    `train` only, so the `result` on `data` is an honest held-out estimate of
    the quality and cost the router would reach in production. `data` is
    routed twice: once at the calibrated bar through `LearnedRouter.decide`
    (the operating point) and once per bar of a sweep (the curve), reusing one
    set of predictions.

    Args:
        data: held-out prompts; every one must carry an outcome for each
            model that is scored.
        train: training prompts with outcomes (and capability labels, if any).
        models: parsed `benchmark_models.json` (tier, provider, list prices).
        encoder: the sentence encoder the heads are fitted on.
        router: a key of `ROUTERS`.
        reference: outcome model all ratios are taken against; default the
            model with the best mean quality on `train`.
        target: quality ratio (vs `reference`) the bar is calibrated for.
        progress: ``(stage, done, total)`` callback for the CLI's bar.
        models_file: where `models` was read from, named in its errors.

    Returns:
        A JSON-ready dict: ``n``, ``result`` (operating point: quality, cost,
        both as ratios, calls per model, bar), ``calibration`` (train-side
        ratio and 95 % interval), ``curve``, ``cost_ratio_at_quality`` at 0.9
        and 0.95, ``apgr``, ``single_models``, ``oracle`` and
        ``train_scores``. Ratios are means over prompts divided by the
        reference model's means.

    Raises:
        ConfigError: `router` is unknown, a model has outcomes on some
            lines of a file only, the two files share fewer than two models,
            `reference` is not one of them, or a model has no entry (or no
            price) in `models`.
    """
    check_router(router)
    trained_on = outcome_models(train)  # each file: a model on every line or none
    in_data = set(outcome_models(data))
    names_list = [n for n in trained_on if n in in_data]
    if len(names_list) < 2:
        raise ConfigError(
            "TRAIN and DATA share fewer than two models with outcomes on every line",
            found=names_list,
            expected="at least two common models",
        )
    if reference is None:
        reference = max(
            names_list, key=lambda n: np.mean([r.outcomes[n].quality for r in train])
        )
    elif reference not in names_list:
        raise ConfigError(
            "--reference is not a model of both files",
            found=reference,
            expected=", ".join(names_list),
        )
    registry = benchmark_registry(
        models, names_list, train, baseline=reference, file=models_file
    )
    names = {n: model_id(n, models[n]) for n in names_list}
    trained = train_router(
        train,
        encoder,
        registry=registry,
        names=names,
        reference=reference,
        target=target,
        labelled=train,
        config=ROUTERS[router],
        progress=progress,
    )
    live = LearnedRouter(
        trained.artefact,
        encoder,
        specs=registry,
        expected_input_tokens=registry.expected_input_tokens,
        tiers=registry.tiers,
    )
    by_id = {v: k for k, v in names.items()}
    # The operating point: each prompt through Router.decide + policy.select.
    result = route_records(
        [live.decide(hop_for(r)) for r in data], data, registry, by_id
    )
    x = embed(encoder, [r.prompt for r in data])
    predicted = trained.artefact.predict_quality(x)

    def decide(i: int, bar: float) -> RouteDecision:
        return live.decision(hop_for(data[i]), predicted[i], None, bar=bar)

    curve = sweep(
        decide,
        data,
        registry,
        by_id,
        bar_grid(predicted, trained.artefact.bar_mode),
        reference,
    )
    return _report(data, router, reference, names_list, result, curve, trained)


def _report(
    data: Sequence[ReplayRecord],
    router: str,
    reference: str,
    names: Sequence[str],
    result: Routed,
    curve: Sequence[tuple[CurvePoint, Routed]],
    trained: Any,
) -> dict[str, Any]:
    """Assemble the report from what routing measured (see `evaluate_outcomes`).

    The baselines sit next to the router so a reader can judge it: every
    single model alone, the oracle (a per-prompt upper bound), and APGR, whose
    floor is the cheapest single model's quality.
    """
    ref_q = float(np.mean([r.outcomes[reference].quality for r in data]))
    ref_c = float(np.mean([r.outcomes[reference].cost_usd for r in data]))
    singles = {
        n: {
            "quality_ratio": float(np.mean([r.outcomes[n].quality for r in data]))
            / ref_q,
            "cost_ratio": float(np.mean([r.outcomes[n].cost_usd for r in data]))
            / ref_c,
        }
        for n in names
    }
    cheapest = min(singles, key=lambda n: singles[n]["cost_ratio"])
    oracle = _oracle(data, names)
    points = [p for p, _ in curve]
    cal = trained.calibration
    return {
        "n": len(data),
        "router": router,
        "reference_model": reference,
        "reference": {"quality": ref_q, "cost_usd": ref_c},
        "result": {
            "quality": float(result.quality.mean()),
            "cost_usd": float(result.cost.mean()),
            "quality_ratio": float(result.quality.mean()) / ref_q,
            "cost_ratio": float(result.cost.mean()) / ref_c,
            "calls_by_model": result.calls_by_model(),
            "bar": cal.bar if cal else None,
            "alt_bar": cal.alt_bar if cal else None,
            "share": cal.share if cal else None,
            "target_quality": cal.target if cal else None,
        },
        "calibration": {
            "train_quality_ratio": cal.train_quality_ratio,
            "train_cost_ratio": cal.train_cost_ratio,
            "quality_ratio_interval_95": list(cal.quality_ratio_interval),
        }
        if cal
        else None,
        "curve": [
            {
                "threshold": p.threshold,
                "quality_ratio": p.quality_ratio,
                "cost_ratio": p.cost_ratio,
            }
            for p in points
        ],
        "cost_ratio_at_quality": {
            key: cost_ratio_at_quality(points, float(key)) for key in ("0.9", "0.95")
        },
        "mixed_cost_ratio_at_quality": {
            key: mixed_cost_ratio_at_quality(points, float(key))
            for key in ("0.9", "0.95")
        },
        "apgr": apgr(points, weak_quality_ratio=singles[cheapest]["quality_ratio"]),
        "single_models": singles,
        "oracle": {
            "quality_ratio": oracle[0] / ref_q,
            "cost_ratio": oracle[1] / ref_c,
        },
        "train_scores": dict(trained.scores),
    }


def _oracle(data: Sequence[ReplayRecord], names: Sequence[str]) -> tuple[float, float]:
    """Mean quality and cost of picking, per prompt, the cheapest best model.

    No router can beat this (it reads the outcomes it is scored on), so it
    bounds how much of the gap between cheap and reference a router could
    still recover.
    """
    quality, cost = [], []
    for r in data:
        best = max(r.outcomes[n].quality for n in names)
        pick = min(
            (n for n in names if r.outcomes[n].quality == best),
            key=lambda n: r.outcomes[n].cost_usd,
        )
        quality.append(r.outcomes[pick].quality)
        cost.append(r.outcomes[pick].cost_usd)
    return float(np.mean(quality)), float(np.mean(cost))
