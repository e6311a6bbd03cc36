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
from dispatch.pins import PinState, merge_pins
from dispatch.records import HopRecord, HopRecordDict

__all__ = ("DispatchState", "add_hops", "hop_records")


def add_hops(
    left: Sequence[HopRecordDict] | None, right: Sequence[HopRecordDict] | None
) -> list[HopRecordDict]:
    """Reducer: hop records accumulate in arrival order."""
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
    """The `HopRecord`s of a state (or of its ``hops`` list)."""
    hops = state.get("hops", []) if isinstance(state, Mapping) else state
    return [HopRecord.from_dict(h) for h in hops]
