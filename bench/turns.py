"""What a repeated conversation costs: the demo run N times on one thread.

Pins keep a conversation consistent; they must not make it dearer. Each turn
runs the same request and plan on the same thread (simulated models, real list
prices), and the script prints every turn's cost and the ratio of the last turn
to the first, measured in the same run. Pins are per (specialist, tier), so a
later turn reuses each scope's model instead of keeping a specialist on the
dearest model it ever needed. Run: ``python -m bench.turns [--turns 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from dispatch import Dispatcher, hop_records
from dispatch.graphs import (
    DEMO_PLAN,
    DEMO_REQUEST,
    DEMO_SYNTHESIS_TIER,
    build_orchestrator,
)


async def turn_costs(turns: int) -> list[tuple[Decimal, int, int]]:
    """(cost, hops, hops on a kept pin) of each turn of one thread."""
    graph = build_orchestrator(
        Dispatcher.from_config(simulate=True),
        checkpointer=InMemorySaver(),
        synthesis_tier=DEMO_SYNTHESIS_TIER,
    )
    config: Any = {"configurable": {"thread_id": "bench-turns"}}
    out = []
    for _ in range(turns):
        state = await graph.ainvoke(
            {"request": DEMO_REQUEST, "tasks": DEMO_PLAN}, config
        )
        workflow = state["budget"]["workflow"]
        records = [r for r in hop_records(state) if r.workflow == workflow]
        cost = sum((r.cost_usd for r in records), Decimal(0))
        out.append((cost, len(records), sum(r.pinned for r in records)))
    return out


def main(argv: list[str] | None = None) -> None:
    """Print each turn's cost and the last/first ratio (target <= 1.00)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args(argv)
    costs = asyncio.run(turn_costs(args.turns))
    for i, (cost, hops, kept) in enumerate(costs, 1):
        print(f"turn {i}: ${cost:.6f}  {hops} hops, {kept} on a kept pin")
    ratio = costs[-1][0] / costs[0][0]
    print(f"ratio last/first turn: {ratio:.2f}x (target <= 1.00x)")


if __name__ == "__main__":
    main()
