"""Pin state: the model chosen per specialist within one conversation.

Pins live in the graph state as a channel with the `merge_pins` reducer, so any
LangGraph checkpointer persists them with the thread. Values are JSON-safe dicts
(checkpoint serializers round-trip them without registering classes).

A pin's scope is (specialist, tier), keyed ``"coding@small"``: consistency
within a conversation must not lock it into its dearest tier, so a specialist
that once needed the large model goes back to its small pin for small hops.
Inside one tool loop every call stays on the loop's model (`dispatch.hop.pin_for`).
"""

from __future__ import annotations

from collections.abc import Mapping

from typing_extensions import TypedDict

from dispatch.errors import ConfigError
from dispatch.types import Pin

__all__ = (
    "PinDict",
    "PinState",
    "merge_pins",
    "pin_from_dict",
    "pin_key",
    "pin_to_dict",
    "pins_of",
)


def pin_key(specialist: str, tier: str) -> str:
    """The pins key of (specialist, tier), e.g. ``"coding@small"``."""
    return f"{specialist}@{tier}"


class PinDict(TypedDict):
    """JSON-safe form of a `Pin`."""

    model: str
    tier: str
    reason: str
    repinned_from: str | None


PinState = dict[str, PinDict]
"""`pin_key` (``specialist@tier``) -> its pin, for one conversation (one
LangGraph thread). Older checkpoints may hold bare specialist keys; read
them through `pins_of`."""


def merge_pins(
    left: Mapping[str, PinDict] | None, right: Mapping[str, PinDict] | None
) -> PinState:
    """Reducer: later writes replace earlier pins key by key; others are kept.

    Parallel branches that pin different specialists in one step therefore
    both land, and a branch never erases a pin it did not touch. Either side
    may be None (a channel not yet written).
    """
    merged: PinState = dict(left or {})
    merged.update(right or {})
    return merged


def pin_to_dict(pin: Pin) -> PinDict:
    """`Pin` -> state value (a plain dict the checkpoint serializer stores)."""
    return PinDict(
        model=pin.model,
        tier=pin.tier,
        reason=pin.reason,
        repinned_from=pin.repinned_from,
    )


def pin_from_dict(d: PinDict) -> Pin:
    """State value -> `Pin`; a missing ``repinned_from`` (older state) is None."""
    return Pin(
        model=d["model"],
        tier=d["tier"],
        reason=d["reason"],
        repinned_from=d.get("repinned_from"),
    )


def pins_of(state: Mapping[str, PinDict] | None) -> dict[str, Pin]:
    """A pins channel as `Pin`s by scope; pins saved before scopes had tiers
    (keyed by the specialist alone) count for their own tier.

    Raises:
        ConfigError: the channel or one of its pins is not what `pin_to_dict`
            writes (hand-edited or foreign state); it names the key and field.
    """
    if state is None:
        return {}
    if not isinstance(state, Mapping):
        raise ConfigError(
            f"pins: found {type(state).__name__}, expected a mapping of "
            "'specialist@tier' to pins"
        )
    out: dict[str, Pin] = {}
    for key, value in state.items():
        pin = _checked_pin(key, value)
        out[key if "@" in key else pin_key(key, pin.tier)] = pin
    return out


def _checked_pin(key: object, value: object) -> Pin:
    """One pins entry as a `Pin`, or a `ConfigError` naming what is wrong."""
    where = f"pins[{key!r}]"
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{where}: a pin's key must be 'specialist@tier'")
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: found {type(value).__name__}, expected a pin")
    for name in ("model", "tier"):
        field = value.get(name)
        if not isinstance(field, str) or not field:
            raise ConfigError(
                f"{where}.{name}: found {field!r}, expected a non-empty string"
            )
    reason, previous = value.get("reason", ""), value.get("repinned_from")
    if not isinstance(reason, str):
        raise ConfigError(f"{where}.reason: found {reason!r}, expected a string")
    if previous is not None and not isinstance(previous, str):
        raise ConfigError(
            f"{where}.repinned_from: found {previous!r}, expected a string"
        )
    return Pin(
        model=value["model"], tier=value["tier"], reason=reason, repinned_from=previous
    )
