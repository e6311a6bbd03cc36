"""A per-workflow budget shared by parallel branches: hard refuses, soft downgrades."""

import asyncio

from dispatch import Dispatcher, hop_records
from dispatch.graphs import DEMO_PLAN, DEMO_REQUEST, build_orchestrator

dispatcher = Dispatcher.from_config(simulate=True)
graph = build_orchestrator(dispatcher)

for mode in ("hard", "soft"):
    config = {
        "configurable": {
            "workflow_id": f"budget-{mode}",
            "budget_usd": 0.002,
            "budget_mode": mode,
        }
    }
    state = asyncio.run(
        graph.ainvoke({"request": DEMO_REQUEST, "tasks": DEMO_PLAN}, config)
    )
    tiers = sorted({h.tier for h in hop_records(state) if not h.refused})
    budget = state["budget"]
    print(
        f"{mode}: spent ${float(budget['spent_usd']):.6f} of $0.002, "
        f"{budget['refused']} hop(s) refused, tiers used {tiers}"
    )
    ledger = dispatcher.ledgers.get(f"budget-{mode}")
    assert ledger is not None
    assert ledger.spent <= ledger.limit and ledger.reserved == 0  # type: ignore[operator]
