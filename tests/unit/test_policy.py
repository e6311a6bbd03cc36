from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import SMALL_REGISTRY, registry_from_text
from hypothesis import given
from hypothesis import strategies as st

from dispatch import Hop, NoEligibleModel, Registry, RouteDecision
from dispatch.policy import BudgetView, select
from dispatch.types import ModelSpec, Pin, RouterLayer

SHARED = registry_from_text(SMALL_REGISTRY)
HOP = Hop(specialist="s", prompt="p", input_tokens=1000, max_output_tokens=500)


def decision(capability: str, tier: str) -> RouteDecision:
    return RouteDecision(
        capability=capability,
        tier=tier,
        confidence=1.0,
        router=RouterLayer.FIXED,
        reason="t",
    )


def test_cheapest_model_meeting_the_tier_bar(registry: Registry) -> None:
    assert select(decision("general", "small"), HOP, registry).model.id == "tiny:model"
    assert select(decision("general", "medium"), HOP, registry).model.id == "mid:model"
    assert select(decision("general", "large"), HOP, registry).model.id == "big:model"
    # tiny's coding quality 0.5 meets the small bar exactly
    assert select(decision("coding", "small"), HOP, registry).model.id == "tiny:model"


def test_ties_on_cost_go_to_lower_latency() -> None:
    def spec(model_id: str, latency: int) -> ModelSpec:
        from decimal import Decimal

        return ModelSpec(
            id=model_id,
            tier="small",
            quality={"general": 0.9},
            input_per_mtok=Decimal(1),
            output_per_mtok=Decimal(1),
            context_window=1000,
            max_output_tokens=1000,
            latency_ms=latency,
        )

    registry = Registry(
        [spec("slow:m", 900), spec("fast:m", 100)],
        tiers=[("small", 0.5)],
        capabilities=["general"],
    )
    assert select(decision("general", "small"), HOP, registry).model.id == "fast:m"


def test_no_eligible_model_names_capability_tier_and_best_candidate(
    registry: Registry,
) -> None:
    with pytest.raises(NoEligibleModel, match="'poetry' at tier 'small'") as info:
        select(decision("poetry", "small"), HOP, registry)
    assert info.value.capability == "poetry"
    strict = Registry(
        list(registry),
        tiers=[("small", 0.5), ("medium", 0.7), ("large", 0.99)],
        capabilities=registry.capabilities,
    )
    with pytest.raises(NoEligibleModel, match="best is big:model at 0.93"):
        select(decision("coding", "large"), HOP, strict)
    with pytest.raises(NoEligibleModel, match="unknown tier"):
        select(decision("coding", "xl"), HOP, registry)


def test_pin_is_reused_even_when_a_cheaper_model_would_do(registry: Registry) -> None:
    pin = Pin(model="mid:model", tier="medium", reason="first choice")
    choice = select(decision("general", "small"), HOP, registry, pin=pin)
    assert (choice.model.id, choice.pinned, choice.repinned_from) == (
        "mid:model",
        True,
        None,
    )


def test_pin_below_the_needed_tier_escalates_and_records_the_old_model(
    registry: Registry,
) -> None:
    pin = Pin(model="tiny:model", tier="small", reason="first choice")
    choice = select(decision("general", "large"), HOP, registry, pin=pin)
    assert (choice.model.id, choice.pinned, choice.repinned_from) == (
        "big:model",
        False,
        "tiny:model",
    )
    assert "escalated from tiny:model" in choice.reason


def test_pin_on_unregistered_model_is_replaced(registry: Registry) -> None:
    pin = Pin(model="gone:model", tier="small", reason="old")
    choice = select(decision("general", "small"), HOP, registry, pin=pin)
    assert choice.repinned_from == "gone:model"
    assert "no longer registered" in choice.reason


@given(
    capability=st.sampled_from(["coding", "search", "analysis", "general"]),
    low=st.integers(0, 2),
    high=st.integers(0, 2),
    in_tokens=st.integers(1, 100_000),
    out_tokens=st.integers(1, 10_000),
)
def test_a_higher_tier_never_selects_a_model_of_lower_quality(
    capability: str, low: int, high: int, in_tokens: int, out_tokens: int
) -> None:
    registry = SHARED
    low, high = sorted((low, high))
    hop = Hop(
        specialist="s", prompt="p", input_tokens=in_tokens, max_output_tokens=out_tokens
    )
    tiers = registry.tiers
    a = select(decision(capability, tiers[low]), hop, registry).model
    b = select(decision(capability, tiers[high]), hop, registry).model
    assert b.quality[capability] >= a.quality[capability]


