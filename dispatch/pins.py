"""Pin state: the model chosen per specialist within one conversation.

Pins live in the graph state as a channel with the `merge_pins` reducer, so any
LangGraph checkpointer persists them with the thread. Values are JSON-safe dicts
(checkpoint serializers round-trip them without registering classes).

A pin's scope is (specialist, tier), keyed ``"coding@small"``: consistency
within a conversation must not lock it into its dearest tier, so a specialist
that once needed the large model goes back to its small pin for small hops.
Inside one tool loop every call stays on the loop's model (`dispatch.hop.pin_for`).

Pins come back from outside: a caller's input to ``graph.invoke``, a checkpoint,
a LangGraph API client. `pins_of` reads a malformed entry as a `RejectedPin`
(it never raises for one entry, so one bad entry cannot break the others), and
`dispatch.pin_screening.screened_pins` drops, before the policy sees them, the
pins a hop may not use, saying why; the hop's record carries the reason.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass

from typing_extensions import TypedDict

from dispatch.errors import ConfigError
from dispatch.types import Pin

__all__ = (
    "MAX_PIN_TEXT",
    "PinDict",
    "PinState",
    "RejectedPin",
    "merge_pins",
    "pin_from_dict",
    "pin_key",
    "pin_to_dict",
    "pins_of",
)

_DC = {"frozen": True, "slots": True, "kw_only": True}
"""As for `Pin` (`dispatch.types`): frozen, slotted, keyword-only."""

MAX_PIN_TEXT = 1_000
"""Longest model id, tier, reason or ``repinned_from`` a usable pin may have
(the pins graph-dispatch writes stay far below; a kept pin's reason is copied
onto every hop record and span of its scope)."""


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


@dataclass(**_DC)
class RejectedPin(Pin):
    """A pins entry (or the tool loop's record) read from state that is not a pin.

    It stands where the entry was, so the hop that would have used it drops it
    and records `problem` (see `screened_pins`); hops of other scopes never
    look at it, and the hop's new pin replaces it in the channel.
    """

    problem: str = "not a pin"
    """What is wrong and where, e.g. ``pins['coding@small']: found NoneType,
    expected a pin``."""


def merge_pins(
    left: Mapping[str, PinDict] | None, right: Mapping[str, PinDict] | None
) -> PinState:
    """Reducer: later writes replace earlier pins key by key; others are kept.

    Parallel branches that pin different specialists in one step therefore
    both land, and a branch never erases a pin it did not touch. Either side
    may be None (a channel not yet written).

    Raises:
        ConfigError: a side is not a mapping (a write of ``"pins": [...]``,
            say); malformed entries are kept for `pins_of` to reject.
    """
    for side in (left, right):
        if side is not None and not isinstance(side, Mapping):
            raise ConfigError(
                f"pins: found {type(side).__name__}, expected a mapping of "
                "'specialist@tier' to pins"
            )
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

    An entry that is not what `pin_to_dict` writes (hand-edited or foreign
    state) becomes a `RejectedPin` naming the key and field, dropped with that
    reason by the hop of its scope. Entries no hop can look up (a key that is
    not a string; a bare specialist key without a tier) are left out.

    Raises:
        ConfigError: the channel itself is not a mapping.
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
        if not isinstance(key, str) or not key:
            continue
        pin = _checked_pin(key, value)
        if "@" in key:
            out[key] = pin
        elif pin.tier:
            out[pin_key(key, pin.tier)] = pin
    return out


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist = 2, 4, 4
_SHORT.maxstring, _SHORT.maxother = 60, 60


def _shown(value: object) -> str:
    """`value` for a reason: a bounded repr (state may hold anything, any size)."""
    return _SHORT.repr(value)


def _checked_pin(key: str, value: object) -> Pin:
    """One pins entry as a `Pin`, or a `RejectedPin` saying what is wrong."""
    problem = _entry_problem(value)
    if problem is None:
        assert isinstance(value, Mapping)  # _entry_problem checked it
        return Pin(
            model=value["model"],
            tier=value["tier"],
            reason=value.get("reason", ""),
            repinned_from=value.get("repinned_from"),
        )
    tier = value.get("tier") if isinstance(value, Mapping) else None
    return RejectedPin(
        model="",
        tier=tier if isinstance(tier, str) else "",
        reason="",
        problem=f"pins[{_shown(key)}]{problem}",
    )


def _entry_problem(value: object) -> str | None:
    """What makes `value` not a pin (``": ..."`` or ``".field: ..."``), or None."""
    if not isinstance(value, Mapping):
        return f": found {type(value).__name__}, expected a pin"
    for name in ("model", "tier"):
        field = value.get(name)
        if not isinstance(field, str) or not field:
            return f".{name}: found {_shown(field)}, expected a non-empty string"
    reason, previous = value.get("reason", ""), value.get("repinned_from")
    if not isinstance(reason, str):
        return f".reason: found {_shown(reason)}, expected a string"
    if previous is not None and not isinstance(previous, str):
        return f".repinned_from: found {_shown(previous)}, expected a string"
    return None
