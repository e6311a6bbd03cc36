"""Orchestrator/workers: plan -> fan out ready sub-tasks with `Send` -> specialists
-> join -> (next ready sub-tasks ...) -> synthesize.

Every model call of every specialist is a routed hop; hop records and pins flow
into the state through the `DispatchState` reducers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import networkx as nx
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer, Send
from typing_extensions import TypedDict

from dispatch import ConfigError, Dispatcher, DispatchState, Hop, Specialist
from dispatch.agents import default_specialists
from dispatch.graphs.plan import Task, clean_text, parse_plan
from dispatch.langgraph import DispatchContext, new_workflow, run_ledger, state_update
from dispatch.pins import PinState

__all__ = (
    "Task",
    "TaskResult",
    "WorkflowState",
    "build_orchestrator",
    "make_graph",
    "plan_tasks",
)


class TaskResult(TypedDict):
    """What a sub-task produced."""

    id: str
    specialist: str
    output: str
    ok: bool
    error: str | None


def merge_results(
    left: Mapping[str, TaskResult] | None, right: Mapping[str, TaskResult] | None
) -> dict[str, TaskResult]:
    """Reducer: results of parallel branches are merged by task id; the plan
    node writes None to start a new workflow on the same thread afresh."""
    if right is None:
        return {}
    return {**(left or {}), **right}


class WorkflowState(DispatchState):
    """State of one orchestrated workflow."""

    request: str
    tasks: list[Task]
    results: Annotated[dict[str, TaskResult], merge_results]
    answer: str


class _WorkerInput(TypedDict):
    task: Task
    context: str
    pins: PinState
    budget: Any
    """The run's ``budget`` channel (its workflow id and settled spend)."""


_SPLIT = re.compile(r"(?:\n\s*(?:[-*]|\d+[.)])\s+)|(?<=[.?!])\s+(?=[A-Z])")

MAX_TASKS = 32
"""The default cap on a workflow's tasks (`plan_tasks`, `build_orchestrator`)."""


def plan_tasks(
    request: str,
    tasks: Sequence[Any] | None,
    dispatcher: Dispatcher,
    specialists: Mapping[str, Specialist],
    *,
    max_tasks: int = MAX_TASKS,
) -> list[Task]:
    """Validate a given plan, or decompose `request` into one task per sentence/bullet.

    A request of more than `max_tasks` sentences still runs: its consecutive
    sentences are merged into `max_tasks` tasks of near-equal length (the
    planner's own split must never make a request unrunnable). A given plan
    is the user's own structure, with ids and dependencies that merging would
    break, so one with more than `max_tasks` tasks is refused instead.

    Each task gets a specialist: the plan's, or the one whose capability the
    router decides for the task's text (a merged task's whole text). A given
    plan is validated by `dispatch.graphs.plan.parse_plan` (types, required
    fields, known tiers); prompts are cleaned of undecodable text. Linear in
    the number of tasks and their dependencies.

    Raises:
        ConfigError: a malformed task, too many tasks, duplicate ids, unknown
            specialists or dependencies, cycles; the path names the task and
            field.
    """
    if tasks:
        planned = parse_plan(tasks, tiers=dispatcher.registry.tiers)
        if len(planned) > max_tasks:
            raise ConfigError(
                "the plan has too many tasks",
                path="tasks",
                found=len(planned),
                expected=f"at most {max_tasks}",
            )
    else:
        text = clean_text(request)
        parts = [p.strip(" -*\n") for p in _SPLIT.split(text) if p.strip(" -*\n")]
        planned = [
            Task(id=f"t{i + 1}", prompt=p)
            for i, p in enumerate(_merged(parts, max_tasks))
        ]
    if not planned:
        raise ConfigError("the request is empty and no plan was given", path="request")
    by_capability = {s.capability: name for name, s in specialists.items()}
    ids = [t["id"] for t in planned]
    unique: set[str] = set()  # a set, not the list: a long plan stays linear
    for i, task_id in enumerate(ids):
        if task_id in unique:
            raise ConfigError(
                "duplicate task id",
                path=f"tasks[{i}].id",
                found=task_id,
                expected="ids unique within the plan",
            )
        unique.add(task_id)
    graph: nx.DiGraph[str] = nx.DiGraph()
    for i, task in enumerate(planned):
        where = f"tasks[{i}]"
        if "specialist" not in task:
            decision = dispatcher.router.decide(
                Hop(specialist="plan", prompt=task["prompt"])
            )
            task["specialist"] = by_capability.get(decision.capability, "general")
        if task["specialist"] not in specialists:
            raise ConfigError(
                "unknown specialist",
                path=f"{where}.specialist",
                found=task["specialist"],
                expected=f"one of {sorted(specialists)}",
            )
        graph.add_node(task["id"])
        for dep in task.get("depends_on", []):
            if dep not in unique:
                raise ConfigError(
                    "unknown dependency",
                    path=f"{where}.depends_on",
                    found=dep,
                    expected=f"one of {ids}",
                )
            graph.add_edge(dep, task["id"])
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise ConfigError(
            "the plan has a dependency cycle",
            path="tasks",
            found=[e[0] for e in cycle],
            expected="a DAG",
        )
    return planned


