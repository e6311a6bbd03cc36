"""What pinning is worth once prompt caches are priced: a 20-turn conversation,
pinned and unpinned, measured in the same run.

Providers bill input read from their prompt cache at a fraction of the input
rate (LiteLLM's map: a tenth for OpenAI, Anthropic and Gemini's current
models), and a cache only hits on the same model with the same prefix. A pinned
conversation keeps its model, so each turn re-reads its history from the cache;
a conversation whose model switches starts cold on every switch.

Both runs send the same 20 user turns (mixed capabilities and sizes) through
the real graph (`routed_node` in a `StateGraph` with a checkpointer) on
simulated models at the default registry's list prices; the simulator reports
``input_token_details.cache_read`` like an automatic prompt cache (OpenAI's
1,024-token minimum). *Pinned*: one thread. *Unpinned*: the pins are cleared
before every turn (each turn runs on a fresh thread carrying the whole
history), so every turn picks the cheapest good-enough model afresh. The
script prints each run's cost, the cached share of its input, what the same
tokens cost without the cache, the model switches, and the premium (> 1) or
saving (< 1) of pinning. The simulated cache never expires (real ones keep a
prefix for 5 minutes to an hour), so a model switched back to still hits.
Run: ``python -m bench.prompt_cache [--turns 20]``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from dispatch import (
    Dispatcher,
    DispatchState,
    HopRecord,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch.cost import call_cost

HANDBOOK = " ".join(
    f"Rule {i}: the checkout service keeps p99 latency under 300 ms, logs every"
    f" payment retry with its idempotency key, and pages the on-call owner of"
    f" team {i % 7} when the error budget burns faster than 2% per hour."
    for i in range(40)
)
"""The conversation's shared context (~1,800 tokens): the agent's system prompt."""

TURNS = (
    "Summarise the checkout latency rules in one line.",
    "Write a Python function that retries a payment with an idempotency key.",
    "Who gets paged when the error budget burns too fast?",
    "Add exponential backoff with jitter to that function.",
    "Analyse the trade-offs of retrying payments at the client versus the server.",
    "Make the summary friendlier.",
    "Write a unit test for the retry function using a fake clock.",
    "What does the handbook say about logging payment retries?",
    "Compare these p99 latencies and say which week regressed: 280, 310, 295, 330.",
    "Refactor the retry function to take the backoff policy as a parameter.",
    "Draft a short incident note for a checkout latency regression.",
    "Design a rollout plan for the new retry policy step by step, with edge cases.",
    "Which teams own the rules that mention paging?",
    "Fix the bug: the retry loop never stops when the provider returns 409.",
    "Explain the error-budget burn rate rule to a new engineer.",
    "Write a SQL query counting payment retries per idempotency key per day.",
    "Give the three most important rules as bullet points.",
    "Estimate the monthly cost of logging every retry at 2 million retries a day.",
    "Review the rollout plan for risks we missed.",
    "Write the final release note in two sentences.",
)


class State(MessagesState, DispatchState):
    """Messages plus graph-dispatch's channels."""


@dataclass(frozen=True, slots=True)
class Run:
    """One run of the conversation."""

    records: tuple[HopRecord, ...]

    @property
    def cost(self) -> Decimal:
        """USD of every hop."""
        return sum((r.cost_usd for r in self.records), Decimal(0))

    @property
    def switches(self) -> int:
        """Hops served by another model than the hop before."""
        models = [r.model for r in self.records if r.error is None]
        return sum(a != b for a, b in zip(models, models[1:], strict=False))

    def without_cache(self, registry: Registry) -> Decimal:
        """What the same tokens cost with every input token at the input rate."""
        return sum(
            (
                call_cost(registry.get(r.model), r.input_tokens, r.output_tokens)
                for r in self.records
                if r.error is None
            ),
            Decimal(0),
        )

    @property
    def cached_share(self) -> float:
        """Cache-read tokens over input tokens."""
        read = sum(r.cache_read_tokens for r in self.records)
        return read / max(1, sum(r.input_tokens for r in self.records))


def _graph() -> Any:
    writer = Specialist(
        name="assistant",
        capability=None,
        prompt=f"You are the checkout team's assistant. Handbook: {HANDBOOK}",
    )
    builder = StateGraph(State)
    builder.add_node(
        "assistant", routed_node(Dispatcher.from_config(simulate=True), writer)
    )
    builder.add_edge(START, "assistant")
    return builder.compile(checkpointer=InMemorySaver())


def converse(turns: int, *, pinned: bool) -> Run:
    """Run `turns` user turns on one fresh dispatcher (so a fresh prompt cache)."""
    graph = _graph()
    history: list[BaseMessage] = []
    records: list[HopRecord] = []
    for i, text in enumerate(TURNS[:turns]):
        thread = "pinned" if pinned else f"unpinned-{i}"
        config: Any = {"configurable": {"thread_id": thread}}
        sent = [HumanMessage(text)] if pinned else [*history, HumanMessage(text)]
        state = graph.invoke({"messages": sent}, config)
        history = list(state["messages"])
        # a thread's hops channel holds all its turns: the new ones come last
        # (an unpinned turn's fresh thread holds only its own)
        records += hop_records(state)[len(records) if pinned else 0 :]
    return Run(tuple(records))


def main(argv: list[str] | None = None) -> None:
    """Print both runs and the premium or saving of pinning."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=len(TURNS))
    args = parser.parse_args(argv)
    if not 1 <= args.turns <= len(TURNS):
        parser.error(f"--turns must be 1..{len(TURNS)}, got {args.turns}")
    registry = Registry.from_config()
    pinned = converse(args.turns, pinned=True)
    unpinned = converse(args.turns, pinned=False)
    for name, run in (("pinned", pinned), ("unpinned", unpinned)):
        full = run.without_cache(registry)
        print(
            f"{name:<9} ${run.cost:.6f}  {len(run.records)} hops,"
            f" {run.switches} model switches, {run.cached_share:.0%} of input"
            f" read from the prompt cache (without it: ${full:.6f},"
            f" {run.cost / full:.2f}x)"
        )
    ratio = pinned.cost / unpinned.cost
    verdict = "saving" if ratio < 1 else "premium"
    print(
        f"pinned/unpinned cost: {ratio:.3f}x ({verdict} of pinning:"
        f" {abs(1 - ratio):.1%}); model switches {pinned.switches} vs"
        f" {unpinned.switches}"
    )


if __name__ == "__main__":
    main()
