"""Pins and budgets across turns, restarts, parallel branches and faults."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import (
    Dispatcher,
    DispatchState,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch.agents import default_specialists
from dispatch.graphs import DEMO_PLAN, DEMO_REQUEST, build_orchestrator
from dispatch.graphs.estimate import estimate_plan
from dispatch.langgraph import aresume
from dispatch.testing import FakeChatModel, fake_factory

WRITER = Specialist(name="writer", capability="general", prompt="Be brief.")
HARD = "Design a distributed cache step by step, edge cases and trade-offs."


class State(MessagesState, DispatchState):
    pass


def writer_graph(dispatcher: Dispatcher, checkpointer: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    return builder.compile(checkpointer=checkpointer)


def test_fifty_turns_of_one_conversation_keep_one_model(
    registry: Registry, tmp_path: Path
) -> None:
    config = {"configurable": {"thread_id": "long"}}
    prompts = ["Say hello", "What is the average of 3, 4 and 5?", "Find the runbook"]
    with sqlite3.connect(tmp_path / "c.sqlite", check_same_thread=False) as conn:
        graph = writer_graph(
            Dispatcher(registry, model_factory=fake_factory({})), SqliteSaver(conn)
        )
        for turn in range(50):
            state = graph.invoke(
                {"messages": [HumanMessage(prompts[turn % 3])]}, config
            )
    records = hop_records(state)
    assert len(records) == 50
    assert {r.model for r in records} == {"tiny:model"}
    assert [r.pinned for r in records] == [False] + [True] * 49


def test_pins_are_per_tier_so_one_hard_turn_does_not_make_later_turns_dear(
    registry: Registry,
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    graph = writer_graph(
        Dispatcher(registry, model_factory=fake_factory({})), InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t"}}
    for prompt in ["Say hello", HARD, "Say hello again", "word " * 700]:
        state = graph.invoke({"messages": [HumanMessage(prompt)]}, config)
    records = hop_records(state)
    assert [r.model for r in records] == [
        "tiny:model",
        "big:model",
        "tiny:model",  # back on the small pin: the hard turn did not lock it in
        "mid:model",
    ]
    assert [r.tier for r in records] == ["small", "large", "small", "medium"]
    assert [r.pin_change.value for r in records] == ["new", "new", "kept", "new"]
    assert {k: v["model"] for k, v in state["pins"].items()} == {
        "writer@small": "tiny:model",
        "writer@large": "big:model",
        "writer@medium": "mid:model",
    }


def test_a_fault_in_one_branch_leaves_the_ledger_exact_and_the_others_results(
    registry: Registry,
) -> None:
    broken = FakeChatModel(replies=[RuntimeError("boom")])
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory(
            {}, default=lambda s: broken if s.id == "mid:model" else FakeChatModel()
        ),
        max_failovers=0,
    )
    tasks = [
        {"id": "a", "prompt": "Find the runbook", "specialist": "search"},
        {
            "id": "b",
            "prompt": "Mean of 1, 2, 3",
            "specialist": "analysis",
            "tier": "medium",
        },
        {"id": "c", "prompt": "Say thanks", "specialist": "general"},
    ]
    config = {
        "configurable": {"workflow_id": "w1", "budget_usd": "1", "budget_mode": "hard"}
    }
    graph = build_orchestrator(dispatcher, default_specialists())
    state = asyncio.run(graph.ainvoke({"request": "r", "tasks": tasks}, config))
    assert [state["results"][k]["ok"] for k in "abc"] == [True, False, True]
    records = hop_records(state)
    ledger = dispatcher.ledgers.get("w1")
    assert ledger is not None and ledger.reserved == 0
    assert ledger.spent == sum((r.cost_usd for r in records), Decimal(0))
    assert Decimal(state["budget"]["spent_usd"]) == ledger.spent
    assert [r.error_type for r in records if r.step == "b"] == ["RuntimeError"]


def test_hard_budget_refuses_instead_of_overspending_and_stops_cleanly() -> None:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    config = {
        "configurable": {"workflow_id": "w", "budget_usd": 0.002, "budget_mode": "hard"}
    }
    graph = build_orchestrator(dispatcher)
    state = asyncio.run(
        graph.ainvoke({"request": DEMO_REQUEST, "tasks": DEMO_PLAN}, config)
    )
    records = hop_records(state)
    spent = sum((r.cost_usd for r in records), Decimal(0))
    assert spent <= Decimal("0.002")
    assert Decimal(state["budget"]["spent_usd"]) == spent
    assert state["budget"]["refused"] >= 1 and state["budget"]["exceeded"]
    assert any(r.refused for r in records)
    assert state["answer"].startswith("[budget exhausted before synthesis")


def test_soft_budget_finishes_on_cheaper_tiers() -> None:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    config = {
        "configurable": {"workflow_id": "w", "budget_usd": 0.002, "budget_mode": "soft"}
    }
    graph = build_orchestrator(dispatcher)
    state = asyncio.run(
        graph.ainvoke({"request": DEMO_REQUEST, "tasks": DEMO_PLAN}, config)
    )
    records = hop_records(state)
    assert all(r["ok"] for r in state["results"].values())
    assert not any(r.refused for r in records)
    assert sum((r.cost_usd for r in records), Decimal(0)) <= Decimal("0.002")
    assert {r.tier for r in records} == {"small"}  # unbudgeted, alerting runs large


def test_estimate_worst_case_is_never_below_the_real_cost_of_the_demo() -> None:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    state = asyncio.run(
        build_orchestrator(dispatcher, synthesis_tier="medium").ainvoke(
            {"request": DEMO_REQUEST, "tasks": DEMO_PLAN}
        )
    )
    real = sum((r.cost_usd for r in hop_records(state)), Decimal(0))
    est = estimate_plan(
        DEMO_REQUEST,
        DEMO_PLAN,
        dispatcher,
        default_specialists(),
        synthesis_tier="medium",
    )
    assert est.worst_case_cost_usd >= real
    for task in DEMO_PLAN:
        node = sum(
            (r.cost_usd for r in hop_records(state) if r.step == task["id"]),
            Decimal(0),
        )
        assert est.nodes[task["id"]].worst_usd >= node


class Killed(BaseException):
    """Stands in for the process being killed mid-run."""


def crashing_specialists(crash: bool) -> dict[str, Specialist]:
    @tool
    def lookup(query: str) -> str:
        """Look something up."""
        if crash:
            raise Killed
        return "42"

    worker = Specialist(
        name="worker", capability="analysis", prompt="p", tools=(lookup,)
    )
    return {"worker": worker, "general": default_specialists()["general"]}


def test_a_killed_workflow_resumes_without_losing_or_double_counting_spend(
    registry: Registry, tmp_path: Path
) -> None:
    db = str(tmp_path / "crash.sqlite")
    tasks = [
        {"id": "a", "prompt": "Say hello", "specialist": "general"},
        {"id": "b", "prompt": "Look it up", "specialist": "worker", "tier": "medium"},
    ]
    # no workflow id: the run names its own, and resuming finds it in the checkpoint
    config = {"configurable": {"thread_id": "t", "budget_usd": "1"}}
    call = AIMessage(
        content="", tool_calls=[{"name": "lookup", "args": {"query": "q"}, "id": "1"}]
    )

    def factory() -> Any:
        return fake_factory(
            {},
            default=lambda s: (
                FakeChatModel(replies=[call, AIMessage("42")])
                if s.id == "mid:model"
                else FakeChatModel()
            ),
        )

    async def run(crash: bool, inputs: Any) -> dict[str, Any]:
        dispatcher = Dispatcher(registry, model_factory=factory())
        async with AsyncSqliteSaver.from_conn_string(db) as saver:
            graph = build_orchestrator(
                dispatcher, crashing_specialists(crash), checkpointer=saver
            )
            if inputs is None:
                state = await aresume(dispatcher, graph, config)
            else:
                state = await graph.ainvoke(inputs, config)
            ledger = dispatcher.ledgers.get(state["budget"]["workflow"])
            assert ledger is not None
            assert ledger.spent == Decimal(state["budget"]["spent_usd"])
            return dict(state)

    with pytest.raises(Killed):
        asyncio.run(run(crash=True, inputs={"request": "r", "tasks": tasks}))
    state = asyncio.run(
        run(crash=False, inputs=None)
    )  # a new process resumes the thread
    records = hop_records(state)
    steps = [(r.step, r.round) for r in records]
    assert steps.count(("a", 0)) == 1  # the completed branch was not run again
    assert steps.count(("b", 0)) == 1 and steps.count(("b", 1)) == 1
    assert sorted(state["results"]) == ["a", "b"]
    assert Decimal(state["budget"]["spent_usd"]) == sum(
        (r.cost_usd for r in records), Decimal(0)
    )
