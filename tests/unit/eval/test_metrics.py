from __future__ import annotations

import numpy as np
import pytest

from dispatch.eval.metrics import (
    CurvePoint,
    accuracy_by_group,
    apgr,
    bootstrap_ratio_bound,
    cost_ratio_at_quality,
    per_class_scores,
)


def pts(*pairs: tuple[float, float]) -> list[CurvePoint]:
    return [
        CurvePoint(threshold=i, quality_ratio=q, cost_ratio=c)
        for i, (q, c) in enumerate(pairs)
    ]


def test_cost_ratio_at_quality_is_the_cheapest_point_reaching_it() -> None:
    curve = pts((0.80, 0.05), (0.93, 0.20), (0.96, 0.35), (0.95, 0.50), (1.0, 1.0))
    assert cost_ratio_at_quality(curve, 0.95) == 0.35
    assert cost_ratio_at_quality(curve, 0.9) == 0.20
    assert cost_ratio_at_quality(curve, 1.01) is None


def test_apgr_of_the_random_mix_is_about_a_half_and_of_a_free_oracle_one() -> None:
    weak = 0.8
    mix = pts(*[(weak + (1 - weak) * c, c) for c in np.linspace(0, 1, 1001)])
    assert apgr(mix, weak_quality_ratio=weak) == pytest.approx(0.5, abs=1e-3)
    assert apgr(pts((1.0, 0.0)), weak_quality_ratio=weak) == 1.0
    assert apgr(pts((weak, 0.0), (weak, 1.0)), weak_quality_ratio=weak) == 0.0
    # Recovering the whole gap at 40 % of the cost: the area is 0.6.
    assert apgr(pts((weak, 0.0), (1.0, 0.4)), weak_quality_ratio=weak) == pytest.approx(
        0.6
    )


def test_bootstrap_interval_brackets_the_observed_ratio_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    ref = (rng.random(2000) < 0.9).astype(float)
    got = (rng.random(2000) < 0.85).astype(float)
    low, high = bootstrap_ratio_bound(got, ref)
    assert low < got.mean() / ref.mean() < high
    small_low, small_high = bootstrap_ratio_bound(got[:200], ref[:200])
    assert small_high - small_low > high - low


def test_per_class_scores() -> None:
    truth = ["a", "a", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a"]
    accuracy, macro, per = per_class_scores(truth, pred)
    assert accuracy == 3 / 5
    assert per["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "n": 2}
    assert per["b"]["precision"] == pytest.approx(2 / 3) and per["b"]["recall"] == 1.0
    assert per["c"]["f1"] == 0.0
    assert macro == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_mixed_cost_ratio_reads_the_hull_between_two_points() -> None:
    from dispatch.eval.metrics import mixed_cost_ratio_at_quality

    # A jump from 0.93 to 0.97 between two bars: the curve alone needs 0.40,
    # a half/half mix of the two points reaches 0.95 at 0.30.
    curve = pts((0.85, 0.05), (0.93, 0.20), (0.97, 0.40), (1.0, 1.0))
    assert cost_ratio_at_quality(curve, 0.95) == 0.40
    assert mixed_cost_ratio_at_quality(curve, 0.95) == pytest.approx(0.30)
    # A point already on target is never beaten by a mix through it.
    assert mixed_cost_ratio_at_quality(curve, 0.97) == pytest.approx(0.40)
    assert mixed_cost_ratio_at_quality(curve, 1.01) is None


def test_accuracy_is_taken_within_each_group_and_groups_come_sorted() -> None:
    scores = accuracy_by_group(
        ["nq", "arena", "arena", "nq", "arena"],
        ["search", "coding", "coding", "search", "general"],
        ["search", "coding", "general", "general", "general"],
    )
    assert list(scores) == ["arena", "nq"]
    assert scores["arena"] == pytest.approx(2 / 3)
    assert scores["nq"] == pytest.approx(0.5)
