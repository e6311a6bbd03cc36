"""Training a share router on one task and routing another (synthetic tasks).

"Hard" prompts (the word *prove*) are the only ones the weak model gets wrong.
Trained on one set of topics and routed on prompts whose wording differs, a head
that learned "prove" ranks the new task's hard prompts first, and the running
quantile sends the calibrated share of prompts to the strong model.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from dispatch.eval.transfer import (
    calibrate_share,
    evaluate_share,
    oof_share_scores,
    strong_wins,
    train_share_router,
)
from dispatch.registry import Registry
from dispatch.routing.replay import Outcome, ReplayRecord
from dispatch.routing.share import ShareRouter, scores_of
from dispatch.testing import FakeEncoder
from dispatch.types import ModelSpec

ENCODER = FakeEncoder(256)
STRONG, WEAK = ("dear", "p:dear"), ("cheap", "p:cheap")


def records(n: int, topics: tuple[str, ...], seed: int) -> list[ReplayRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        topic = topics[i % len(topics)]
        hard = rng.random() < 0.3
        verb = "prove" if hard else "state"
        out.append(
            ReplayRecord(
                id=f"{seed}-{i}",
                prompt=f"{verb} the {topic} fact number {i}",
                capability=None,
                source=f"synthetic/{topic}",
                outcomes={
                    STRONG[0]: Outcome(quality=1.0, cost_usd=0.01),
                    WEAK[0]: Outcome(quality=0.0 if hard else 1.0, cost_usd=0.0001),
                },
            )
        )
    return out


def registry() -> Registry:
    def spec(model_id: str, tier: str, price: str) -> ModelSpec:
        return ModelSpec(
            id=model_id,
            tier=tier,
            quality={"general": 0.5},
            input_per_mtok=Decimal(price),
            output_per_mtok=Decimal(price),
            context_window=100_000,
            max_output_tokens=4096,
        )

    return Registry(
        [spec("p:cheap", "medium", "0.2"), spec("p:dear", "large", "20")],
        tiers=[("small", 0.0), ("medium", 0.0), ("large", 0.0)],
        capabilities=["general"],
    )


def test_strong_wins_only_where_the_weak_model_fails_and_the_strong_does_not() -> None:
    q_strong = np.array([1.0, 1.0, 0.0, 0.0])
    q_weak = np.array([1.0, 0.0, 1.0, 0.0])
    assert strong_wins(q_strong, q_weak).tolist() == [False, True, False, False]


def test_calibrate_share_takes_the_smallest_share_that_reaches_the_target() -> None:
    # Ten prompts; the weak model fails the three with the highest scores.
    scores = np.linspace(1.0, 0.1, 10).astype(np.float32)
    q_strong = np.ones(10)
    q_weak = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1], dtype=float)
    cal = calibrate_share(scores, q_strong, q_weak, 0.9)
    assert cal.share == pytest.approx(0.2)  # 9 of 10 right: 0.9
    assert cal.train_quality_ratio == pytest.approx(0.9)
    assert cal.quality_ratio_interval[0] <= 0.9 <= cal.quality_ratio_interval[1]
    assert calibrate_share(scores, q_strong, q_weak, 1.0).share == pytest.approx(0.3)
    assert calibrate_share(scores, q_strong, q_weak, 0.5).share == 0.0


def test_grouped_out_of_fold_scores_never_see_their_own_group() -> None:
    # Each group has its own word for "hard": a head that never saw a group
    # cannot know its word, so grouped scores rank no better than chance.
    words = ["alpha", "beta", "gamma", "delta", "omega"]
    prompts, y, groups = [], [], []
    for i in range(200):
        g = words[i % 5]
        hard = i % 2 == 0
        prompts.append(f"{g}{'hard' if hard else 'soft'}{g} item{i}")
        y.append(hard)
        groups.append(g)
    x = ENCODER.encode(prompts)
    yy = np.asarray(y)
    grouped = oof_share_scores(x, yy, c=10.0, groups=groups)
    shuffled = oof_share_scores(x, yy, c=10.0)
    gap = lambda s: s[yy].mean() - s[~yy].mean()  # noqa: E731
    assert gap(shuffled) > 0.3
    assert abs(gap(grouped)) < 0.1


def test_a_head_trained_on_one_task_routes_another_at_the_calibrated_share() -> None:
    train = records(300, ("algebra", "history", "law"), seed=1)
    trained = train_share_router(
        train,
        ENCODER,
        strong=STRONG,
        weak=WEAK,
        target=0.95,
        c=10.0,
        group=lambda r: r.source,
    )
    assert trained.oof_auc > 0.95
    assert 0.2 <= trained.calibration.share <= 0.35
    data = records(200, ("cooking", "sport"), seed=2)
    reg = registry()
    router = ShareRouter(trained.artefact, ENCODER, specs=reg, window=100)
    names = {"p:dear": "dear", "p:cheap": "cheap"}
    report = evaluate_share(
        router,
        data,
        reg,
        names,
        reference="dear",
        scores=scores_of(trained.artefact, ENCODER, [r.prompt for r in data]),
        points=21,
    )
    result = report["result"]
    assert result["strong_share"] == pytest.approx(trained.calibration.share, abs=0.06)
    assert result["quality_ratio"] > 0.95
    assert report["share_at_quality"]["0.95"] < 0.4
    assert report["apgr"] > 0.75  # perfect ranking: ~0.85 with 30 % hard; random 0.5
    assert set(result["calls_by_model"]) == {"dear", "cheap"}
