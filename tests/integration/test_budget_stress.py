"""Random hard-budget orchestrator runs: parallel branches, faulty usage reports,
failing models and cancellations. The ledger must stay exact and hard.

Each run is one seed: its limit, cancellation point, usage reports and failures
all derive from it. A test run draws a fresh block of `RUNS` consecutive seeds
(so repeated runs cover new ground, as Hypothesis does) and names it in every
failure; ``DISPATCH_STRESS_SEED=<n>`` replays a block exactly.
"""

from __future__ import annotations

import asyncio
import os
import random
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from dispatch import DispatchContext, Dispatcher, Registry, hop_records
from dispatch.graphs import build_orchestrator
from dispatch.health import ModelHealth
from dispatch.resilience import RetrySettings
from dispatch.testing import FakeChatModel, fake_factory

RUNS = 80
"""Runs per test: every limit, cancellation and usage kind turns up dozens of times."""
FIRST_SEED = int(os.environ.get("DISPATCH_STRESS_SEED") or random.randrange(10**6))
USAGE = ["normal", "normal", "normal", "negative", "huge", "missing", "nan", "text"]
TASKS = [
    {"id": "a", "prompt": "Find the runbook", "specialist": "search"},
    {"id": "b", "prompt": "Mean of 1, 2, 3", "specialist": "analysis"},
    {"id": "c", "prompt": "Say thanks", "specialist": "general", "tier": "medium"},
    {"id": "d", "prompt": "Summarise", "specialist": "general", "depends_on": ["a"]},
]


class Chaos(FakeChatModel):
    """Replies after a short await with random, often impossible, usage; sometimes raises."""

    seed: int = 0

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        rng = random.Random(f"{self.seed}-{len(messages)}-{messages[-1].text}")
        await asyncio.sleep(rng.uniform(0, 0.004))
        if rng.random() < 0.15:
            raise ConnectionError("provider flaked")
        kind = rng.choice(USAGE)
        msg = AIMessage(content="answer")
        if kind != "missing":
            value: Any = {
                "normal": rng.randint(10, 400),
                "negative": -rng.randint(1, 10**6),
                "huge": 10**12,
                "nan": float("nan"),
                "text": "many",
            }[kind]
            msg.usage_metadata = {
                "input_tokens": value,
                "output_tokens": value,
                "total_tokens": 0,
            }
        return ChatResult(generations=[ChatGeneration(message=msg)])


async def one_run(registry: Registry, seed: int) -> tuple[Any, DispatchContext, bool]:
    rng = random.Random(seed)
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({}, default=lambda s: Chaos(seed=seed)),
        # retries stay on (they are part of what is stressed), without real waits
        health=ModelHealth(
            retry=RetrySettings(initial_s=0.0, jitter_s=0.0), rng=random.Random(seed)
        ),
    )
    graph = build_orchestrator(dispatcher)
    limit = rng.choice(["0", "0.0002", "0.001", "0.004", "0.02"])
    context = DispatchContext(budget_usd=limit, budget_mode="hard")
    task = asyncio.create_task(
        graph.ainvoke({"request": "r", "tasks": TASKS}, context=context)
    )
    cancel = rng.random() < 0.2
    if cancel:
        await asyncio.sleep(rng.uniform(0, 0.01))
        task.cancel()
    try:
        state = await task
    except asyncio.CancelledError:
        state = None
    ledger = dispatcher.ledgers.get(context.run_id)
    return state, context, ledger  # type: ignore[return-value]


def test_random_hard_budget_runs_never_overspend_and_release_everything(
    registry: Registry,
) -> None:
    seeds = range(FIRST_SEED, FIRST_SEED + RUNS)
    replay = f"replay with DISPATCH_STRESS_SEED={FIRST_SEED}"

    async def all_runs() -> list[Any]:
        return [await one_run(registry, seed) for seed in seeds]

    overspent, held, inexact, negative = [], [], [], []
    finished = 0
    for seed, (state, context, ledger) in zip(
        seeds, asyncio.run(all_runs()), strict=True
    ):
        if ledger is None:  # cancelled before the first node
            continue
        limit = Decimal(str(context.budget_usd))
        if ledger.reserved != 0:
            held.append(seed)
        # an excess is only ever one call's impossible report, and it closes the ledger
        if ledger.spent - ledger.overrun > limit:
            overspent.append(seed)
        if state is not None:
            finished += 1
            records = hop_records(state)
            total = sum((r.cost_usd for r in records), Decimal(0))
            if not total == ledger.spent == Decimal(state["budget"]["spent_usd"]):
                inexact.append(seed)
            if any(r.cost_usd < 0 for r in records):
                negative.append(seed)
    failing = dict(overspent=overspent, held=held, inexact=inexact, negative=negative)
    assert failing == dict(overspent=[], held=[], inexact=[], negative=[]), (
        f"{replay}; failing seeds: {failing}"
    )
    assert finished >= RUNS // 2, replay
