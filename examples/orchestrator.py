"""The ready-made orchestrator on a request of your own, decomposed per sentence."""

import asyncio

from dispatch import Dispatcher, hop_records
from dispatch.graphs import build_orchestrator

dispatcher = Dispatcher.from_config(simulate=True)
graph = build_orchestrator(dispatcher)

request = (
    "Find what the deploy policy says about canaries. "
    "Compute the mean of 120, 135, 160 and 210. "
    "Write a two-line note to the team about both."
)
state = asyncio.run(graph.ainvoke({"request": request}))

for hop in hop_records(state):
    print(
        f"{hop.step:<12} {hop.specialist:<9} {hop.tier:<6} {hop.model:<36} "
        f"${hop.cost_usd:.6f}"
    )
total = sum(h.cost_usd for h in hop_records(state))
baseline = sum(h.baseline_cost_usd for h in hop_records(state))
print(f"total ${total:.6f} vs ${baseline:.6f} on {dispatcher.registry.baseline.id}")
