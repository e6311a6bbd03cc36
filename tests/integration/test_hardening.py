"""Attacks and careless input on the hop path: secrets, usage, cancellation, scopes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL_REGISTRY, registry_from_text
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dispatch import (
    DispatchContext,
    Dispatcher,
    HopFailed,
    Registry,
    RoutedChatModel,
    Tracing,
    hop_records,
)
from dispatch.agents import default_specialists
from dispatch.graphs import build_orchestrator
from dispatch.testing import FakeChatModel, fake_factory

KEY = "sk-proj-Zq8vT3xKp9LmN2bR7wYc4Hf6"
TASKS = [
    {"id": "a", "prompt": "Find the runbook", "specialist": "search"},
    {"id": "b", "prompt": "Mean of 1, 2, 3", "specialist": "analysis"},
    {"id": "c", "prompt": "Say thanks", "specialist": "general"},
]


def ainvoke(graph: Any, *args: Any, **kwargs: Any) -> Any:
    return asyncio.run(graph.ainvoke(*args, **kwargs))


def test_a_provider_error_holding_the_key_is_stored_and_forwarded_nowhere(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    leaky = FakeChatModel(replies=[RuntimeError(f"401: invalid api key {KEY}")])
    synth = FakeChatModel(replies=[AIMessage("done")])
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory(
            {"tiny:model": leaky, "mid:model": synth, "big:model": synth}
        ),
        tracing=Tracing(provider),
    )
    db = tmp_path / "c.sqlite"

    async def run() -> Any:
        async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
            graph = build_orchestrator(dispatcher, checkpointer=saver)
            config = {"configurable": {"thread_id": "t"}}
            return await graph.ainvoke({"request": "r", "tasks": TASKS}, config)

    state = asyncio.run(run())
    assert any(r.error_type == "RuntimeError" for r in hop_records(state))
    assert KEY not in str(state)
    assert KEY.encode() not in db.read_bytes()
    for span in exporter.get_finished_spans():
        assert KEY not in str(span.to_json())
    # the synthesis prompt sent to another provider carries no raw error text
    assert all(KEY not in str(request) for request in synth.requests)


def test_impossible_usage_cannot_overspend_a_hard_budget(registry: Registry) -> None:
    liar = FakeChatModel(input_tokens=10**9, output_tokens=10**9)
    negative = FakeChatModel(input_tokens=-(10**6), output_tokens=-(10**6))
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({"tiny:model": liar, "mid:model": negative}),
    )
    graph = build_orchestrator(dispatcher)
    config = {"configurable": {"budget_usd": "1", "budget_mode": "hard"}}
    state = ainvoke(graph, {"request": "r", "tasks": TASKS}, config)
    records = hop_records(state)
    assert all(r.cost_usd >= 0 for r in records)
    assert Decimal(state["budget"]["spent_usd"]) <= 1
    assert any(r.usage_anomaly for r in records)


def test_a_cancelled_run_holds_nothing_charges_each_call_its_input_and_ends_spans(
    registry: Registry,
) -> None:
    class Slow(FakeChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(30)
            raise AssertionError("unreachable")

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({}, default=lambda spec: Slow()),
        tracing=Tracing(provider),
    )
    graph = build_orchestrator(dispatcher)
    context = DispatchContext(budget_usd=1)

    async def run() -> None:
        task = asyncio.create_task(
            graph.ainvoke({"request": "r", "tasks": TASKS}, context=context)
        )
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    ledger = dispatcher.ledgers.get(context.run_id)
    assert ledger is not None and ledger.reserved == 0
    spans = exporter.get_finished_spans()
    chats = [dict(s.attributes or {}) for s in spans if s.name.startswith("chat ")]
    assert len(chats) == 3  # the three parallel branches' calls, each ended
    assert {s["error.type"] for s in chats} == {"CancelledError"}
    # each call was in flight (the provider had it): its input is charged, estimated
    assert all(s["dispatch.estimated"] and s["dispatch.cost_usd"] > 0 for s in chats)
    assert float(ledger.spent) == pytest.approx(
        sum(s["dispatch.cost_usd"] for s in chats)
    )


def test_runs_without_a_workflow_id_never_share_a_budget(registry: Registry) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    graph = build_orchestrator(dispatcher, checkpointer=InMemorySaver())
    config = {
        "configurable": {"thread_id": "x", "budget_usd": "0.002", "budget_mode": "hard"}
    }
    first = ainvoke(graph, {"request": "r", "tasks": TASKS}, config)
    second = ainvoke(graph, {"request": "r", "tasks": TASKS}, config)
    assert first["budget"]["workflow"] != second["budget"]["workflow"]
    spent = [Decimal(s["budget"]["spent_usd"]) for s in (first, second)]
    assert spent[0] == spent[1] > 0  # the second turn had its own, full budget
    assert second["budget"]["refused"] == first["budget"]["refused"]


def test_a_refused_turn_does_not_block_the_next_turn(registry: Registry) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    graph = build_orchestrator(dispatcher, checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "y"}}
    starved = ainvoke(
        graph,
        {"request": "r", "tasks": TASKS},
        thread,
        context=DispatchContext(budget_usd=0, budget_mode="hard"),
    )
    assert starved["budget"]["refused"] > 0
    fed = ainvoke(
        graph,
        {"request": "r", "tasks": TASKS},
        thread,
        context=DispatchContext(budget_usd=1, budget_mode="hard"),
    )
    assert all(r["ok"] for r in fed["results"].values())
    assert fed["budget"]["refused"] == 0


def test_a_routed_chat_model_charges_its_budget(registry: Registry) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    dispatcher.budget = type(dispatcher.budget)(Decimal("0.0005"), "hard")
    model = RoutedChatModel(dispatcher=dispatcher, specialist="assistant")
    spent = []
    with pytest.raises(HopFailed, match="budget exceeded"):
        for _ in range(50):
            model.invoke([HumanMessage("Say hello")])
            spent.append(model._ledger().spent)
    assert 0 < spent[-1] <= Decimal("0.0005")


def test_a_capability_without_a_model_fails_only_its_branch() -> None:
    registry = registry_from_text(
        SMALL_REGISTRY.replace(
            "capabilities: [coding, search, analysis, general]",
            "capabilities: [coding, search, analysis, general, poetry]",
        )
    )
    specialists = default_specialists()
    specialists["poet"] = replace(
        specialists["general"], name="poet", capability="poetry"
    )
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    graph = build_orchestrator(dispatcher, specialists)
    tasks = [*TASKS, {"id": "d", "prompt": "A sonnet", "specialist": "poet"}]
    state = ainvoke(graph, {"request": "r", "tasks": tasks})
    assert [state["results"][k]["ok"] for k in "abcd"] == [True, True, True, False]
    assert "no eligible model for capability 'poetry'" in str(
        state["results"]["d"]["error"]
    )
    assert state["answer"]


def test_a_huge_request_is_grouped_into_a_bounded_number_of_tasks(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    graph = build_orchestrator(dispatcher, max_tasks=16, max_parallel=4)
    request = " ".join(f"Sentence number {i} asks a thing." for i in range(3000))
    started = time.perf_counter()
    state = ainvoke(graph, {"request": request})
    assert len(state["tasks"]) == 16
    assert len(state["results"]) == 16 and time.perf_counter() - started < 60
