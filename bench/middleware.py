"""Per-call cost of `DispatchMiddleware` on LangChain's `create_agent`.

Three agents answer the same prompt with the same `FakeChatModel` (fixed reply
and usage): a plain ``create_agent(model)``, the same agent with
`DispatchMiddleware` (routing, selection, reservation, pricing, the hop record,
the pin and budget channel writes), and ``create_agent(RoutedChatModel)``, the
older drop-in. Rounds alternate between them so machine noise hits all three;
medians and ratios against the plain agent measured in the same run are printed.
Run: ``python bench/middleware.py --calls 600``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage

from dispatch import Dispatcher, DispatchMiddleware, Registry, RoutedChatModel
from dispatch.testing import FakeChatModel

PROMPT = "What does the runbook say about the checkout latency SLO and escalation?"


def agents(model: FakeChatModel) -> dict[str, Any]:
    """The three agents, by label."""
    dispatcher = Dispatcher(Registry.from_config(), model_factory=lambda spec: model)
    mw = DispatchMiddleware(dispatcher, specialist="search")
    routed = RoutedChatModel(dispatcher=dispatcher, specialist="search")
    return {
        "plain create_agent + fake model": create_agent(model),
        "with DispatchMiddleware": create_agent(mw.model, middleware=[mw]),
        "with RoutedChatModel as model=": create_agent(routed),
    }


def time_per_call(agent: Any, n: int) -> float:
    """Mean seconds per invocation (one model call each) over `n` runs."""
    inputs = {"messages": [HumanMessage(PROMPT)]}
    start = time.perf_counter()
    for _ in range(n):
        agent.invoke(inputs)
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> None:
    """Print per-call time of each agent and its ratio to the plain one."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600, help="calls per agent")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    model = FakeChatModel(replies=[AIMessage(content="The SLO is p95 < 250 ms.")])
    built = agents(model)
    for agent in built.values():
        time_per_call(agent, 20)  # warm up imports and caches
    per_round = max(1, args.calls // args.rounds)
    times: dict[str, list[float]] = {label: [] for label in built}
    for _ in range(args.rounds):
        for label, agent in built.items():
            times[label].append(time_per_call(agent, per_round))
        model.requests.clear()
    medians = {label: statistics.median(t) for label, t in times.items()}
    plain = next(iter(medians.values()))
    for label, median in medians.items():
        print(
            f"{label:<34}: {median * 1e3:7.3f} ms/call  "
            f"(+{(median - plain) * 1e3:.3f} ms, {median / plain:.2f}x)"
        )


if __name__ == "__main__":
    main()