def test_soft_budget_steps_down_a_tier_and_records_why(registry: Registry) -> None:
    hop = Hop(specialist="s", prompt="p", input_tokens=1000, max_output_tokens=500)
    view = BudgetView(remaining=Decimal("0.0015"), mode="soft")  # big costs 0.0175
    choice = select(decision("general", "large"), hop, registry, budget=view)
    # mid would cost 0.003 and does not fit either: tiny (0.0003) at small does
    assert (choice.model.id, choice.decision.tier) == ("tiny:model", "small")
    assert (
        choice.reason
        == "budget: $0.001500 left, big:model does not fit, large -> small"
    )


def test_soft_budget_keeps_a_pin_that_still_fits(registry: Registry) -> None:
    hop = Hop(specialist="s", prompt="p", input_tokens=1000, max_output_tokens=500)
    pin = Pin(model="mid:model", tier="medium", reason="r")
    view = BudgetView(remaining=Decimal("1"), mode="soft")
    choice = select(decision("general", "small"), hop, registry, pin=pin, budget=view)
    assert (choice.model.id, choice.pinned) == ("mid:model", True)


def test_hard_and_warn_budgets_do_not_change_the_choice(registry: Registry) -> None:
    hop = Hop(specialist="s", prompt="p", input_tokens=1000, max_output_tokens=500)
    for mode in ("hard", "warn"):
        view = BudgetView(remaining=Decimal("0"), mode=mode)
        assert select(
            decision("general", "large"), hop, registry, budget=view
        ).model.id == ("big:model")


def test_excluded_models_are_skipped_and_named_when_none_is_left(
    registry: Registry,
) -> None:
    choice = select(
        decision("general", "small"), HOP, registry, exclude=frozenset({"tiny:model"})
    )
    assert choice.model.id == "mid:model"
    with pytest.raises(NoEligibleModel, match="excluded: big:model"):
        select(
            decision("general", "large"),
            HOP,
            registry,
            exclude=frozenset({"big:model"}),
        )


DEFAULT = Registry.from_config()


@given(
    capability=st.sampled_from(["coding", "search", "analysis", "general"]),
    tier=st.sampled_from(["small", "medium", "large"]),
    pinned=st.sampled_from([None, *[m.id for m in DEFAULT]]),
    in_tokens=st.integers(1, 50_000),
    out_tokens=st.integers(1, 8_000),
    more=st.decimals(min_value=0, max_value=Decimal("0.5"), places=6),
    less=st.decimals(min_value=0, max_value=Decimal("0.5"), places=6),
)
def test_soft_mode_never_picks_a_dearer_model_when_less_budget_remains(
    capability: str,
    tier: str,
    pinned: str | None,
    in_tokens: int,
    out_tokens: int,
    more: Decimal,
    less: Decimal,
) -> None:
    more, less = max(more, less), min(more, less)
    hop = Hop(
        specialist="s", prompt="p", input_tokens=in_tokens, max_output_tokens=out_tokens
    )
    pin = Pin(model=pinned, tier="small", reason="r") if pinned else None
    d = decision(capability, tier)
    rich = select(d, hop, DEFAULT, pin=pin, budget=BudgetView(more, "soft"))
    poor = select(d, hop, DEFAULT, pin=pin, budget=BudgetView(less, "soft"))
    assert poor.expected_cost_usd <= rich.expected_cost_usd


def test_the_same_facts_are_answered_from_memory_and_new_facts_afresh(
    registry: Registry,
) -> None:
    first = select(decision("general", "small"), HOP, registry)
    other_prompt = Hop(
        specialist="t", prompt="q", input_tokens=1000, max_output_tokens=500
    )
    assert select(decision("general", "small"), other_prompt, registry) is first
    # an input no small model's window holds is chosen afresh, not remembered
    huge = Hop(specialist="s", prompt="p", input_tokens=10**9, max_output_tokens=500)
    with pytest.raises(NoEligibleModel):
        select(decision("general", "small"), huge, registry)
    pinned = Pin(model="mid:model", tier="small", reason="earlier")
    kept = select(decision("general", "small"), HOP, registry, pin=pinned)
    assert kept.model.id == "mid:model" and kept is not first
