"""The built-in demo request and its plan: 6 sub-tasks over 3 capabilities (+ synthesis)."""

from __future__ import annotations

from dispatch.graphs.orchestrator import Task

__all__ = ("DEMO_PLAN", "DEMO_REQUEST", "DEMO_SYNTHESIS_TIER")

DEMO_SYNTHESIS_TIER = "medium"
"""The plan asks for a medium-tier model to write the final summary."""

DEMO_REQUEST = (
    "Checkout got slower this week. Find what our runbooks say about the latency "
    "SLO and who handles incidents, analyse this week's p95 latencies, write and "
    "check code that flags SLO breaches, design an alerting rule, and write a short "
    "incident summary for the team."
)

_P95 = "182, 190, 175, 240, 310, 295, 188"

DEMO_PLAN: list[Task] = [
    Task(
        id="slo",
        prompt="What does the checkout runbook say about the latency SLO and escalation?",
        specialist="search",
        max_output_tokens=300,
    ),
    Task(
        id="oncall",
        prompt="Which on-call rotation and dashboards handle checkout incidents?",
        specialist="search",
        max_output_tokens=200,
    ),
    Task(
        id="stats",
        prompt=f"Compute summary statistics of this week's checkout p95 latencies in ms: {_P95}",
        specialist="analysis",
        max_output_tokens=250,
    ),
    Task(
        id="rise",
        prompt="By how many percent did p95 rise from Monday to Friday? (310 - 182) / 182 * 100",
        specialist="analysis",
        max_output_tokens=120,
    ),
    Task(
        id="breaches",
        prompt=(
            "Write a Python function that flags the days whose p95 exceeds the 250 ms "
            "SLO, and run it on this week's data:\n```python\n"
            f"p95 = [{_P95}]\n"
            "days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']\n"
            "def breaches(values, slo=250):\n"
            "    return [d for d, v in zip(days, values) if v > slo]\n"
            "print(breaches(p95))\n```"
        ),
        specialist="coding",
        max_output_tokens=400,
    ),
    Task(
        id="alerting",
        prompt=(
            "Design an alerting rule for the checkout latency SLO step by step: "
            "thresholds, edge cases such as cold caches after deploys, and the "
            "trade-offs between paging too early and too late."
        ),
        specialist="coding",
        depends_on=["slo", "stats", "breaches"],
        max_output_tokens=900,
    ),
]
