"""Routing metrics over a run's hop records (pure): what users track per workflow.

Share of hops and of cost per tier and per model, escalation / fallback /
failure rates, cost per successful hop, latency p50/p95 per route
(capability/tier -> model), the saving against the always-largest baseline, and
each model's circuit breaker as the run's last attempt touching it saw it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from dispatch.types import HopRecord, PinChange

__all__ = ("routing_report",)


def _share(part: Decimal | int, whole: Decimal | int) -> float:
    """`part` / `whole` as a float rounded for display; 0 for an empty whole."""
    return float(part) / float(whole) if whole else 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    """The `q` quantile of `values` (linear interpolation, as numpy's default)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _breakdown(
    records: Sequence[HopRecord], key: str, total: Decimal
) -> dict[str, Any]:
    """Hops and cost per key (tier or model), with their shares, dearest first."""
    hops: dict[str, int] = defaultdict(int)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for r in records:
        hops[getattr(r, key)] += 1
        cost[getattr(r, key)] += r.cost_usd
    return {
        name: {
            "hops": n,
            "hop_share": _share(n, len(records)),
            "cost_usd": float(cost[name]),
            "cost_share": _share(cost[name], total),
        }
        for name, n in sorted(hops.items(), key=lambda kv: -cost[kv[0]])
    }


def circuits(records: Iterable[HopRecord]) -> dict[str, dict[str, Any]]:
    """Each model's latest circuit fact in `records` (see `HopRecord.circuits`).

    The breaker lives in the process that ran the hops; the records carry what
    it said after each attempt, so the latest fact per model is its state when
    the run last heard of it. A model whose faults aged out of the window before
    its next call drops back to closed with no fact: it is then left out here
    only if no attempt of the run ever saw it troubled.
    """
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        for c in r.circuits:
            latest[c.model] = {**c.as_dict(), "seen_at_step": r.step}
        if r.model in latest and r.model not in {c.model for c in r.circuits}:
            # the called model was fine after this call: closed, no faults
            latest[r.model] = {
                **latest[r.model],
                "state": "closed",
                "failures": 0,
                "calls": None,
                "opened_at": None,
                "probe_at": None,
                "seen_at_step": r.step,
            }
    return dict(sorted(latest.items()))


def routing_report(all_records: Iterable[HopRecord]) -> dict[str, Any]:
    """The metrics of `all_records` as one JSON-safe dict (see the module docstring)."""
    records = list(all_records)
    called = [r for r in records if not r.refused]
    ok = [r for r in called if r.error is None]
    total = sum((r.cost_usd for r in called), Decimal(0))
    baseline = sum((r.baseline_cost_usd for r in ok), Decimal(0))
    routes: dict[str, list[float]] = defaultdict(list)
    for r in ok:
        routes[f"{r.capability}/{r.tier} -> {r.model}"].append(r.duration_ms)
    escalated = [r for r in ok if r.pin_change is PinChange.ESCALATED]
    return {
        "hops": len(called),
        "successful_hops": len(ok),
        "refused_hops": len(records) - len(called),
        "total_cost_usd": float(total),
        "baseline_cost_usd": float(baseline),
        "saving_usd": float(baseline - total),
        "saving_ratio": _share(baseline - total, baseline),
        "cost_per_successful_hop_usd": float(total / len(ok)) if ok else None,
        "escalation_rate": _share(len(escalated), len(called)),
        "fallback_rate": _share(sum(bool(r.fallback_from) for r in ok), len(called)),
        "failure_rate": _share(len(called) - len(ok), len(called)),
        "pinned_rate": _share(sum(r.pinned for r in ok), len(called)),
        "by_tier": _breakdown(called, "tier", total),
        "by_model": _breakdown(called, "model", total),
        "latency_ms": {
            route: {"n": len(v), "p50": _percentile(v, 50), "p95": _percentile(v, 95)}
            for route, v in sorted(routes.items())
        },
        "circuits": circuits(records),
    }
