from __future__ import annotations

import pytest

from dispatch import FixedRouter, Hop, Router, RulesRouter
from dispatch.types import RouterLayer


def decide(prompt: str, **hints: str) -> tuple[str, str]:
    d = RulesRouter().decide(Hop(specialist="t", prompt=prompt, **hints))  # type: ignore[arg-type]
    return d.capability, d.tier


@pytest.mark.parametrize(
    ("prompt", "capability"),
    [
        ("Fix this:\n```python\nprint(1/0)\n```", "coding"),
        ("Why does my javascript function throw a TypeError exception?", "coding"),
        ("def add(a, b):\n    return a - b", "coding"),
        ("Who handles checkout incidents according to the runbook?", "search"),
        ("Find the documentation for the deploy policy", "search"),
        ("What is 17.5 * 4 + 3?", "analysis"),
        ("What is the average of 3, 4 and 5?", "analysis"),
        ("Compute the median and standard deviation of these numbers", "analysis"),
        ("Write a friendly thank-you note to the team", "general"),
        ("WHY DOES MY PYTHON SCRIPT CRASH?", "coding"),  # words match in any case
        ("WHO OWNS THE RUNBOOK?", "search"),
        ("x = load()\ny = x + 1;\nz = y * 2;", "coding"),  # a line ending in ;
        ("const f = (a) => a + b", "coding"),
        ("while(ready) {\n  go\n}", "coding"),
        ("import os", "coding"),
    ],
)
def test_capability_signals(prompt: str, capability: str) -> None:
    assert decide(prompt)[0] == capability


def test_short_plain_prompt_is_small_and_hard_long_prompt_is_large() -> None:
    assert decide("Say hello")[1] == "small"
    hard = "Design a distributed cache step by step, with edge cases and trade-offs."
    assert decide(hard)[1] == "large"
    assert decide("word " * 700)[1] == "medium"
    assert decide("word " * 3000)[1] == "large"


def test_plan_hints_win_and_are_reported_as_hints() -> None:
    d = RulesRouter().decide(
        Hop(
            specialist="t",
            prompt="Say hello",
            capability_hint="coding",
            tier_hint="large",
        )
    )
    assert (d.capability, d.tier, d.confidence, d.router) == (
        "coding",
        "large",
        1.0,
        RouterLayer.HINT,
    )


def test_unknown_hints_are_ignored() -> None:
    d = RulesRouter().decide(
        Hop(
            specialist="t", prompt="Say hello", capability_hint="poetry", tier_hint="xl"
        )
    )
    assert (d.capability, d.tier, d.router) == ("general", "small", RouterLayer.RULES)


def test_tiers_map_onto_a_registry_with_two_tiers() -> None:
    router = RulesRouter(tiers=("cheap", "strong"))
    hard = "Design a distributed cache step by step, with edge cases and trade-offs."
    assert router.decide(Hop(specialist="t", prompt=hard)).tier == "strong"
    assert router.decide(Hop(specialist="t", prompt="hi")).tier == "cheap"


def test_capability_not_served_falls_back_to_general() -> None:
    router = RulesRouter(capabilities=("search", "general"))
    d = router.decide(Hop(specialist="t", prompt="```python\nx=1\n```"))
    assert d.capability == "general"


ROUTERS = [RulesRouter(), FixedRouter("coding", "small")]
PROMPTS = [
    "",
    "hello",
    "```py\nx\n```",
    "What is 2+2?",
    "x" * 20_000,
    "¿Dónde está? 🤔",
]


@pytest.mark.parametrize("router", ROUTERS, ids=lambda r: type(r).__name__)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_router_contract(router: Router, prompt: str) -> None:
    assert isinstance(router, Router)
    hop = Hop(specialist="t", prompt=prompt)
    first, second = router.decide(hop), router.decide(hop)
    assert first == second
    assert 0.0 <= first.confidence <= 1.0
    assert first.reason
    assert router.describe()


def test_a_decision_is_remembered_by_prompt_and_hints() -> None:
    router = RulesRouter()
    prompt = "Why did our checkout latency get worse after the last deploy?"
    first = router.decide(Hop(specialist="a", prompt=prompt))
    # another hop (another specialist, another round) with the same text and hints
    assert router.decide(Hop(specialist="b", prompt=prompt, round=2)) is first
    hinted = router.decide(Hop(specialist="a", prompt=prompt, capability_hint="coding"))
    assert hinted is not first
    assert hinted.capability == "coding"


def test_long_prompts_are_decided_afresh_not_remembered() -> None:
    router = RulesRouter()
    long = "Design a distributed cache. " * 400  # over MEMO_MAX_CHARS
    first = router.decide(Hop(specialist="a", prompt=long))
    again = router.decide(Hop(specialist="a", prompt=long))
    assert again == first
    assert again is not first
