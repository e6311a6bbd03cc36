"""Which pins a hop may use: the pins state holds, checked against the registry
and the policy before `dispatch.hop.pin_for` picks one.

Pins arrive from state anyone may write (a graph's input, a checkpoint, an
API client); `dispatch.pins` reads them without judging them, this module
drops the one a hop would use when it could lift the hop onto a model the
routing would not give it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dispatch.errors import NoEligibleModel
from dispatch.pins import MAX_PIN_TEXT, RejectedPin, _shown, pin_key
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.types import Hop, Pin, PinChange, RouteDecision

__all__ = ("screened_pins",)


def screened_pins(
    hop: Hop,
    decision: RouteDecision,
    pins: Mapping[str, Pin],
    loop_pin: Pin | None,
    registry: Registry,
) -> tuple[Mapping[str, Pin], Pin | None, str]:
    """The pins `hop` may use, and why one it would have used was dropped.

    Pins arrive from state anyone may write, so before `dispatch.hop.pin_for`
    picks the hop's pin, the one it would pick is checked; the others are
    returned untouched. A dropped pin leaves the hop to the policy as if it
    had none, and the third value says why (empty when nothing was dropped).

    * The tool loop's pin (which moves the hop to the loop's tier) must name
      a registered model at a known tier, within `MAX_PIN_TEXT`; and it may
      lift the hop above the tier the router chose only when the policy would
      keep its model there for this hop (capability and bar, context window,
      privacy), as it did for the loop's first call. Otherwise a forged tier
      would send the hop to the dearest model of that tier.
    * The pin of the hop's scope (``specialist@tier``) must be well formed
      (not a `RejectedPin`), within `MAX_PIN_TEXT`, at a known tier no higher
      than its scope's: a pin written for a scope never holds a higher tier,
      and a kept pin's tier becomes the tool loop's. Whether its model serves
      the hop (registered, eligible, within budget) is the policy's to decide,
      as for any pin (`dispatch.policy.select`).
    """
    notes: list[str] = []
    if loop_pin is not None:
        why = _loop_pin_problem(loop_pin, hop, decision, registry)
        if why is None:
            return pins, loop_pin, ""  # pin_for uses the loop's pin and scope
        notes.append(f"tool-loop pin ignored: {why}")
        loop_pin = None
    scope = pin_key(hop.specialist, decision.tier)
    pin = pins.get(scope)
    if pin is not None:
        why = _scope_pin_problem(pin, decision.tier, registry)
        if why is not None:
            notes.append(f"pin {_shown(scope)} ignored: {why}")
            pins = {k: v for k, v in pins.items() if k != scope}
    return pins, loop_pin, "; ".join(notes)


def _pin_text_problem(pin: Pin, registry: Registry) -> str | None:
    """A rejected entry's problem, an oversized field or an unknown tier."""
    if isinstance(pin, RejectedPin):
        return pin.problem
    for name in ("model", "tier", "reason", "repinned_from"):
        value = getattr(pin, name)
        if isinstance(value, str) and len(value) > MAX_PIN_TEXT:
            return f"its {name} has {len(value)} characters (at most {MAX_PIN_TEXT})"
    if pin.tier not in registry.tiers:
        return f"its tier {_shown(pin.tier)} is not one of {', '.join(registry.tiers)}"
    return None


def _scope_pin_problem(pin: Pin, scope_tier: str, registry: Registry) -> str | None:
    why = _pin_text_problem(pin, registry)
    if why is not None:
        return why
    if scope_tier in registry.tiers and registry.tier_rank(
        pin.tier
    ) > registry.tier_rank(scope_tier):
        return f"its tier {pin.tier!r} is above its scope's tier {scope_tier!r}"
    return None


def _loop_pin_problem(
    pin: Pin, hop: Hop, decision: RouteDecision, registry: Registry
) -> str | None:
    why = _pin_text_problem(pin, registry)
    if why is not None:
        return why
    if pin.model not in registry:
        return f"{_shown(pin.model)} is not registered"
    routed = decision.tier
    if routed in registry.tiers and registry.tier_rank(pin.tier) <= registry.tier_rank(
        routed
    ):
        return None  # not above the routed tier: the loop's own rules apply
    above = f"{pin.model} at {pin.tier}, above the routed tier {routed!r},"
    try:
        choice = select(replace(decision, tier=pin.tier), hop, registry, pin=pin)
    except NoEligibleModel as exc:
        return f"{above} cannot serve this hop ({exc})"
    if choice.pin_change is PinChange.KEPT:
        return None
    return f"{above} cannot serve this hop ({choice.reason})"
