"""Long requests and long plans: the planner's own split always runs (merged into at
most `max_tasks` tasks), a user's plan over the cap is refused, and planning is
linear in the number of tasks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from dispatch import ConfigError, Dispatcher, Registry
from dispatch.agents import default_specialists
from dispatch.graphs import build_orchestrator, plan_tasks


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher(Registry.from_config(), simulate=True)


def sentences(n: int) -> list[str]:
    return [f"Sentence number {i} asks a thing." for i in range(n)]


def test_a_200_sentence_request_plans_into_32_tasks_in_well_under_a_second(
    dispatcher: Dispatcher,
) -> None:
    parts = sentences(200)
    started = time.perf_counter()
    tasks = plan_tasks(" ".join(parts), None, dispatcher, default_specialists())
    assert time.perf_counter() - started < 0.5
    assert [t["id"] for t in tasks] == [f"t{i + 1}" for i in range(32)]
    # every sentence is kept, in order, in groups of 6 or 7 sentences
    assert [line for t in tasks for line in t["prompt"].split("\n")] == parts
    assert {len(t["prompt"].split("\n")) for t in tasks} == {6, 7}
    assert all(t["specialist"] in default_specialists() for t in tasks)


def test_a_request_within_the_cap_keeps_one_task_per_sentence(
    dispatcher: Dispatcher,
) -> None:
    tasks = plan_tasks(" ".join(sentences(32)), None, dispatcher, default_specialists())
    assert [t["prompt"] for t in tasks] == sentences(32)
    few = plan_tasks(
        " ".join(sentences(5)), None, dispatcher, default_specialists(), max_tasks=2
    )
    assert [t["prompt"] for t in few] == ["\n".join(sentences(5)[:3])] + [
        "\n".join(sentences(5)[3:])
    ]


def test_a_given_plan_over_the_cap_is_refused_not_merged(
    dispatcher: Dispatcher,
) -> None:
    plan = [{"id": f"a{i}", "prompt": "x"} for i in range(33)]
    with pytest.raises(ConfigError, match=r"tasks: the plan has too many tasks") as e:
        plan_tasks("r", plan, dispatcher, default_specialists())
    assert "found 33, expected at most 32" in str(e.value)
    assert len(plan_tasks("r", plan[:32], dispatcher, default_specialists())) == 32


def test_validating_a_long_chained_plan_is_linear(dispatcher: Dispatcher) -> None:
    # 10,000 tasks, each depending on the one before: quadratic id look-ups
    # (a list's count / membership per task) took ~7 s here, linear ones ~0.3 s.
    n = 10_000
    plan: list[dict[str, Any]] = [
        {"id": f"a{i}", "prompt": "x", "specialist": "general"}
        | ({"depends_on": [f"a{i - 1}"]} if i else {})
        for i in range(n)
    ]
    started = time.perf_counter()
    tasks = plan_tasks("r", plan, dispatcher, default_specialists(), max_tasks=n)
    assert time.perf_counter() - started < 3.0
    assert len(tasks) == n


def test_the_graph_runs_a_plan_the_planner_merged(dispatcher: Dispatcher) -> None:
    # what `dispatch run` does: plan once, hand the tasks to the graph as its plan
    request = " ".join(sentences(100))
    tasks = plan_tasks(request, None, dispatcher, default_specialists())
    graph = build_orchestrator(dispatcher)
    state = asyncio.run(graph.ainvoke({"request": request, "tasks": tasks}))
    assert len(state["results"]) == 32
    assert all(r["ok"] for r in state["results"].values())
    assert state["answer"]


def test_a_graph_needs_room_for_one_task(dispatcher: Dispatcher) -> None:
    with pytest.raises(ConfigError, match=r"max_tasks=\.\.\.\): a workflow needs room"):
        build_orchestrator(dispatcher, max_tasks=0)
