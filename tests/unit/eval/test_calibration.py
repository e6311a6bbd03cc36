"""`calibrate_mix`: the cheapest point, or mix of two, expected to reach the target.

The curves here have the shape RouterBench gives the learned router: a jump of
several quality points between neighbouring bars (a whole task changes model),
where the conservative rule must stop above the jump and overshoot the target.
"""

from __future__ import annotations

import numpy as np
import pytest

from dispatch.eval.metrics import CurvePoint
from dispatch.eval.replaying import Routed, calibrate_bar, calibrate_mix

N = 4000
RNG = np.random.default_rng(3)
REF_Q = np.ones(N)
REF_C = np.full(N, 10.0)
UNITS = RNG.random(N)


def point(bar: float, quality: float, cost: float) -> tuple[CurvePoint, Routed]:
    """A curve point whose routed prompts reach `quality` at `cost` on average."""
    good = np.zeros(N, dtype=bool)
    good[RNG.permutation(N)[: round(quality * N)]] = True  # unrelated to UNITS
    routed = Routed(["m"] * N, good.astype(float), np.full(N, cost * 10.0))
    return CurvePoint(bar, float(good.mean()), cost), routed


# Utility bars: a higher bar is cheaper. 0.93 -> 0.97 is the jump.
CURVE = [
    point(0.01, 1.00, 0.90),
    point(0.05, 0.97, 0.40),
    point(0.10, 0.93, 0.20),
    point(0.50, 0.85, 0.05),
]


def test_the_mix_lands_on_the_target_where_the_conservative_rule_overshoots() -> None:
    conservative = calibrate_bar(CURVE, REF_Q, 0.95, higher_bar_costs_more=False)
    assert conservative.bar == 0.05
    assert conservative.train_quality_ratio > 0.96

    mix = calibrate_mix(CURVE, REF_Q, REF_C, 0.95, UNITS)
    q_dear, q_cheap = CURVE[1][0].quality_ratio, CURVE[2][0].quality_ratio
    assert (mix.bar, mix.alt_bar) == (0.05, 0.10)
    assert mix.share == pytest.approx((0.95 - q_cheap) / (q_dear - q_cheap))
    # Realised on the prompts by their units, as the router will route them.
    assert mix.train_quality_ratio == pytest.approx(0.95, abs=0.01)
    assert mix.train_cost_ratio == pytest.approx(0.30, abs=0.01)
    assert mix.train_cost_ratio < conservative.train_cost_ratio
    low, high = mix.quality_ratio_interval
    assert low < mix.train_quality_ratio < high


def test_a_single_point_wins_when_it_is_cheapest() -> None:
    curve = [*CURVE, point(0.07, 0.95, 0.25)]  # on target, below the hull
    cal = calibrate_mix(curve, REF_Q, REF_C, 0.95, UNITS)
    assert (cal.bar, cal.alt_bar, cal.share) == (0.07, None, 1.0)
    assert cal.train_cost_ratio == pytest.approx(0.25)


def test_an_unreachable_target_takes_the_best_quality() -> None:
    cal = calibrate_mix(CURVE, REF_Q, REF_C, 1.2, UNITS)
    assert (cal.bar, cal.alt_bar, cal.share) == (0.01, None, 1.0)
    assert cal.train_quality_ratio == pytest.approx(1.0)
