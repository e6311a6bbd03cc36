from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from dispatch import Hop
from dispatch.routing import HybridRouter, LLMRouter, RulesRouter
from dispatch.types import RouterLayer, Usage

HOP = Hop(specialist="s", prompt="Plan the migration of our billing database")


class FakeStructuredChatModel:
    """A chat model double: `with_structured_output(..., include_raw=True)` returns a
    runnable giving a fixed verdict and an AIMessage with usage metadata."""

    def __init__(self, verdict: Any, usage: dict[str, int] | None = None) -> None:
        self.verdict = verdict
        self.usage = usage
        self.seen: list[Any] = []

    def with_structured_output(self, schema: Any, *, include_raw: bool) -> Any:
        assert include_raw and schema["required"] == [
            "capability",
            "tier",
            "confidence",
            "reason",
        ]

        def answer(messages: Any) -> dict[str, Any]:
            self.seen.append(messages)
            raw = (
                AIMessage(content="", usage_metadata=self.usage)
                if self.usage
                else AIMessage(content="")
            )
            return {"raw": raw, "parsed": self.verdict, "parsing_error": None}

        return RunnableLambda(answer)


def test_a_structured_verdict_becomes_a_decision_and_its_usage_is_charged() -> None:
    charged: list[tuple[str, str, Usage]] = []
    model = FakeStructuredChatModel(
        {
            "capability": "analysis",
            "tier": "large",
            "confidence": 0.9,
            "reason": "multi-step",
        },
        usage={"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
    )
    router = LLMRouter(
        model=model,
        model_id="openai:gpt-5.4-nano",
        on_usage=lambda hop, mid, usage: charged.append((hop.prompt, mid, usage)),
    )
    d = router.decide(HOP)
    assert (d.capability, d.tier, d.confidence, d.router) == (
        "analysis",
        "large",
        0.9,
        RouterLayer.LLM,
    )
    assert charged == [
        (HOP.prompt, "openai:gpt-5.4-nano", Usage(input_tokens=120, output_tokens=30))
    ]
    assert model.seen[0][1] == ("human", HOP.prompt)


def test_without_usage_metadata_the_tokens_are_estimated_and_marked() -> None:
    usages: list[Usage] = []
    model = FakeStructuredChatModel(
        {"capability": "coding", "tier": "small", "confidence": 1, "reason": ""}
    )
    LLMRouter(model=model, on_usage=lambda h, m, u: usages.append(u)).decide(HOP)
    assert usages[0].estimated and usages[0].input_tokens > 0


def test_an_invalid_verdict_or_a_failing_call_is_a_zero_confidence_decision() -> None:
    bad = LLMRouter(
        classify=lambda p: {"capability": "poetry", "tier": "huge", "confidence": 1}
    )
    d = bad.decide(HOP)
    assert (d.confidence, d.capability, d.tier) == (0.0, "general", "medium")
    assert "invalid verdict 'poetry'/'huge'" in d.reason

    def boom(prompt: str) -> Any:
        raise TimeoutError("classifier timed out")

    failed = LLMRouter(classify=boom).decide(HOP)
    assert failed.confidence == 0.0
    assert failed.reason == "classifier failed: TimeoutError (timeout)"


def test_a_failed_call_s_message_is_not_kept_it_may_hold_a_secret() -> None:
    # a provider's error can echo the key it was given; the reason reaches the
    # hop's record, the graph state and the span
    class AuthenticationError(Exception):
        status_code = 401

    def leaky(prompt: str) -> Any:
        raise AuthenticationError("Incorrect API key provided: sk-proj-SECRET123")

    decision = LLMRouter(classify=leaky).decide(HOP)
    assert "SECRET" not in decision.reason
    assert decision.reason.startswith("classifier failed: AuthenticationError (401")


def test_async_classifier_and_hybrid_use() -> None:
    async def classify(prompt: str) -> tuple[dict[str, Any], Usage]:
        return {
            "capability": "search",
            "tier": "small",
            "confidence": 0.7,
            "reason": "lookup",
        }, Usage(input_tokens=10, output_tokens=5)

    router = LLMRouter(aclassify=classify)
    d = asyncio.run(router.adecide(HOP))
    assert (d.capability, d.tier) == ("search", "small")
    # Last layer of a hybrid: asked only when the rules are unsure.
    sync = LLMRouter(
        classify=lambda p: {
            "capability": "search",
            "tier": "small",
            "confidence": 0.7,
            "reason": "",
        }
    )
    hybrid = HybridRouter([RulesRouter(), sync], [0.99])
    assert hybrid.decide(HOP).router is RouterLayer.LLM
