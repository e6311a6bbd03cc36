"""The LLM-classifier layer's own calls are hops charged to the workflow they route."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from langchain_core.messages import AIMessage, HumanMessage

from dispatch import Dispatcher, Hop, Ledger, Registry
from dispatch.cost import call_cost
from dispatch.routing import HybridRouter, LLMRouter, RulesRouter
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.types import Usage

REGISTRY = Registry.from_config()
CLASSIFIER = "openai:gpt-5.4-nano"


def classify(prompt: str) -> tuple[dict[str, object], Usage]:
    verdict = {
        "capability": "general",
        "tier": "small",
        "confidence": 0.9,
        "reason": "r",
    }
    return verdict, Usage(input_tokens=120, output_tokens=30)


def dispatcher(model_id: str = CLASSIFIER) -> Dispatcher:
    rules = RulesRouter(tiers=REGISTRY.tiers, capabilities=REGISTRY.capabilities)
    llm = LLMRouter(
        classify=classify,
        model_id=model_id,
        capabilities=REGISTRY.capabilities,
        tiers=REGISTRY.tiers,
    )
    return Dispatcher(
        REGISTRY,
        router=HybridRouter([rules, llm], [1.0]),  # rules are never sure: ask the LLM
        model_factory=fake_factory(
            default=lambda spec: FakeChatModel(replies=[AIMessage(content="ok")])
        ),
    )


HOP = Hop(specialist="writer", prompt="Say hello to the team", step="t1")


def test_a_classification_call_is_a_record_and_its_cost_is_on_the_ledger() -> None:
    ledger = Ledger(Decimal("1"), "hard", workflow="wf")
    result = dispatcher().call(HOP, [HumanMessage(HOP.prompt)], ledger=ledger)

    routing, answer = result.records
    expected = call_cost(REGISTRY.get(CLASSIFIER), 120, 30)
    assert (routing.model, routing.router, routing.capability) == (
        CLASSIFIER,
        "llm",
        "routing",
    )
    assert routing.cost_usd == expected > 0
    assert routing.workflow == "wf" and routing.step == "t1"
    assert answer.router == "llm" and answer.error is None
    assert ledger.spent == routing.cost_usd + answer.cost_usd


def test_the_async_path_charges_it_too_and_an_unknown_classifier_is_unpriced() -> None:
    ledger = Ledger(None, "hard", workflow="wf2")
    result = asyncio.run(
        dispatcher("local:classifier").acall(
            HOP, [HumanMessage(HOP.prompt)], ledger=ledger
        )
    )
    routing = result.records[0]
    assert routing.cost_usd == 0 and "not in the registry" in routing.reason
    assert ledger.spent == result.records[-1].cost_usd


def test_routing_outside_a_hop_charges_nothing() -> None:
    d = dispatcher()
    decision = d.router.decide(HOP)  # e.g. `dispatch route`
    assert decision.capability == "general"


def counting_dispatcher(usage: Usage, calls: list[str]) -> Dispatcher:
    def classify_with(prompt: str) -> tuple[dict[str, object], Usage]:
        calls.append(prompt)
        return classify(prompt)[0], usage

    d = dispatcher()
    llm = d.router.layers[1]  # type: ignore[attr-defined]
    llm._classify = classify_with
    return d


def test_a_classifier_reporting_absurd_usage_is_billed_what_it_could_have_cost() -> (
    None
):
    ledger = Ledger(Decimal("0.05"), "hard", workflow="wf")
    calls: list[str] = []
    d = counting_dispatcher(Usage(input_tokens=10**9, output_tokens=10**9), calls)
    routing = d.call(HOP, [HumanMessage(HOP.prompt)], ledger=ledger).records[0]
    assert calls
    assert "reported usage not trusted" in routing.reason
    assert routing.input_tokens < 1_000 and routing.output_tokens <= 256
    assert routing.estimated
    assert ledger.spent <= ledger.limit  # type: ignore[operator]
    assert ledger.overrun == 0


def test_negative_usage_from_the_classifier_is_replaced_not_raised() -> None:
    ledger = Ledger(Decimal("1"), "hard", workflow="wf")
    d = counting_dispatcher(Usage(input_tokens=-5, output_tokens=-7), [])
    result = d.call(HOP, [HumanMessage(HOP.prompt)], ledger=ledger)
    routing, answer = result.records
    assert "negative" in routing.reason
    assert routing.cost_usd > 0 and answer.error is None
    assert ledger.reserved == 0


def test_a_budget_that_cannot_pay_for_the_classifier_skips_it() -> None:
    ledger = Ledger(Decimal("0.0000001"), "hard", workflow="wf")
    calls: list[str] = []
    d = counting_dispatcher(Usage(input_tokens=120, output_tokens=30), calls)
    for _ in range(3):
        result = d.call(HOP, [HumanMessage(HOP.prompt)], ledger=ledger)
        assert all(r.capability != "routing" for r in result.records)
    assert calls == []  # never asked, never charged
    assert ledger.spent == 0 and ledger.reserved == 0


def test_a_failed_classification_releases_what_it_held() -> None:
    held: list[Decimal] = []

    def boom(prompt: str) -> object:
        held.append(ledger.reserved)  # the call's worst case is on the ledger
        raise ConnectionError("reset by peer")

    ledger = Ledger(Decimal("1"), "hard", workflow="wf")
    d = dispatcher()
    d.router.layers[1]._classify = boom  # type: ignore[attr-defined]
    result = d.call(HOP, [HumanMessage(HOP.prompt)], ledger=ledger)
    assert held and held[0] > 0
    assert all(r.capability != "routing" for r in result.records)
    assert ledger.reserved == 0
    assert ledger.spent == sum(r.cost_usd for r in result.records)
