"""Pre-flight estimate of an orchestrator plan: expected and worst-case cost per node.

Per task, the worst case assumes every model call of the specialist's loop
(``max_tool_rounds + 1`` calls when it has tools) runs on the dearest model the
policy can actually reach for it, with the full output cap (clamped to that
model's limit), `TOOL_CALLS_PER_ROUND` tool results of at most
`TOOL_RESULT_TOKENS` each fed back per round, and each dependency's full output
as context. Reachable means what the policy can pick at the tier the router
gives the task: the cheapest eligible model and the next ones down the failover
chain (``max_failovers`` of them); every call of a tool loop stays on the loop's
first model, and a pin holds a model the policy picked the same way. Failed
attempts cost nothing (the ledger releases them). The expected
case uses the planned route's model, two calls for specialists with tools, and
80 % of the output cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import networkx as nx
from langchain_core.utils.function_calling import convert_to_openai_tool

from dispatch import Dispatcher, Hop, Specialist
from dispatch.cost import call_cost, estimate_tokens
from dispatch.graphs.orchestrator import Task
from dispatch.policy import planned_cost, select
from dispatch.preflight import Estimate, preflight

__all__ = ("TOOL_CALLS_PER_ROUND", "TOOL_RESULT_TOKENS", "estimate_plan")

TOOL_RESULT_TOKENS = 2_100
"""Bound on one tool result: run_python returns at most 8,000 characters."""
TOOL_CALLS_PER_ROUND = 2
"""Tool calls a model is assumed to make per round, at most."""
_FRAME = 4
_EXPECTED_OUTPUT = Decimal("0.8")


def estimate_plan(
    request: str,
    tasks: Sequence[Task],
    dispatcher: Dispatcher,
    specialists: Mapping[str, Specialist],
    *,
    synthesizer: str = "general",
    synthesis_tier: str | None = None,
) -> Estimate:
    """Expected and worst-case cost of running `tasks` and the synthesis."""
    registry = dispatcher.registry
    default_out = registry.max_output_tokens
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_node("plan", expected=0, worst=0)
    outs = {t["id"]: t.get("max_output_tokens", default_out) for t in tasks}
    for task in tasks:
        deps = task.get("depends_on", [])
        context = sum(outs[d] + 3 for d in deps) + (6 if deps else 0)
        expected, worst = _node_cost(
            dispatcher,
            specialists[task["specialist"]],
            task["prompt"],
            context_tokens=context,
            max_out=outs[task["id"]],
            tier_hint=task.get("tier"),
        )
        graph.add_node(task["id"], expected=expected, worst=worst)
        graph.add_edge("plan", task["id"])
        for dep in deps:
            graph.add_edge(dep, task["id"])
    findings = sum(o + 10 for o in outs.values())
    expected, worst = _node_cost(
        dispatcher,
        specialists[synthesizer],
        f"Combine these findings into one answer to: {request}",
        context_tokens=findings,
        max_out=default_out,
        tier_hint=synthesis_tier,
    )
    graph.add_node("synthesize", expected=expected, worst=worst)
    for task in tasks:
        graph.add_edge(task["id"], "synthesize")
    return preflight(graph)


def _node_cost(
    dispatcher: Dispatcher,
    specialist: Specialist,
    prompt: str,
    *,
    context_tokens: int,
    max_out: int,
    tier_hint: str | None,
) -> tuple[Decimal, Decimal]:
    registry = dispatcher.registry
    tools = sum(
        estimate_tokens(str(convert_to_openai_tool(t))) for t in specialist.tools
    )
    base = 2 * _FRAME + estimate_tokens(specialist.prompt) + estimate_tokens(prompt)
    base += context_tokens
    rounds = specialist.max_tool_rounds + 1 if specialist.tools else 1
    per_round = _FRAME + max_out + TOOL_CALLS_PER_ROUND * (_FRAME + TOOL_RESULT_TOKENS)
    safety = dispatcher.input_safety
    hop = Hop(
        specialist=specialist.name,
        prompt=prompt,
        capability_hint=specialist.capability,
        tier_hint=tier_hint,
        input_tokens=base + tools,
        max_output_tokens=max_out,
    )
    decision = dispatcher.router.decide(hop)
    model = select(decision, hop, registry).model
    chain = sorted(
        registry.serving(decision.capability, decision.tier),
        key=lambda m: (planned_cost(m, hop, registry), m.latency_ms, m.id),
    )[: dispatcher.max_failovers + 1]
    reachable = chain or [model]
    worst = Decimal(0)
    for r in range(rounds):
        tokens_in = (
            int((base + (tools if r < rounds - 1 else 0) + r * per_round) * safety) + 1
        )
        worst += max(
            call_cost(m, tokens_in, min(max_out, m.max_output_tokens))
            for m in reachable
        )
    calls = 2 if specialist.tools else 1
    out = int(max_out * _EXPECTED_OUTPUT)
    expected = sum(
        (
            call_cost(model, base + tools + c * (max_out + 300), out)
            for c in range(calls)
        ),
        Decimal(0),
    )
    return expected, worst
