"""`bench._fault_breakdown`: the faulted run's extra cost, split by cause."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench._fault_breakdown import extra_cost_by_cause
from dispatch import HopRecord, PinChange


def rec(step: str, model: str, cost: str, round: int = 0, **kw: object) -> HopRecord:
    fields: dict[str, object] = {
        "step": step,
        "round": round,
        "specialist": "x",
        "capability": "general",
        "tier": "small",
        "model": model,
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": Decimal(cost),
        "baseline_cost_usd": Decimal("1"),
        "pin_change": PinChange.NEW,
        "router": "rules",
        "confidence": 1.0,
        "reason": "r",
        "duration_ms": 1.0,
    }
    fields.update(kw)
    return HopRecord(**fields)  # type: ignore[arg-type]


BASELINE = [
    [rec("a", "cheap", "1"), rec("a", "cheap", "1", round=1), rec("b", "mid", "4")],
    [rec("a", "cheap", "1"), rec("a", "cheap", "1", round=1), rec("b", "mid", "4")],
]


def test_each_cause_gets_its_share_and_the_shares_sum_to_the_difference() -> None:
    faulted = [
        [
            rec("a", "cheap", "0", error="x", error_type="RateLimitError"),
            rec("a", "dear", "3", fallback_from="cheap"),  # failover: +2
            rec("a", "dear", "3", round=1),  # pinned on dear: +2
            rec("a", "dear", "3", round=2),  # a round the baseline never needed
            rec("b", "mid", "6", usage_anomaly="output -5 is negative"),  # +2
        ],
        [
            rec("a", "cheap", "1", error="empty reply", error_type="EmptyReply"),
            rec("a", "cheap", "1"),  # the retry, same model: 0
            rec("b", "mid", "4"),  # round 1 of a was not needed: -1
        ],
    ]
    causes = extra_cost_by_cause(BASELINE, faulted)
    assert causes == {
        "usage anomaly billed at the bound": 1.0,
        "failover to another model": 1.0,
        "other model (pin, circuit, headroom)": 1.0,
        "paid failed attempts": 0.5,
        "extra tool rounds": 1.5,
        "rounds not needed": -0.5,
    }
    mean = lambda runs: sum(r.cost_usd for w in runs for r in w) / len(runs)  # noqa: E731
    assert sum(causes.values()) == pytest.approx(float(mean(faulted) - mean(BASELINE)))


def test_no_baseline_or_no_completed_run_gives_no_breakdown() -> None:
    assert extra_cost_by_cause([], [[rec("a", "x", "1")]]) == {}
    assert extra_cost_by_cause(BASELINE, []) == {}
