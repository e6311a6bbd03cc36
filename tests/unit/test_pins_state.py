from __future__ import annotations

import re
from decimal import Decimal

import pytest

from dispatch import HopRecord, PinChange, hop_records
from dispatch.errors import ConfigError
from dispatch.langgraph import add_hops
from dispatch.pins import (
    PinDict,
    RejectedPin,
    merge_pins,
    pin_from_dict,
    pin_to_dict,
    pins_of,
)
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
    ("entry", "problem"),
    [
        ({"model": "m"}, r"pins\['general@small'\]\.tier: found None"),
        (None, r"pins\['general@small'\]: found NoneType, expected a pin"),
        ("m", r"found str, expected a pin"),
        ({"model": ["m"], "tier": "small"}, r"\.model: found \['m'\]"),
        ({"model": "m", "tier": "small", "repinned_from": 5}, r"repinned_from"),
        ({"model": "m", "tier": ["t" * 10_000]}, r"\.tier: found \['t+\.\.\.t+'\]"),
    ],
)
def test_a_malformed_pin_entry_is_read_as_rejected_not_raised(
    entry: object, problem: str
) -> None:
    good = pin_to_dict(Pin(model="m2", tier="small", reason="r"))
    pins = pins_of({"general@small": entry, "coder@small": good})  # type: ignore[dict-item]
    rejected = pins["general@small"]
    assert isinstance(rejected, RejectedPin)
    assert re.search(problem, rejected.problem)
    assert len(rejected.problem) < 200  # the value is shown cut short
    assert pins["coder@small"] == pin_from_dict(good)  # the others are unharmed


def test_a_pins_channel_that_is_not_a_mapping_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"pins: found list, expected a mapping"):
        pins_of(["general@small"])  # type: ignore[arg-type]


@pytest.mark.parametrize("write", [["coder@small"], "coder@small", 5])
def test_merge_pins_refuses_a_write_that_is_not_a_mapping(write: object) -> None:
    with pytest.raises(ConfigError, match=r"^pins: found \w+, expected a mapping"):
        merge_pins({"a": pin("m1")}, write)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (5, r"^hops: found int, expected a list of hop records"),
        ("abc", r"^hops: found str, expected a list"),
        (
            [{"step": "s"}, "x"],
            r"^hops\[1\] of a write: found str, expected a hop record",
        ),
    ],
)
def test_add_hops_refuses_a_write_that_is_not_a_list_of_records(
    write: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        add_hops([], write)  # type: ignore[arg-type]


def test_hop_records_name_the_entry_that_is_not_a_record() -> None:
    with pytest.raises(ConfigError, match=r"^hops\[0\]: not a hop record \(missing"):
        hop_records({"hops": [{"step": "s"}]})


def test_well_formed_pins_load_with_legacy_keys() -> None:
    pins = pins_of(
        {
            "coder": pin("m1"),
            "writer@large": pin_to_dict(Pin(model="m2", tier="large", reason="r")),
        }
    )
    assert set(pins) == {"coder@small", "writer@large"}