def _merged(parts: Sequence[str], n: int) -> list[str]:
    """`parts` in order, consecutive ones joined by newlines into at most `n`
    groups whose sizes differ by one at most."""
    if len(parts) <= n:
        return list(parts)
    size, extra = divmod(len(parts), n)
    groups: list[str] = []
    start = 0
    for k in range(n):
        end = start + size + (k < extra)
        groups.append("\n".join(parts[start:end]))
        start = end
    return groups


def build_orchestrator(
    dispatcher: Dispatcher,
    specialists: Mapping[str, Specialist] | None = None,
    *,
    checkpointer: Checkpointer = None,
    synthesizer: str = "general",
    synthesis_tier: str | None = None,
    max_tasks: int = MAX_TASKS,
    max_parallel: int = 8,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The orchestrator graph over `specialists` (default: the four built-in ones).

    `synthesizer` names the specialist that writes the final answer, and
    `synthesis_tier` hints its tier (None: the router decides). A request split
    into more than `max_tasks` parts is merged into `max_tasks` tasks, and a
    given plan with more is refused (see `plan_tasks`); at most `max_parallel`
    tasks run at once.

    Invoke with ``{"request": ..., "tasks": [...]}`` (``tasks`` optional); the
    run's budget comes from a `DispatchContext` passed as ``context=`` or from
    ``configurable["budget_usd"]``. Every run starts its own budget unless it
    names a shared ``workflow_id``.
    """
    if max_tasks < 1:
        raise ConfigError(
            "a workflow needs room for a task",
            path="build_orchestrator(max_tasks=...)",
            found=max_tasks,
            expected="1 or more",
        )
    specialists = dict(specialists or default_specialists())
    if synthesizer not in specialists:
        raise ConfigError(
            "unknown synthesizer specialist",
            found=synthesizer,
            expected=f"one of {sorted(specialists)}",
        )

    def plan(state: WorkflowState, config: RunnableConfig) -> dict[str, Any]:
        given = state.get("tasks")
        tasks = plan_tasks(
            state.get("request", ""),
            given,
            dispatcher,
            specialists,
            max_tasks=max_tasks,
        )
        _, budget = new_workflow(dispatcher, config, state)
        return {
            "request": clean_text(state.get("request", "")),
            "tasks": tasks,
            "results": None,
            "answer": "",
            "budget": budget,
        }

    def fan_out(state: WorkflowState) -> list[Send] | str:
        done = state.get("results", {})
        budget = state.get("budget")
        if budget and budget["refused"] and budget["mode"] == "hard":
            return "synthesize"  # this run's budget refused a hop: stop cleanly
        ready = [
            t
            for t in state["tasks"]
            if t["id"] not in done and all(d in done for d in t.get("depends_on", []))
        ]
        if not ready:
            return "synthesize"
        return [
            Send(
                t["specialist"],
                _WorkerInput(
                    task=t,
                    context=_context(t, done),
                    pins=state.get("pins", {}),
                    budget=budget,
                ),
            )
            for t in ready[:max_parallel]
        ]

    def worker(specialist: Specialist) -> Any:
        async def run(payload: _WorkerInput, config: RunnableConfig) -> dict[str, Any]:
            ledger = run_ledger(dispatcher, config, payload)
            task = payload["task"]
            prompt = task["prompt"] + payload["context"]
            result = await dispatcher.arun_specialist(
                specialist,
                [HumanMessage(prompt)],
                step=task["id"],
                pins=payload["pins"],
                tier_hint=task.get("tier"),
                max_output_tokens=task.get("max_output_tokens"),
                ledger=ledger,
            )
            outcome = TaskResult(
                id=task["id"],
                specialist=specialist.name,
                output=result.answer,
                ok=result.error is None,
                error=result.error,
            )
            return {"results": {task["id"]: outcome}, **state_update(result, ledger)}

        run.__name__ = specialist.name
        return run

    async def synthesize(
        state: WorkflowState, config: RunnableConfig
    ) -> dict[str, Any]:
        ledger = run_ledger(dispatcher, config, state)
        results = state.get("results", {})
        lines = [
            f"- {r['id']} ({r['specialist']}): {_outcome(r)}" for r in results.values()
        ]
        lines += [
            f"- {t['id']} ({t['specialist']}): not run (budget exhausted)"
            for t in state["tasks"]
            if t["id"] not in results
        ]
        findings = "\n".join(lines)
        prompt = (
            f"Combine these findings into one answer to: {state['request']}\n{findings}"
        )
        run = await dispatcher.arun_specialist(
            specialists[synthesizer],
            [HumanMessage(prompt)],
            step="synthesize",
            pins=state.get("pins", {}),
            tier_hint=synthesis_tier,
            ledger=ledger,
        )
        if run.refused:
            answer = f"[budget exhausted before synthesis; findings so far]\n{findings}"
        elif run.error is not None:
            answer = f"[synthesis failed: {run.error}]"
        else:
            answer = run.answer
        return {"answer": answer, **state_update(run, ledger)}

    builder = StateGraph(WorkflowState, context_schema=DispatchContext)
    builder.add_node("plan", plan)
    for name, specialist in specialists.items():
        builder.add_node(name, worker(specialist))
        builder.add_edge(name, "join")
    builder.add_node("join", lambda state: {})
    builder.add_node("synthesize", synthesize)
    builder.add_edge(START, "plan")
    targets = [*specialists, "synthesize"]
    builder.add_conditional_edges("plan", fan_out, targets)
    builder.add_conditional_edges("join", fan_out, targets)
    builder.add_edge("synthesize", END)
    return builder.compile(checkpointer=checkpointer, name="orchestrator")


def _outcome(result: TaskResult) -> str:
    return result["output"] if result["ok"] else f"FAILED: {result['error']}"


def _context(task: Task, done: Mapping[str, TaskResult]) -> str:
    deps = [done[d] for d in task.get("depends_on", [])]
    if not deps:
        return ""
    lines = [f"[{d['id']}] {_outcome(d)}" for d in deps]
    return "\n\nResults you can use:\n" + "\n".join(lines)


def make_graph(
    config: RunnableConfig | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Graph factory for ``langgraph dev`` (see ``langgraph.json``).

    Runs real models for the providers whose credentials are in the
    environment, and the simulator when there are none.
    """
    from dispatch.environment import dispatcher_from_env  # noqa: PLC0415

    return build_orchestrator(dispatcher_from_env())
