"""Pins read back from state are screened before a hop uses them
(`dispatch.pin_screening.screened_pins`): state is input, so a pin must be one the hop
could have made itself, and a bad one is dropped with a reason, not raised."""

from __future__ import annotations

from collections.abc import Mapping

from conftest import SMALL_REGISTRY, registry_from_text

from dispatch.hop import pin_for
from dispatch.pin_screening import screened_pins
from dispatch.pins import MAX_PIN_TEXT, RejectedPin, pins_of
from dispatch.types import Hop, Pin, RouteDecision, RouterLayer

REGISTRY = registry_from_text(SMALL_REGISTRY)
HOP = Hop(specialist="w", prompt="p", step="t1", input_tokens=100, max_output_tokens=50)


def routed(tier: str) -> RouteDecision:
    return RouteDecision(
        capability="general",
        tier=tier,
        confidence=1.0,
        router=RouterLayer.FIXED,
        reason="fixed",
    )


def screen(
    pins: Mapping[str, Pin], loop_pin: Pin | None = None, tier: str = "small"
) -> tuple[Mapping[str, Pin], Pin | None, str]:
    return screened_pins(HOP, routed(tier), pins, loop_pin, REGISTRY)


def test_valid_pins_pass_untouched() -> None:
    pins = {
        "w@small": Pin(model="tiny:model", tier="small", reason="r"),
        # a soft budget's downgrade leaves a lower tier under the higher scope
        "w@large": Pin(model="tiny:model", tier="small", reason="budget"),
        "other@small": RejectedPin(model="", tier="", reason="", problem="bad"),
    }
    for tier in ("small", "large"):
        assert screen(pins, tier=tier) == (pins, None, "")


def test_a_pin_whose_tier_is_above_its_scope_is_dropped_with_the_reason() -> None:
    forged = Pin(model="tiny:model", tier="large", reason="r")
    other = Pin(model="mid:model", tier="medium", reason="r")
    usable, _, why = screen({"w@small": forged, "w@medium": other})
    assert usable == {"w@medium": other}  # the other scope's pin is kept
    assert (
        why
        == "pin 'w@small' ignored: its tier 'large' is above its scope's tier 'small'"
    )


def test_a_rejected_entry_is_dropped_with_its_problem() -> None:
    pins = pins_of({"w@small": None})  # type: ignore[dict-item]
    usable, _, why = screen(pins)
    assert usable == {}
    assert (
        why == "pin 'w@small' ignored: pins['w@small']: found NoneType, expected a pin"
    )


def test_a_pin_at_an_unknown_tier_or_oversized_is_dropped() -> None:
    unknown = Pin(model="tiny:model", tier="huge", reason="r")
    assert (
        "its tier 'huge' is not one of small, medium, large"
        in screen({"w@small": unknown})[2]
    )
    long_reason = Pin(model="tiny:model", tier="small", reason="x" * (MAX_PIN_TEXT + 1))
    assert screen({"w@small": long_reason})[2] == (
        f"pin 'w@small' ignored: its reason has {MAX_PIN_TEXT + 1} characters "
        f"(at most {MAX_PIN_TEXT})"
    )
    at_limit = Pin(model="tiny:model", tier="small", reason="x" * MAX_PIN_TEXT)
    assert screen({"w@small": at_limit})[2] == ""


def test_a_tool_loop_pin_cannot_lift_a_hop_onto_a_tier_its_model_cannot_serve() -> None:
    # tiny:model's general quality (0.6) is below the large bar (0.85): live, no
    # loop ever starts there; forged, pin_for would move the hop to large and
    # the policy would escalate to big:model.
    forged = Pin(model="tiny:model", tier="large", reason="r")
    scope_pin = Pin(model="tiny:model", tier="small", reason="r")
    usable, loop, why = screen({"w@small": scope_pin}, forged)
    assert loop is None and usable == {"w@small": scope_pin}
    assert why.startswith(
        "tool-loop pin ignored: tiny:model at large, above the routed tier 'small', "
        "cannot serve this hop (escalated from tiny:model: below the large bar"
    )
    decision, scope, pin = pin_for(HOP, routed("small"), usable, loop, REGISTRY)
    assert (decision.tier, scope, pin) == ("small", "w@small", scope_pin)


def test_a_tool_loop_pin_naming_an_unregistered_model_or_tier_is_dropped() -> None:
    for loop, why in [
        (
            Pin(model="gone:model", tier="large", reason="r"),
            "'gone:model' is not registered",
        ),
        (
            Pin(model="big:model", tier="huge", reason="r"),
            "its tier 'huge' is not one of",
        ),
        (
            RejectedPin(model="", tier="", reason="", problem="hops[0]: bad"),
            "hops[0]: bad",
        ),
    ]:
        _, kept, text = screen({}, loop)
        assert kept is None
        assert text.startswith(f"tool-loop pin ignored: {why}")


def test_a_tool_loop_pin_the_hop_could_keep_holds_the_loop_on_its_tier() -> None:
    # the loop semantics for valid state: the follow-up stays on the loop's model,
    # above the routed tier when the model serves the hop there
    loop = Pin(model="big:model", tier="large", reason="r")
    assert screen({}, loop) == ({}, loop, "")
    # at or below the routed tier the loop's own rules apply unchanged, even
    # when its model can no longer serve (the policy then re-pins within the tier)
    big_input = Hop(
        specialist="w", prompt="p", input_tokens=9_000, max_output_tokens=50
    )
    small_loop = Pin(model="tiny:model", tier="small", reason="r")  # 8,000 window
    assert screened_pins(big_input, routed("large"), {}, small_loop, REGISTRY) == (
        {},
        small_loop,
        "",
    )


def test_a_tool_loop_pin_too_small_for_the_hop_cannot_lift_it() -> None:
    # mid:model meets the medium bar but cannot hold 150,000 input tokens
    hop = Hop(specialist="w", prompt="p", input_tokens=150_000, max_output_tokens=50)
    loop = Pin(model="mid:model", tier="medium", reason="r")
    _, kept, why = screened_pins(hop, routed("small"), {}, loop, REGISTRY)
    assert kept is None and "above the routed tier 'small'" in why
