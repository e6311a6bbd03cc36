"""A user graph whose budget comes from ``configurable`` (no `DispatchContext`):
every parallel ``Send`` branch of a run charges one ledger, and each run on a
thread has its own (README, "Pins and budgets")."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Send

from dispatch import (
    Dispatcher,
    DispatchState,
    Hop,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch.testing import FakeChatModel, fake_factory

WRITER = Specialist(name="writer", capability="general", prompt="Be brief.")
BRANCHES = 6


class State(MessagesState, DispatchState):
    pass


def fan_out(_: State) -> list[Send]:
    return [
        Send("writer", {"messages": [HumanMessage(f"Write note {i}")]})
        for i in range(BRANCHES)
    ]


def build(registry: Registry) -> tuple[Any, Dispatcher]:
    # replies as long as the output cap: each hop costs about what it reserves
    fake = FakeChatModel(
        replies=[AIMessage(content="note")], input_tokens=20, output_tokens=1000
    )
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": fake}))
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_conditional_edges(START, fan_out, ["writer"])
    builder.add_edge("writer", END)
    return builder.compile(checkpointer=InMemorySaver()), dispatcher


@pytest.mark.parametrize("driver", ["invoke", "ainvoke"])
def test_parallel_branches_share_the_hard_budget_given_in_configurable(
    registry: Registry, driver: str
) -> None:
    graph, dispatcher = build(registry)
    worst = dispatcher.plan(
        Hop(specialist="writer", prompt="Write note 0", capability_hint="general")
    ).expected_cost_usd
    limit = worst * Decimal("2.5")  # room for a few hops, not six
    config = {
        "configurable": {
            "thread_id": "t",
            "budget_usd": str(limit),
            "budget_mode": "hard",
        }
    }
    start = {"messages": []}
    state = (
        graph.invoke(start, config)
        if driver == "invoke"
        else asyncio.run(graph.ainvoke(start, config))
    )

    records = hop_records(state)
    assert len(records) == BRANCHES  # every branch reported, served or refused
    assert len({r.workflow for r in records}) == 1
    spent = sum((r.cost_usd for r in records), Decimal(0))
    assert spent <= limit
    assert any(r.refused for r in records)
    assert Decimal(state["budget"]["spent_usd"]) == spent
    assert state["budget"]["refused"] == sum(r.refused for r in records)


def test_each_run_on_a_thread_gets_its_own_budget_without_a_context(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(
        registry, model_factory=fake_factory({"tiny:model": FakeChatModel()})
    )
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t", "budget_usd": "1"}}

    budgets = [
        graph.invoke({"messages": [HumanMessage("Write a note")]}, config)["budget"]
        for _ in range(2)
    ]

    assert budgets[0]["workflow"] != budgets[1]["workflow"]
    assert budgets[0]["spent_usd"] == budgets[1]["spent_usd"]  # not accumulated


def test_a_plain_dict_context_without_context_schema_still_sets_the_budget(
    registry: Registry,
) -> None:
    fake = FakeChatModel()
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": fake}))
    builder = StateGraph(State)  # no context_schema: LangGraph passes the dict as is
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    graph = builder.compile(checkpointer=InMemorySaver())

    state = graph.invoke(
        {"messages": [HumanMessage("Write a note")]},
        {"configurable": {"thread_id": "t"}},
        context={"budget_usd": "0.0000001", "budget_mode": "hard"},
    )

    (record,) = hop_records(state)
    assert record.refused
    assert fake.requests == []
    assert state["budget"]["limit_usd"] == "1E-7"
