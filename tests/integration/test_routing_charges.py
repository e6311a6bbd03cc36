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
