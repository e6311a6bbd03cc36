"""Dispatcher overhead per hop against a plain LangGraph node calling the same fake model.

Both graphs run the same `FakeChatModel` (fixed reply and usage); the routed one
adds routing, selection, pricing, the hop record and the pin. Rounds alternate
between the two so that machine noise hits both; the ratio of medians is
printed. Run: ``python -m bench`` (or ``python bench/overhead.py --hops 2000``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import Dispatcher, DispatchState, Registry, Specialist, routed_node
from dispatch.testing import FakeChatModel
from dispatch.tracing import Tracing

PROMPT = "What does the runbook say about the checkout latency SLO and escalation?"


class _State(MessagesState, DispatchState):
    pass


def plain_graph(model: FakeChatModel) -> Any:
    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("call", call)
    builder.add_edge(START, "call")
    return builder.compile()


def routed_graph(model: FakeChatModel, tracing: Tracing | None = None) -> Any:
    """The same call behind one routed node (`tracing`: default, global providers)."""
    dispatcher = Dispatcher(
        Registry.from_config(), model_factory=lambda spec: model, tracing=tracing
    )
    specialist = Specialist(
        name="search", capability="search", prompt="Answer briefly."
    )
    builder = StateGraph(_State)
    builder.add_node("search", routed_node(dispatcher, specialist))
    builder.add_edge(START, "search")
    return builder.compile()


def time_per_hop(graph: Any, n: int) -> float:
    """Mean seconds per invocation of `graph` over `n` runs."""
    inputs = {"messages": [HumanMessage(PROMPT)]}
    start = time.perf_counter()
    for _ in range(n):
        graph.invoke(inputs)
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> None:
    """Print per-hop time of both graphs and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hops", type=int, default=1000, help="hops per graph")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    model = FakeChatModel(replies=[AIMessage(content="The SLO is p95 < 250 ms.")])
    plain, routed = plain_graph(model), routed_graph(model)
    time_per_hop(plain, 50), time_per_hop(routed, 50)  # warm up imports and caches
    per_round = max(1, args.hops // args.rounds)
    plain_t, routed_t = [], []
    for _ in range(args.rounds):
        plain_t.append(time_per_hop(plain, per_round))
        routed_t.append(time_per_hop(routed, per_round))
        model.requests.clear()
    p, r = statistics.median(plain_t), statistics.median(routed_t)
    print(f"plain LangGraph node + fake model : {p * 1e3:.3f} ms/hop")
    print(f"routed node (dispatch)            : {r * 1e3:.3f} ms/hop")
    print(f"overhead per hop                  : {(r - p) * 1e3:.3f} ms")
    print(f"ratio routed/plain                : {r / p:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
