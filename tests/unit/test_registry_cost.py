from __future__ import annotations

from decimal import Decimal

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from dispatch import Registry
from dispatch.cost import call_cost, estimate_tokens, usage_of


def test_baseline_is_configured_model_or_dearest_of_top_tier(
    registry: Registry,
) -> None:
    assert registry.baseline.id == "big:model"
    unconfigured = registry.restrict(["tiny:model", "mid:model"])
    assert unconfigured.baseline.id == "mid:model"


def test_get_unknown_model_lists_known_ids(registry: Registry) -> None:
    with pytest.raises(KeyError, match="tiny:model"):
        registry.get("nope:model")


def test_cost_is_exact_decimal(registry: Registry) -> None:
    spec = registry.get("tiny:model")
    assert call_cost(spec, 1000, 500) == Decimal("0.0003")
    assert call_cost(spec, 3, 7) == Decimal("0.0000031")


def test_usage_comes_from_usage_metadata() -> None:
    reply = AIMessage(
        content="hi",
        usage_metadata={
            "input_tokens": 120,
            "output_tokens": 30,
            "total_tokens": 150,
            "input_token_details": {"cache_read": 100},
        },
    )
    usage = usage_of(reply, [HumanMessage("x")])
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (
        120,
        30,
        False,
    )


def test_usage_is_estimated_and_marked_when_provider_reports_none() -> None:
    request = [HumanMessage("a" * 400)]
    usage = usage_of(AIMessage(content="b" * 80), request)
    assert usage.estimated
    assert usage.input_tokens == 100 + 4  # 400 chars / 4, plus per-message framing
    assert usage.output_tokens == 20


def test_estimate_tokens_rounds_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcde") == 2
