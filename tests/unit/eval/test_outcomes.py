"""`evaluate_outcomes` on synthetic data whose best routing is known.

Two kinds of prompt: "easy" ones every model gets right and "hard" ones only the
dear model gets right. A router that learns the difference sends easy prompts to
the cheap model and hard ones to the dear model: full quality at a fraction of
the cost. The bag-of-words `FakeEncoder` makes the two kinds separable.
"""

from __future__ import annotations

from typing import Any

import pytest
from _learn_files import MODELS

from dispatch.eval.outcomes import evaluate_outcomes
from dispatch.routing.replay import Outcome, ReplayRecord
from dispatch.testing import FakeEncoder


def records(n: int, offset: int = 0) -> list[ReplayRecord]:
    out = []
    for i in range(offset, offset + n):
        hard = i % 3 == 0
        prompt = (
            f"prove the deep theorem about manifolds number {i}"
            if hard
            else f"say hello to my friend number {i}"
        )
        out.append(
            ReplayRecord(
                id=str(i),
                prompt=prompt,
                capability="analysis" if hard else "general",
                source="synthetic",
                outcomes={
                    "cheap-7b": Outcome(quality=0.0 if hard else 1.0, cost_usd=0.0001),
                    "dear-4": Outcome(quality=1.0, cost_usd=0.01),
                },
            )
        )
    return out


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return evaluate_outcomes(records(60, 1000), records(150), MODELS, FakeEncoder(64))


def test_the_report_has_the_documented_shape(report: dict[str, Any]) -> None:
    assert {
        "n",
        "router",
        "reference_model",
        "reference",
        "result",
        "curve",
        "cost_ratio_at_quality",
        "apgr",
    } <= set(report)
    assert report["n"] == 60 and report["router"] == "learned"
    assert set(report["reference"]) == {"quality", "cost_usd"}
    assert {
        "quality",
        "cost_usd",
        "quality_ratio",
        "cost_ratio",
        "calls_by_model",
    } <= set(report["result"])
    assert set(report["cost_ratio_at_quality"]) == {"0.9", "0.95"}
    assert set(report["mixed_cost_ratio_at_quality"]) == {"0.9", "0.95"}
    assert {"bar", "alt_bar", "share", "target_quality"} <= set(report["result"])
    assert all(
        set(p) == {"threshold", "quality_ratio", "cost_ratio"} for p in report["curve"]
    )


def test_the_reference_is_the_best_model_in_train(report: dict[str, Any]) -> None:
    assert report["reference_model"] == "dear-4"
    assert report["reference"]["quality"] == 1.0


def test_the_learned_router_recovers_quality_at_a_fraction_of_the_cost(
    report: dict[str, Any],
) -> None:
    result = report["result"]
    assert result["quality_ratio"] >= 0.95
    assert result["cost_ratio"] < 0.5
    assert result["calls_by_model"]["cheap-7b"] >= 30  # the 40 easy prompts, mostly
    assert report["cost_ratio_at_quality"]["0.95"] < 0.5
    assert report["apgr"] > 0.6


def test_unknown_router_and_reference_are_clear_errors() -> None:
    from dispatch import ConfigError

    with pytest.raises(ConfigError, match="unknown router"):
        evaluate_outcomes(
            records(5), records(5), MODELS, FakeEncoder(8), router="magic"
        )
    with pytest.raises(ConfigError, match="--reference is not a model of both files"):
        evaluate_outcomes(
            records(5), records(5), MODELS, FakeEncoder(8), reference="gpt-9"
        )


@pytest.mark.parametrize("router", ["mf", "logreg-conservative"])
def test_the_compared_heads_and_rules_stay_runnable(router: str) -> None:
    report = evaluate_outcomes(
        records(60, 1000), records(150), MODELS, FakeEncoder(64), router=router
    )
    assert report["router"] == router
    assert report["result"]["quality_ratio"] >= 0.9
    assert report["result"]["cost_ratio"] < 0.6
