"""`DispatchMiddleware` inside LangChain's real `create_agent`: tools, a
checkpointer, two turns, budgets, failover, async, structured output."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import wrap_model_call
from langchain.agents.structured_output import ProviderStrategy, ToolStrategy
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from dispatch import (
    ConfigError,
    DispatchContext,
    Dispatcher,
    DispatchMiddleware,
    HopFailed,
    PinChange,
    Registry,
    Tracing,
    hop_records,
)
from dispatch.langchain import hops_from_messages
from dispatch.testing import FakeChatModel, fake_factory


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def calls_add(a: int, b: int, call_id: str) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": "add", "args": {"a": a, "b": b}, "id": call_id}],
    )


class Total(BaseModel):
    """The answer as a number."""

    total: int


def agent_with(
    dispatcher: Dispatcher, *, context: bool = False, **options: Any
) -> tuple[Any, DispatchMiddleware]:
    mw = DispatchMiddleware(dispatcher, specialist="assistant", **options)
    agent = create_agent(
        mw.model,
        tools=[add],
        system_prompt="You add numbers.",
        middleware=[mw],
        checkpointer=InMemorySaver(),
        context_schema=DispatchContext if context else None,
    )
    return agent, mw


THREAD = {"configurable": {"thread_id": "conversation-1"}}


def test_two_turns_with_a_tool_route_every_call_and_hold_the_pin(
    registry: Registry,
) -> None:
    tiny = FakeChatModel(
        replies=[
            calls_add(2, 3, "c1"),
            AIMessage("2 + 3 = 5"),
            AIMessage("Still 5."),
        ]
    )
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    agent, _ = agent_with(dispatcher)

    first = agent.invoke({"messages": [HumanMessage("Say the sum of 2 and 3")]}, THREAD)
    tool_reply = next(m for m in first["messages"] if isinstance(m, ToolMessage))
    assert tool_reply.text == "5"  # create_agent ran the tool
    assert first["messages"][-1].text == "2 + 3 = 5"
    assert [t.name for t in tiny.bound_tools] == ["add"]  # bound by create_agent
    assert tiny.requests[0][0].text == "You add numbers."  # its system prompt too

    call, after_tool = hop_records(first)
    assert (call.model, call.round, call.pin_change) == ("tiny:model", 0, PinChange.NEW)
    assert (after_tool.model, after_tool.round) == ("tiny:model", 1)
    assert after_tool.pinned and after_tool.after_tool
    assert first["pins"]["assistant@small"]["model"] == "tiny:model"
    spent = Decimal(first["budget"]["spent_usd"])
    assert spent == call.cost_usd + after_tool.cost_usd > 0
    # the hop record also rides on the reply, as with RoutedChatModel
    assert hops_from_messages(first["messages"]) == [call, after_tool]

    second = agent.invoke({"messages": [HumanMessage("And once more")]}, THREAD)
    turn_two = hop_records(second)[2:]
    assert [(h.model, h.pin_change) for h in turn_two] == [
        ("tiny:model", PinChange.KEPT)
    ]
    assert second["messages"][-1].text == "Still 5."
    # a new run is a new workflow: its budget starts afresh
    assert second["budget"]["workflow"] != first["budget"]["workflow"]
    assert Decimal(second["budget"]["spent_usd"]) == turn_two[0].cost_usd


def test_the_async_path_routes_holds_pins_and_runs_tools(registry: Registry) -> None:
    tiny = FakeChatModel(
        replies=[calls_add(1, 1, "c1"), AIMessage("2"), AIMessage("again 2")]
    )
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    agent, _ = agent_with(dispatcher)

    async def two_turns() -> dict[str, Any]:
        await agent.ainvoke({"messages": [HumanMessage("Add 1 and 1")]}, THREAD)
        state: dict[str, Any] = await agent.ainvoke(
            {"messages": [HumanMessage("Again")]}, THREAD
        )
        return state

    state = asyncio.run(two_turns())
    records = hop_records(state)
    assert [r.round for r in records] == [0, 1, 0]
    assert [r.pinned for r in records] == [False, True, True]
    assert any(isinstance(m, ToolMessage) and m.text == "2" for m in state["messages"])
    assert state["messages"][-1].text == "again 2"


def test_each_call_goes_to_the_chosen_model_capped_at_its_output_limit(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))  # simulator
    agent, _ = agent_with(dispatcher, capability="coding", max_output_tokens=40)
    state = agent.invoke({"messages": [HumanMessage("hello")]}, THREAD)
    (hop,) = hop_records(state)
    assert hop.capability == "coding" and hop.simulated
    assert 0 < hop.output_tokens <= 40
    assert state["messages"][-1].text.startswith(f"[simulated {hop.model}]")


def test_an_output_cap_in_model_settings_is_lowered_to_what_was_reserved(
    registry: Registry,
) -> None:
    @wrap_model_call
    def wants_long_answers(request: Any, handler: Any) -> Any:
        return handler(request.override(model_settings={"max_tokens": 5000}))

    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))  # simulator
    mw = DispatchMiddleware(dispatcher, specialist="assistant")
    agent = create_agent(mw.model, middleware=[wants_long_answers, mw])
    state = agent.invoke({"messages": [HumanMessage("hello")]})
    (hop,) = hop_records(state)
    assert hop.model == "tiny:model"  # its output limit is 2000 tokens
    assert 0 < hop.output_tokens <= 2000
    assert hop.usage_anomaly is None  # the model was not asked for more


def test_a_raising_model_fails_over_by_calling_the_handler_again(
    registry: Registry,
) -> None:
    broken = FakeChatModel(replies=[RuntimeError("provider down")])
    mid = FakeChatModel(replies=[AIMessage("served by mid")])
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({"tiny:model": broken, "mid:model": mid}),
    )
    agent, _ = agent_with(dispatcher)
    state = agent.invoke({"messages": [HumanMessage("Say hello")]}, THREAD)

    failed, served = hop_records(state)
    assert (failed.model, failed.error_type, failed.cost_usd) == (
        "tiny:model",
        "RuntimeError",
        0,
    )
    assert (served.model, served.fallback_from) == ("mid:model", "tiny:model")
    assert served.pin_change is PinChange.FAILOVER
    assert state["pins"]["assistant@small"]["model"] == "mid:model"
    assert state["messages"][-1].text == "served by mid"
    assert [t.name for t in mid.bound_tools] == ["add"]  # the handler bound them again
    assert "provider down" not in str(state)


def test_one_chat_span_per_attempt(registry: Registry) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    broken = FakeChatModel(replies=[RuntimeError("provider down")])
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({"tiny:model": broken}),
        tracing=Tracing(provider),
    )
    agent, _ = agent_with(dispatcher)
    agent.invoke({"messages": [HumanMessage("Say hello")]}, THREAD)
    failed, served = [
        s for s in exporter.get_finished_spans() if s.name.startswith("chat ")
    ]
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "RuntimeError"
    assert dict(served.attributes or {})["dispatch.fallback_from"] == "tiny:model"
    assert dict(served.attributes or {})["gen_ai.agent.name"] == "assistant"


def test_a_hard_budget_refuses_and_ends_the_agent_cleanly(registry: Registry) -> None:
    tiny = FakeChatModel(replies=[AIMessage("never")])
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    agent, _ = agent_with(dispatcher, context=True)
    state = agent.invoke(
        {"messages": [HumanMessage("Say hello")]},
        THREAD,
        context=DispatchContext(budget_usd="0.00001", budget_mode="hard"),
    )
    (refused,) = hop_records(state)
    assert refused.refused and refused.cost_usd == 0
    assert tiny.requests == []  # no model was called
    last = state["messages"][-1]
    assert last.text.startswith("[assistant failed: refused:")
    assert not last.tool_calls  # so the agent ended
    assert state["budget"]["refused"] == 1
    assert Decimal(state["budget"]["spent_usd"]) == 0
    assert not state.get("pins")

    # the thread is still usable: a run with money left is served
    state = agent.invoke(
        {"messages": [HumanMessage("Say hello")]},
        THREAD,
        context=DispatchContext(budget_usd=1),
    )
    assert state["messages"][-1].text == "never"


def test_a_budget_in_configurable_is_enforced_without_a_run_context(
    registry: Registry,
) -> None:
    tiny = FakeChatModel(replies=[AIMessage("never")])
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    agent, _ = agent_with(dispatcher)
    config = {
        "configurable": {"thread_id": "t", "budget_usd": "0", "budget_mode": "hard"}
    }
    state = agent.invoke({"messages": [HumanMessage("Say hello")]}, config)
    assert hop_records(state)[-1].refused
    assert (state["budget"]["limit_usd"], state["budget"]["refused"]) == ("0", 1)
    assert tiny.requests == []


def test_the_ledger_is_the_runs_and_never_overspent_across_tool_rounds(
    registry: Registry,
) -> None:
    # Enough for the first call's worst case, not for a second one on top.
    tiny = FakeChatModel(
        replies=[calls_add(1, 2, "c1"), AIMessage("3")],
        input_tokens=100,
        output_tokens=6000,  # reports far more output than a hop may reserve
    )
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    agent, _ = agent_with(dispatcher, context=True, max_output_tokens=2000)
    state = agent.invoke(
        {"messages": [HumanMessage("Add 1 and 2")]},
        THREAD,
        context=DispatchContext(budget_usd="0.0012", budget_mode="hard"),
    )
    records = hop_records(state)
    assert records[-1].refused  # the after-tool call did not fit
    assert Decimal(state["budget"]["spent_usd"]) <= Decimal("0.0012")
    assert sum(r.cost_usd for r in records) == Decimal(state["budget"]["spent_usd"])


def test_on_failure_raise_raises_hop_failed(registry: Registry) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    agent, _ = agent_with(dispatcher, context=True, on_failure="raise")
    with pytest.raises(HopFailed, match="hop 'assistant' failed on tiny:model") as err:
        agent.invoke(
            {"messages": [HumanMessage("Say hello")]},
            THREAD,
            context=DispatchContext(budget_usd=0),
        )
    assert err.value.refused


@pytest.mark.parametrize("strategy", [ToolStrategy, ProviderStrategy])
def test_structured_output_still_works_through_the_override(
    registry: Registry, strategy: Any
) -> None:
    reply = (
        AIMessage(
            content="",
            tool_calls=[{"name": "Total", "args": {"total": 5}, "id": "s1"}],
        )
        if strategy is ToolStrategy
        else AIMessage(content='{"total": 5}')
    )
    tiny = FakeChatModel(replies=[reply])
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    mw = DispatchMiddleware(dispatcher, specialist="assistant")
    agent = create_agent(
        mw.model, tools=[add], middleware=[mw], response_format=strategy(Total)
    )
    state = agent.invoke({"messages": [HumanMessage("What is 2 + 3?")]})
    assert state["structured_response"] == Total(total=5)
    (hop,) = hop_records(state)
    assert hop.model == "tiny:model" and hop.error is None
    if strategy is ToolStrategy:  # create_agent bound its output tool to the choice
        assert [getattr(t, "name", None) for t in tiny.bound_tools] == ["add", "Total"]


def test_bad_options_are_refused_when_the_middleware_is_built(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry)
    with pytest.raises(ConfigError, match="on_failure"):
        DispatchMiddleware(dispatcher, on_failure="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_output_tokens"):
        DispatchMiddleware(dispatcher, max_output_tokens=0)
