"""What `dispatch train` and `dispatch eval` print without ``--json``
(`dispatch.cli.learn_render`): the numbers of the summary, worded for people."""

from __future__ import annotations

from typing import Any

from dispatch.cli.learn_render import (
    WEAKEST_SOURCES,
    print_capability,
    print_outcomes,
    print_train,
)
from dispatch.cli.render import out


def printed(show: Any, *args: Any) -> str:
    with out.capture() as captured:
        show(*args)
    return captured.get()


def train_summary(**calibration: Any) -> dict[str, Any]:
    accuracy = {f"src{i}": 0.9 - i / 100 for i in range(WEAKEST_SOURCES + 2)}
    return {
        "artefact": "router.npz",
        "target_quality": 0.95,
        "scores": {
            "quality_heads": {
                "cheap-7b": {"auc": 0.812, "brier": 0.1, "mean_quality": 0.6},
                "dear-4": {"auc": None, "brier": 0.0, "mean_quality": 1.0},
            },
            "capability_cv": {
                "n": 60,
                "accuracy": 0.9,
                "macro_f1": 0.85,
                "accuracy_by_source": accuracy,
            },
        },
        "calibration": {
            "bar": 0.5,
            "quality_ratio_interval_95": [0.9, 0.99],
            "train_quality_ratio": 0.95,
            "train_cost_ratio": 0.3,
            **calibration,
        },
    }


def test_train_names_the_weakest_sources_lowest_first_and_no_more() -> None:
    text = printed(print_train, train_summary())
    assert "weakest sources (CV accuracy): src5 0.850, src4 0.860, src3 0.870, " in text
    assert "src2 0.880\n" in text and "src1" not in text
    assert "0.812" in text and "undefined" in text  # a head with no AUC
    assert "calibrated bar 0.5000 for target 0.95" in text
    assert text.rstrip().endswith("wrote router.npz")


def test_train_shows_the_second_bar_and_its_share_when_there_is_one() -> None:
    text = printed(print_train, train_summary(alt_bar=0.7, share=0.25))
    assert "calibrated bar 0.5000 on 25% of prompts, 0.7000 on the rest" in text


def test_eval_outcomes_prints_the_ratios_against_the_reference() -> None:
    report = {
        "n": 24,
        "reference_model": "dear-4",
        "reference": {"quality": 1.0},
        "result": {
            "target_quality": 0.95,
            "quality_ratio": 0.96,
            "cost_ratio": 0.34,
            "calls_by_model": {"cheap-7b": 16, "dear-4": 8},
        },
        "cost_ratio_at_quality": {"0.95": 0.34},
        "apgr": 0.748,
    }
    assert printed(print_outcomes, report).splitlines() == [
        "24 prompts, reference dear-4 (quality 1.000)",
        "calibrated for 0.95: quality ratio 0.960, cost ratio 0.340",
        "cost ratio at quality: {'0.95': 0.34}",
        "APGR 0.748; calls: {'cheap-7b': 16, 'dear-4': 8}",
    ]


def test_eval_capability_prints_a_row_per_capability_and_the_latency() -> None:
    report = {
        "accuracy": 0.9,
        "macro_f1": 0.8,
        "n": 10,
        "per_class": {"coding": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "n": 4}},
        "latency_ms": {"p50": 1.234, "p99": 5.678},
    }
    text = printed(print_capability, report, "semantic")
    assert "semantic: accuracy 0.900, macro-F1 0.800 (n=10)" in text
    assert "coding" in text and "0.667" in text
    assert text.rstrip().endswith("decision latency p50 1.23 ms, p99 5.68 ms")
