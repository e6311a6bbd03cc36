from __future__ import annotations

from decimal import Decimal

from dispatch import HopRecord, PinChange, hop_records
from dispatch.langgraph import add_hops
from dispatch.pins import PinDict, merge_pins, pin_from_dict, pin_to_dict
from dispatch.types import Pin


def pin(model: str) -> PinDict:
    return pin_to_dict(Pin(model=model, tier="small", reason="r"))


def test_merge_pins_replaces_per_key_and_keeps_others() -> None:
    merged = merge_pins({"a": pin("m1"), "b": pin("m2")}, {"b": pin("m3")})
    assert {k: v["model"] for k, v in merged.items()} == {"a": "m1", "b": "m3"}
    assert merge_pins(None, None) == {}


def test_pin_round_trips_through_state_form() -> None:
    p = Pin(model="m", tier="large", reason="escalated", repinned_from="old")
    assert pin_from_dict(pin_to_dict(p)) == p


def test_hop_records_round_trip_and_accumulate() -> None:
    record = HopRecord(
        step="t1",
        specialist="s",
        capability="c",
        tier="small",
        model="m:x",
        input_tokens=3,
        output_tokens=4,
        cost_usd=Decimal("0.0000031"),
        baseline_cost_usd=Decimal("0.0001"),
        pin_change=PinChange.NEW,
        router="rules",
        confidence=0.5,
        reason="r",
        duration_ms=1.0,
    )
    state = {"hops": add_hops(add_hops(None, [record.as_dict()]), [record.as_dict()])}
    assert hop_records(state) == [record, record]  # type: ignore[arg-type]
    assert record.as_dict()["cost_usd"] == "0.0000031"
