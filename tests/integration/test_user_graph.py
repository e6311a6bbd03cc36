"""A graph the user writes: `Dispatcher.node` in a plain StateGraph, with a checkpointer."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import (
    Dispatcher,
    DispatchState,
    PinChange,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch.testing import FakeChatModel, fake_factory

WRITER = Specialist(name="writer", capability="general", prompt="Be brief.")


class State(MessagesState, DispatchState):
    pass


def build(
    registry: Registry, fakes: dict[str, FakeChatModel], checkpointer: Any = None
) -> Any:
    dispatcher = Dispatcher(registry, model_factory=fake_factory(fakes))
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    return builder.compile(checkpointer=checkpointer)


def test_each_hop_appends_a_record_through_the_reducer(registry: Registry) -> None:
    tiny = FakeChatModel(
        replies=[AIMessage(content="hello")], input_tokens=1000, output_tokens=500
    )
    graph = build(registry, {"tiny:model": tiny})
    state = asyncio.run(graph.ainvoke({"messages": [HumanMessage("Say hello")]}))
    (record,) = hop_records(state)
    assert (record.specialist, record.model, record.tier, record.pinned) == (
        "writer",
        "tiny:model",
        "small",
        False,
    )
    assert (record.input_tokens, record.output_tokens) == (1000, 500)
    assert str(record.cost_usd) == "0.0003"
    assert str(record.baseline_cost_usd) == "0.0175"
    assert state["messages"][-1].text == "hello"
    assert state["pins"]["writer@small"]["model"] == "tiny:model"
    # the system prompt reached the model, the router's hint came from the specialist
    assert tiny.requests[0][0].text == "Be brief."


def test_pins_survive_a_process_restart_with_the_sqlite_checkpointer(
    registry: Registry, tmp_path: Path
) -> None:
    db = tmp_path / "checkpoints.sqlite"
    config = {"configurable": {"thread_id": "conversation-1"}}
    with sqlite3.connect(db, check_same_thread=False) as conn:
        graph = build(registry, {}, SqliteSaver(conn))
        first = graph.invoke({"messages": [HumanMessage("Say hello")]}, config)
    assert hop_records(first)[0].model == "tiny:model"

    # A new process: new dispatcher, new graph, same file and thread. The second turn
    # is hard enough for the large tier... but first, an easy one reuses the pin.
    with sqlite3.connect(db, check_same_thread=False) as conn:
        graph = build(registry, {}, SqliteSaver(conn))
        second = graph.invoke({"messages": [HumanMessage("Say hi again")]}, config)
        third = graph.invoke(
            {
                "messages": [
                    HumanMessage(
                        "Design a distributed cache step by step, edge cases and trade-offs."
                    )
                ]
            },
            config,
        )
    records = hop_records(third)
    assert [r.model for r in records] == ["tiny:model", "tiny:model", "big:model"]
    assert [r.pin_change for r in records] == [
        PinChange.NEW,
        PinChange.KEPT,
        PinChange.NEW,  # the large tier has a pin scope of its own
    ]
    assert hop_records(second)[1].pinned
    assert third["pins"]["writer@large"]["model"] == "big:model"
    assert third["pins"]["writer@small"]["model"] == "tiny:model"


def test_a_failing_model_fails_over_to_the_nearest_eligible_one_and_repins(
    registry: Registry,
) -> None:
    broken = FakeChatModel(replies=[RuntimeError("provider down")])
    graph = build(registry, {"tiny:model": broken})
    state = asyncio.run(graph.ainvoke({"messages": [HumanMessage("Say hello")]}))
    failed, served = hop_records(state)
    assert (failed.model, failed.error_type) == ("tiny:model", "RuntimeError")
    assert "provider down" not in str(state)  # provider text is never stored
    assert failed.cost_usd == 0
    assert (served.model, served.fallback_from) == ("mid:model", "tiny:model")
    assert (served.error, served.pin_change) == (None, PinChange.FAILOVER)
    assert "failover from tiny:model" in served.reason
    assert state["pins"]["writer@small"]["model"] == "mid:model"
    assert state["messages"][-1].text.startswith("[simulated mid:model]")


def test_when_every_model_fails_it_is_recorded_and_reported_not_raised(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory(
            {}, default=lambda spec: FakeChatModel(replies=[RuntimeError("down")])
        ),
    )
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    state = builder.compile().invoke({"messages": [HumanMessage("Say hello")]})
    records = hop_records(state)
    assert [r.model for r in records] == ["tiny:model", "mid:model", "big:model"]
    assert all(r.error_type == "RuntimeError" and r.cost_usd == 0 for r in records)
    assert "writer failed" in state["messages"][-1].text
    assert not state.get("pins")
    assert Decimal(state["budget"]["spent_usd"]) == 0
