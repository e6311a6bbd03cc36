from __future__ import annotations

from decimal import Decimal

import pytest

from dispatch import HopRecord, PinChange, hop_records
from dispatch.errors import ConfigError
from dispatch.langgraph import add_hops
from dispatch.pins import PinDict, merge_pins, pin_from_dict, pin_to_dict, pins_of
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


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            {"general@small": {"model": "m"}},
            r"pins\['general@small'\]\.tier: found None",
        ),
        (
            {"general@small": None},
            r"pins\['general@small'\]: found NoneType, expected a pin",
        ),
        ({"general@small": "m"}, r"found str, expected a pin"),
        (
            {"general@small": {"model": ["m"], "tier": "small"}},
            r"\.model: found \['m'\]",
        ),
        (
            {"general@small": {"model": "m", "tier": "small", "repinned_from": 5}},
            r"repinned_from",
        ),
        (["general@small"], r"pins: found list, expected a mapping"),
    ],
)
def test_a_malformed_pins_channel_is_a_clear_error_not_a_crash(
    state: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        pins_of(state)  # type: ignore[arg-type]


def test_well_formed_pins_load_with_legacy_keys() -> None:
    pins = pins_of(
        {
            "coder": pin("m1"),
            "writer@large": pin_to_dict(Pin(model="m2", tier="large", reason="r")),
        }
    )
    assert set(pins) == {"coder@small", "writer@large"}
