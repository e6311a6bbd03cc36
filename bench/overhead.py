"""Dispatcher overhead per hop against a plain LangGraph node calling the same fake model.

Every graph runs the same `FakeChatModel` (fixed reply and usage); the routed
ones add routing, selection, pricing, the hop record and the pin:

* ``routed (hint)``: a specialist with a capability hint, rules router (the
  orchestrator's hops);
* ``routed (semantic)``: no hint, so the hybrid router's rules layer is not sure
  and the semantic layer (MiniLM, the shipped default stack) decides; the
  prompt's embedding is a cache hit, as for every hop after a conversation's
  first. Skipped when sentence-transformers is not installed;
* ``routed (hint), new prompt``: the hint graph with a prompt it has never
  seen on every hop, so the rules layer's memo never answers (shown for
  honesty: the two lines above repeat one prompt, as re-runs and parallel
  branches of one turn do);
* ``routed (hint), no deadline``: the hint graph with the sync driver's
  deadline off (the call made on the node's own thread, as before
  `dispatch.deadline`), so the run shows what bounding a blocking call costs:
  two thread hand-offs per call. The async driver (``ainvoke``) pays none.

Hops of the graphs alternate one by one, so machine noise hits all of them
alike, and the ratio of the per-hop medians is printed. Run: ``python -m bench``
(or ``python -m bench.overhead --hops 2000``).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

import dispatch.dispatcher as dispatcher_module
from dispatch import Dispatcher, DispatchState, Registry, Specialist, routed_node
from dispatch.routing import Router
from dispatch.testing import FakeChatModel
from dispatch.tracing import Tracing

PROMPT = "Why did our checkout latency get worse after the last deploy?"
"""Rules are unsure of its capability (confidence 0.4), so a hop with no hint
reaches the semantic layer."""


class _State(MessagesState, DispatchState):
    pass


def plain_graph(model: FakeChatModel) -> Any:
    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("call", call)
    builder.add_edge(START, "call")
    return builder.compile()


def routed_graph(
    model: FakeChatModel,
    tracing: Tracing | None = None,
    *,
    router: Router | None = None,
    capability: str | None = "search",
) -> Any:
    """The same call behind one routed node (`tracing`: default, global providers)."""
    dispatcher = Dispatcher(
        Registry.from_config(),
        router=router,
        model_factory=lambda spec: model,
        tracing=tracing,
    )
    specialist = Specialist(
        name="search", capability=capability, prompt="Answer briefly."
    )
    builder = StateGraph(_State)
    builder.add_node("search", routed_node(dispatcher, specialist))
    builder.add_edge(START, "search")
    return builder.compile()


def semantic_router(registry: Registry) -> Router | None:
    """The shipped hybrid (rules, then MiniLM on the built-in utterances), or
    None without sentence-transformers."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return None
    from dispatch.cli.options import RouterChoice
    from dispatch.cli.routers import cli_router

    return cli_router(RouterChoice.HYBRID, registry)


NO_DEADLINE = "no deadline"
"""Graphs whose name ends with this run their model calls inline (no deadline)."""


class _Inline:
    """`graph`, invoked with the sync hop driver calling the model inline."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    def invoke(self, state: Any) -> Any:
        bounded = dispatcher_module.call_with_deadline
        dispatcher_module.call_with_deadline = _inline_call
        try:
            return self.graph.invoke(state)
        finally:
            dispatcher_module.call_with_deadline = bounded


def _inline_call(fn: Callable[[], Any], timeout_s: float | None) -> Any:
    return fn()


NEW_PROMPT = "new prompt"
"""Graphs whose name ends with this get a prompt never seen before on every hop."""


def interleaved(graphs: dict[str, Any], n: int, times: dict[str, list[float]]) -> None:
    """Run `n` hops of each graph, alternating; append wall seconds to `times`."""
    inputs = {"messages": [HumanMessage(PROMPT)]}
    clock = time.perf_counter
    for _ in range(n):
        for name, graph in graphs.items():
            state = inputs
            if name.endswith(NEW_PROMPT):
                state = {"messages": [HumanMessage(f"{PROMPT} #{next(_serial)}")]}
            start = clock()
            graph.invoke(state)
            times.setdefault(name, []).append(clock() - start)


_serial = itertools.count()


def time_per_hop(graph: Any, n: int) -> float:
    """Mean seconds per invocation of `graph` over `n` runs."""
    inputs = {"messages": [HumanMessage(PROMPT)]}
    start = time.perf_counter()
    for _ in range(n):
        graph.invoke(inputs)
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> None:
    """Print per-hop time of each graph and its ratio to the plain node."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hops", type=int, default=2000, help="hops per graph")
    args = parser.parse_args(argv)
    model = FakeChatModel(replies=[AIMessage(content="The SLO is p95 < 250 ms.")])
    graphs = {"plain": plain_graph(model), "routed (hint)": routed_graph(model)}
    router = semantic_router(Registry.from_config())
    if router is not None:
        graphs["routed (semantic)"] = routed_graph(
            model, router=router, capability=None
        )
    graphs[f"routed (hint), {NEW_PROMPT}"] = routed_graph(model)
    graphs[f"routed (hint), {NO_DEADLINE}"] = _Inline(routed_graph(model))
    interleaved(graphs, 50, {})  # warm up imports and caches (the prompt's embedding)
    times: dict[str, list[float]] = {}
    for chunk in range(0, args.hops, 500):
        interleaved(graphs, min(500, args.hops - chunk), times)
        model.requests.clear()  # the fake logs every request
    medians = {name: statistics.median(t) for name, t in times.items()}
    plain = medians["plain"]
    print(f"{'plain LangGraph node + fake model':34s}: {plain * 1e3:.3f} ms/hop")
    for name, t in medians.items():
        if name == "plain":
            continue
        print(
            f"{name:34s}: {t * 1e3:.3f} ms/hop, +{(t - plain) * 1e3:.3f} ms, "
            f"ratio {t / plain:.2f}x"
            + ("" if name.endswith((NEW_PROMPT, NO_DEADLINE)) else " (target <= 1.3x)")
        )
    if router is None:
        print("routed (semantic)                 : skipped (no sentence-transformers)")


if __name__ == "__main__":
    main()
