"""The ready-made orchestrator graph: plan -> Send fan-out -> specialists -> join -> synthesize."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from dispatch import ConfigError, Dispatcher, Registry, hop_records
from dispatch.agents import default_specialists
from dispatch.graphs import DEMO_PLAN, DEMO_REQUEST, build_orchestrator, plan_tasks
from dispatch.testing import FakeChatModel, fake_factory


def run(graph: Any, request: str, tasks: list[Any] | None = None) -> dict[str, Any]:
    return asyncio.run(graph.ainvoke({"request": request, "tasks": tasks or []}))  # type: ignore[no-any-return]


def test_demo_plan_runs_offline_over_tiers_and_capabilities() -> None:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    state = run(build_orchestrator(dispatcher), DEMO_REQUEST, list(DEMO_PLAN))
    records = hop_records(state)
    assert len(records) >= 5
    assert len({r.tier for r in records}) >= 2
    assert len({r.capability for r in records}) >= 3
    assert all(r.simulated and r.error is None for r in records)
    assert set(state["results"]) == {t["id"] for t in DEMO_PLAN}
    assert all(r["ok"] for r in state["results"].values())
    # tools really ran: the breach check printed the breaching days
    breaches = state["results"]["breaches"]["output"]
    assert "['Fri', 'Sat']" in breaches
    assert "250 ms" in state["results"]["slo"]["output"]
    # dependencies ran after what they depend on
    steps = [r.step for r in records]
    assert steps.index("alerting") > max(steps.index("slo"), steps.index("breaches"))
    assert steps[-1] == "synthesize"
    total = sum(r.cost_usd for r in records)
    baseline = sum(r.baseline_cost_usd for r in records)
    assert 0 < total < baseline


def test_a_failing_branch_keeps_the_other_branches_results(registry: Registry) -> None:
    # no failover: the search branch fails; the analysis branch must still deliver.
    broken = FakeChatModel(replies=[RuntimeError("search provider down")])
    good = FakeChatModel(replies=[AIMessage(content="mean is 3")])
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory(
            {}, default=lambda spec: broken if spec.id == "tiny:model" else good
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
    ]
    state = run(build_orchestrator(dispatcher), "r", tasks)
    assert state["results"]["a"]["ok"] is False
    # the failure is recorded as facts; the provider's own text never travels on
    assert "RuntimeError" in str(state["results"]["a"]["error"])
    assert "search provider down" not in str(state)
    assert state["results"]["b"] == {
        "id": "b",
        "specialist": "analysis",
        "output": "mean is 3",
        "ok": True,
        "error": None,
    }
    # synthesis ran with what there was (and, on the broken small model, failed too)
    failed = [r.step for r in hop_records(state) if r.error]
    assert failed == ["a", "synthesize"]
    assert "FAILED: " in broken.requests[-1][-1].text
    assert state["answer"].startswith("[synthesis failed")


def test_request_without_plan_is_decomposed_and_routed_by_capability() -> None:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    tasks = plan_tasks(
        "Find the deploy policy in the docs. Compute 12 * 7 + 3. Write a thank-you note.",
        None,
        dispatcher,
        default_specialists(),
    )
    assert [t["specialist"] for t in tasks] == ["search", "analysis", "general"]


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}], "duplicate task id"),
        ([{"id": "a", "prompt": "x", "depends_on": ["zz"]}], "unknown dependency"),
        ([{"id": "a", "prompt": "x", "specialist": "poet"}], "unknown specialist"),
        (
            [
                {"id": "a", "prompt": "x", "depends_on": ["b"]},
                {"id": "b", "prompt": "y", "depends_on": ["a"]},
            ],
            "dependency cycle",
        ),
    ],
)
def test_bad_plans_are_refused_with_the_task_named(
    tasks: list[Any], message: str
) -> None:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True)
    with pytest.raises(ConfigError, match=message):
        plan_tasks("r", tasks, dispatcher, default_specialists())


def test_langgraph_json_names_a_graph_factory_that_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json
    from pathlib import Path

    from dispatch.graphs import make_graph

    for key in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GOOGLE_API_KEY",
        "OPENAI_BASE_URL",
    ):
        monkeypatch.delenv(key, raising=False)
    root = Path(__file__).parents[2]
    spec = json.loads((root / "langgraph.json").read_text())
    path, _, name = spec["graphs"]["orchestrator"].partition(":")
    assert (root / path).is_file() and name == "make_graph"
    graph = make_graph()
    assert {"plan", "join", "synthesize", "coding", "search"} <= set(
        graph.get_graph().nodes
    )
