"""Pin state: the model chosen per specialist within one conversation.

Pins live in the graph state as a channel with the `merge_pins` reducer, so any
LangGraph checkpointer persists them with the thread. Values are JSON-safe dicts
(checkpoint serializers round-trip them without registering classes).
"""

from __future__ import annotations

from collections.abc import Mapping

from typing_extensions import TypedDict

from dispatch.types import Pin

__all__ = ("PinDict", "PinState", "merge_pins", "pin_from_dict", "pin_to_dict")


class PinDict(TypedDict):
    """JSON-safe form of a `Pin`."""

    model: str
    tier: str
    reason: str
    repinned_from: str | None


PinState = dict[str, PinDict]
"""Specialist name -> its pin, for one conversation (one LangGraph thread)."""


def merge_pins(
    left: Mapping[str, PinDict] | None, right: Mapping[str, PinDict] | None
) -> PinState:
    """Reducer: later writes replace earlier pins key by key; others are kept."""
    merged: PinState = dict(left or {})
    merged.update(right or {})
    return merged


def pin_to_dict(pin: Pin) -> PinDict:
    """`Pin` -> state value."""
    return PinDict(
        model=pin.model,
        tier=pin.tier,
        reason=pin.reason,
        repinned_from=pin.repinned_from,
    )


def pin_from_dict(d: PinDict) -> Pin:
    """State value -> `Pin`."""
    return Pin(
        model=d["model"],
        tier=d["tier"],
        reason=d["reason"],
        repinned_from=d.get("repinned_from"),
    )
