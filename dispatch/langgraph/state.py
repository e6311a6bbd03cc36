"""Graph-state channels graph-dispatch writes: hop records and pins.

Mix `DispatchState` into your own state so a routed node can write to it::

    class State(MessagesState, DispatchState):
        pass

A `routed_node` declares `RoutedNodeInput` as its input schema, so LangGraph adds
these channels to a graph whose own state lacks them (their writes would
otherwise be dropped without a word).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from typing_extensions import TypedDict

from dispatch.budget import BudgetDict, merge_budget
from dispatch.errors import ConfigError
from dispatch.pins import PinState, merge_pins
from dispatch.records import HopRecord, HopRecordDict, record_from_state

__all__ = ("DispatchState", "RoutedNodeInput", "add_hops", "hop_records")


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


class RoutedNodeInput(DispatchState, total=False):
    """What a routed node reads: the conversation plus the `DispatchState` channels.

    As a node's input schema it makes `StateGraph.add_node` add the ``hops`` /
    ``pins`` / ``budget`` channels, with their reducers, to any graph. A graph
    whose own state already has them is unchanged.
    """

    messages: list[AnyMessage]
    """The conversation. No reducer here on purpose: LangGraph keeps the graph's
    own ``messages`` channel (``add_messages`` on `MessagesState`) over a plain one."""


def hop_records(
    state: DispatchState | Mapping[str, Any] | Sequence[HopRecordDict],
) -> list[HopRecord]:
    """The `HopRecord`s of a state (or of its ``hops`` list).

    Raises:
        ConfigError: an entry is not a hop record; it names the index.
    """
    hops = state.get("hops", []) if isinstance(state, Mapping) else state
    return [record_from_state(h, f"hops[{i}]") for i, h in enumerate(hops)]
