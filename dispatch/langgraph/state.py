"""Graph-state channels graph-dispatch writes: hop records and pins.

Mix `DispatchState` into your own state so `Dispatcher.node` can write to it::

    class State(MessagesState, DispatchState):
        pass
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from typing_extensions import TypedDict

from dispatch.budget import BudgetDict, merge_budget
from dispatch.errors import ConfigError
from dispatch.pins import PinState, merge_pins
from dispatch.records import HopRecord, HopRecordDict, record_from_state

__all__ = ("DispatchState", "add_hops", "hop_records")


def add_hops(
    left: Sequence[HopRecordDict] | None, right: Sequence[HopRecordDict] | None
) -> list[HopRecordDict]:
    """Reducer: hop records accumulate in arrival order.

    Raises:
        ConfigError: a side is not a list, or a write holds something other
            than a mapping (``"hops": 5`` in a graph's input, say).
    """
    for side in (left, right):
        if side is not None and (
            isinstance(side, str | bytes) or not isinstance(side, Sequence)
        ):
            raise ConfigError(
                f"hops: found {type(side).__name__}, expected a list of hop records"
            )
    for i, h in enumerate(right or ()):
        if not isinstance(h, Mapping):
            raise ConfigError(
                f"hops[{i}] of a write: found {type(h).__name__}, expected a hop record"
            )
    return [*(left or ()), *(right or ())]


class DispatchState(TypedDict, total=False):
    """The channels a routed node writes."""

    hops: Annotated[list[HopRecordDict], add_hops]
    """Every hop of the run (and of earlier turns on the same thread)."""
    pins: Annotated[PinState, merge_pins]
    """Specialist -> pinned model, for this conversation."""
    budget: Annotated[BudgetDict | None, merge_budget]
    """Settled spend and refusals of the current workflow (checkpointed)."""


def hop_records(
    state: DispatchState | Mapping[str, Any] | Sequence[HopRecordDict],
) -> list[HopRecord]:
    """The `HopRecord`s of a state (or of its ``hops`` list).

    Raises:
        ConfigError: an entry is not a hop record; it names the index.
    """
    hops = state.get("hops", []) if isinstance(state, Mapping) else state
    return [record_from_state(h, f"hops[{i}]") for i, h in enumerate(hops)]
