"""A soft budget under a learned artefact steps down by prediction, not by the
registry's tier bars: those are typed-in priors, and a prediction below a
tier's bar is no reason to refuse a hop the budget can pay for."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from _general_specs import general_spec

from dispatch import Hop
from dispatch.errors import NoEligibleModel
from dispatch.policy import BudgetView, select
from dispatch.registry import Registry
from dispatch.routing.heads import LinearHeads
from dispatch.routing.learned import LearnedArtefact, LearnedRouter
from dispatch.testing import FakeEncoder
from dispatch.types import ModelSpec, PinChange

DIM = 8
# Predictions 0.3 / 0.6 / 0.95: the cheap and middle ones below the registry
# bar of their own tier (small 0.5, medium 0.7).
PREDICTIONS = {"p:cheap": 0.3, "p:mid": 0.6, "p:dear": 0.95}


spec = general_spec


def registry(*extra: ModelSpec) -> Registry:
    return Registry(
        [
            spec("p:cheap", "small", "0.1"),
            spec("p:mid", "medium", "1"),
            spec("p:dear", "large", "10"),
            *extra,
        ],
        tiers=[("small", 0.5), ("medium", 0.7), ("large", 0.85)],
        capabilities=["general"],
    )


def router(reg: Registry) -> LearnedRouter:
    p = np.asarray(list(PREDICTIONS.values()), dtype=np.float32)
    artefact = LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=tuple(PREDICTIONS),
        quality=LinearHeads(
            weights=np.zeros((DIM, len(p)), dtype=np.float32),
            bias=np.log(p / (1 - p)).astype(np.float32),
        ),
        bar=0.9,
        bar_mode="absolute",
    )
    return LearnedRouter(artefact, FakeEncoder(DIM), specs=reg, tiers=reg.tiers)


# 1,000 tokens in and 1,000 out: p:cheap $0.0002, p:mid $0.002, p:dear $0.02.
HOP = Hop(specialist="s", prompt="anything", input_tokens=1000, max_output_tokens=1000)


def soft(usd: str) -> BudgetView:
    return BudgetView(remaining=Decimal(usd), mode="soft")


def test_without_a_budget_limit_the_bar_picks_the_dear_model() -> None:
    reg = registry()
    choice = select(router(reg).decide(HOP), HOP, reg)
    assert choice.model.id == "p:dear"


def test_money_for_the_middle_model_buys_it_though_its_prediction_is_below_the_tier_bar() -> (
    None
):
    reg = registry()
    choice = select(router(reg).decide(HOP), HOP, reg, budget=soft("0.005"))
    assert choice.model.id == "p:mid"
    assert choice.pin_change is PinChange.DOWNGRADED
    assert choice.decision.tier == "medium"
    assert choice.reason == (
        "budget: $0.005000 left, p:dear does not fit, large -> medium; "
        "best prediction that fits: 0.600"
    )
    assert choice.expected_cost_usd <= Decimal("0.005")


def test_money_for_the_cheapest_only_buys_the_cheapest_rather_than_refusing_the_hop() -> (
    None
):
    reg = registry()
    choice = select(router(reg).decide(HOP), HOP, reg, budget=soft("0.0005"))
    assert (choice.model.id, choice.decision.tier) == ("p:cheap", "small")


def test_of_the_models_that_fit_the_best_predicted_wins_not_the_cheapest() -> None:
    # A second small model, cheaper still, predicted nothing: it is unpredicted,
    # so it may serve only when no predicted model fits.
    reg = registry(spec("u:other", "small", "0.01"))
    choice = select(router(reg).decide(HOP), HOP, reg, budget=soft("0.005"))
    assert choice.model.id == "p:mid"


def test_when_no_predicted_model_fits_an_unpredicted_one_may_by_its_prior() -> None:
    reg = registry(spec("u:other", "small", "0.01"))
    choice = select(router(reg).decide(HOP), HOP, reg, budget=soft("0.0001"))
    assert choice.model.id == "u:other"
    assert "registry prior" in choice.decision.reason


def test_when_nothing_fits_the_cheapest_predicted_model_is_returned_for_the_ledger_to_refuse() -> (
    None
):
    reg = registry()
    choice = select(router(reg).decide(HOP), HOP, reg, budget=soft("0.00001"))
    assert choice.model.id == "p:cheap"
    assert choice.reason == "budget: $0.000010 left, nothing fits; cheapest small model"
    assert choice.expected_cost_usd > Decimal("0.00001")


def test_excluded_and_too_small_models_are_not_stepped_down_to() -> None:
    reg = registry()
    choice = select(
        router(reg).decide(HOP),
        HOP,
        reg,
        budget=soft("0.005"),
        exclude=frozenset({"p:mid"}),
    )
    assert choice.model.id == "p:cheap"


def test_the_near_miss_of_a_learned_decision_names_a_predicted_model() -> None:
    # u:big's prior (0.99) is the highest number in the registry, but it is not
    # a prediction: the near miss is the best *predicted* model.
    reg = registry(spec("u:big", "large", "5", prior=0.99, context_window=8_192))
    big_hop = Hop(specialist="s", prompt="anything", input_tokens=200_000)
    with pytest.raises(NoEligibleModel) as caught:
        select(router(reg).decide(big_hop), big_hop, reg)
    assert "best is p:dear at 0.95" in str(caught.value)
    assert "u:big" in str(caught.value)  # named only as too small for the input
