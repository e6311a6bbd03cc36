from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from dispatch import HopRecord, PinChange
from dispatch.report import routing_report
from dispatch.types import CircuitFact


def hop(model: str, tier: str, cost: str, **kw: object) -> HopRecord:
    fields: dict[str, object] = {
        "step": "s",
        "specialist": "x",
        "capability": "general",
        "tier": tier,
        "model": model,
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": Decimal(cost),
        "baseline_cost_usd": Decimal("0.01"),
        "pin_change": PinChange.NEW,
        "router": "rules",
        "confidence": 1.0,
        "reason": "r",
        "duration_ms": 10.0,
    }
    fields.update(kw)
    return HopRecord(**fields)  # type: ignore[arg-type]


def test_shares_rates_cost_per_hop_latency_and_saving() -> None:
    records = [
        hop("a:small", "small", "0.001", duration_ms=10.0),
        hop("a:small", "small", "0.001", duration_ms=30.0, pin_change=PinChange.KEPT),
        hop(
            "b:large",
            "large",
            "0.006",
            repinned_from="a:small",
            pin_change=PinChange.ESCALATED,
            reason="words are not read",
        ),
        hop("c:mid", "medium", "0.002", fallback_from="b:large"),
        hop("b:large", "large", "0", error="RuntimeError: x"),
        hop("b:large", "large", "0", refused=True, error="refused"),
    ]
    m = routing_report(records)
    assert (m["hops"], m["successful_hops"], m["refused_hops"]) == (5, 4, 1)
    assert m["total_cost_usd"] == pytest.approx(0.010)
    assert m["baseline_cost_usd"] == pytest.approx(0.04)
    assert m["saving_ratio"] == pytest.approx(0.75)
    assert m["cost_per_successful_hop_usd"] == pytest.approx(0.0025)
    assert (m["escalation_rate"], m["fallback_rate"], m["failure_rate"]) == (
        0.2,
        0.2,
        0.2,
    )
    assert m["by_tier"]["large"] == {
        "hops": 2,
        "hop_share": 0.4,
        "cost_usd": pytest.approx(0.006),
        "cost_share": pytest.approx(0.6),
    }
    assert list(m["by_model"])[0] == "b:large"  # dearest first
    lat = m["latency_ms"]["general/small -> a:small"]
    assert (lat["n"], lat["p50"]) == (2, 20.0)
    assert 20.0 < lat["p95"] <= 30.0


def test_empty_run() -> None:
    m = routing_report([])
    assert (
        m["hops"] == 0
        and m["cost_per_successful_hop_usd"] is None
        and m["saving_ratio"] == 0
    )


def test_circuits_show_each_models_latest_breaker_state() -> None:
    opened = CircuitFact(
        model="a:small",
        state="open",
        failures=10,
        calls=12,
        opened_at="2026-11-23T14:00:00+00:00",
        probe_at="2026-11-23T14:00:30+00:00",
        last_error="RateLimitError (429)",
    )
    records = [
        hop(
            "a:small",
            "small",
            "0",
            error="x",
            circuits=(
                replace(
                    opened, state="closed", failures=1, opened_at=None, probe_at=None
                ),
            ),
        ),  # fmt: skip
        hop("a:small", "small", "0", error="x", circuits=(opened,)),
        hop("b:large", "large", "0.01", circuits=(opened,)),  # a skipped, b fine
    ]
    m = routing_report(records)
    assert m["circuits"] == {"a:small": {**opened.as_dict(), "seen_at_step": "s"}}
    # a later successful call of a model whose circuit had closed again
    records.append(hop("a:small", "small", "0.001"))
    assert routing_report(records)["circuits"]["a:small"]["state"] == "closed"


def test_circuit_facts_survive_the_checkpoint_round_trip() -> None:
    fact = CircuitFact(model="a:small", state="half_open", failures=3, calls=5)
    record = hop("a:small", "small", "0", circuits=(fact,))
    assert HopRecord.from_dict(record.as_dict()) == record
    old = {k: v for k, v in record.as_dict().items() if k != "circuits"}
    assert HopRecord.from_dict(old).circuits == ()  # written before circuits
