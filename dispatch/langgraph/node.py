"""A specialist as a LangGraph node, and the channel writes of a specialist run.

LangGraph keeps a node's write to a key only if the graph has a channel of that
name; it drops the others without a word. A routed node's ``pins`` and ``hops``
must not vanish that way (the conversation would lose its pinned models), so:

* the node declares `RoutedNodeInput` as its input schema (the type hint of
  `RoutedNode.__call__`, which ``add_node`` reads), and LangGraph adds the
  `DispatchState` channels to a graph whose own state lacks them;
* should the graph still lack one (an ``input_schema=`` given to ``add_node``
  that leaves them out, a wrapper around the node), the node refuses to run
  with a `ConfigError` before any hop, rather than lose what it writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph._internal._runnable import RunnableCallable

from dispatch.budget import BudgetDict, Ledger
from dispatch.dispatcher import Dispatcher
from dispatch.errors import ConfigError
from dispatch.langgraph.context import run_ledger
from dispatch.langgraph.state import RoutedNodeInput
from dispatch.records import HopRecord
from dispatch.specialist import Specialist, SpecialistRun

__all__ = ("RoutedNode", "budget_delta", "routed_node", "state_update")

_CHANNELS = ("hops", "pins", "budget")
"""The `DispatchState` channels a routed node writes."""


def budget_delta(ledger: Ledger, records: Sequence[HopRecord]) -> BudgetDict:
    """The ``budget`` channel write of a node: its own hops' spend and refusals
    (the `merge_budget` reducer adds the deltas of parallel branches)."""
    delta = ledger.snapshot()
    delta["spent_usd"] = str(sum((r.cost_usd for r in records), Decimal(0)))
    delta["reserved_usd"] = "0"
    delta["refused"] = sum(r.refused for r in records)
    return delta


def state_update(run: SpecialistRun, ledger: Ledger | None = None) -> dict[str, Any]:
    """The ``hops`` / ``pins`` (and, with a ledger, ``budget``) channel writes."""
    update: dict[str, Any] = {
        "hops": [r.as_dict() for r in run.records],
        "pins": run.pins,
    }
    if ledger is not None:
        update["budget"] = budget_delta(ledger, run.records)
    return update


def _node_update(
    specialist: Specialist, run: SpecialistRun, ledger: Ledger
) -> dict[str, Any]:
    new = list(run.messages)
    if run.error is not None:
        new.append(AIMessage(content=f"[{specialist.name} failed: {run.error}]"))
    return {"messages": new, **state_update(run, ledger)}


class RoutedNode(RunnableCallable):
    """The runnable `routed_node` returns; its input schema is `RoutedNodeInput`."""

    def __call__(
        self, state: RoutedNodeInput, config: RunnableConfig | None = None
    ) -> dict[str, Any]:
        """Run the node synchronously (``invoke``). The type hint of `state` is
        what ``StateGraph.add_node`` reads as the node's input schema."""
        result: dict[str, Any] = self.invoke(state, config)
        return result


def routed_node(dispatcher: Dispatcher, specialist: Specialist) -> RoutedNode:
    """A LangGraph node running `specialist` on ``state["messages"]``.

    One runnable with a sync and an async body: ``invoke`` uses the providers'
    sync clients, ``ainvoke``/``astream`` their async ones. It reads
    ``messages``, ``pins`` and ``budget``; its input schema (`RoutedNodeInput`)
    adds the `DispatchState` channels to a graph whose state lacks them. A
    failed hop is recorded and reported as an AI message saying the specialist
    failed, so the graph keeps every other branch's result.

    Raises:
        TypeError: `dispatcher` or `specialist` is of another type.
        ConfigError: the specialist's capability is not in the registry; when
            the node runs, its input has no ``messages`` (it would route an
            empty conversation), or the graph running it has no ``hops`` /
            ``pins`` / ``budget`` channel (its writes there would be dropped).
    """
    if not isinstance(dispatcher, Dispatcher):
        raise TypeError(
            f"routed_node: dispatcher must be a Dispatcher, "
            f"got {type(dispatcher).__name__}"
        )
    if not isinstance(specialist, Specialist):
        raise TypeError(
            f"routed_node: specialist must be a Specialist, "
            f"got {type(specialist).__name__}"
        )
    dispatcher.registry.check_hints(
        f"Specialist {specialist.name!r}", capability=specialist.capability
    )

    def routed(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        _check_state(specialist.name, state)
        _check_channels(specialist.name, config)
        ledger = run_ledger(dispatcher, config, state)
        run = dispatcher.run_specialist(
            specialist,
            state.get("messages", []),
            pins=state.get("pins"),
            step=specialist.name,
            ledger=ledger,
        )
        return _node_update(specialist, run, ledger)

    async def arouted(
        state: Mapping[str, Any], config: RunnableConfig
    ) -> dict[str, Any]:
        _check_state(specialist.name, state)
        _check_channels(specialist.name, config)
        ledger = run_ledger(dispatcher, config, state)
        run = await dispatcher.arun_specialist(
            specialist,
            state.get("messages", []),
            pins=state.get("pins"),
            step=specialist.name,
            ledger=ledger,
        )
        return _node_update(specialist, run, ledger)

    return RoutedNode(routed, arouted, name=specialist.name)


def _check_state(node: str, state: object) -> None:
    """The node's input has the conversation it routes. (Whether the graph has
    the `DispatchState` channels is `_check_channels`'s question: a ``Send``
    hands a node its own payload, not the graph's state.)"""
    if not isinstance(state, Mapping):
        raise ConfigError(
            f"routed_node {node!r}: the graph state must be a mapping (a TypedDict "
            f"state), found {type(state).__name__}"
        )
    if "messages" not in state:
        raise ConfigError(
            f"routed_node {node!r}: its input has no 'messages' to route (build "
            "the graph on MessagesState; a Send to it must carry messages too)"
        )


def _check_channels(node: str, config: RunnableConfig | None) -> None:
    """The graph running the node has a channel for each of its writes.

    Asked of the read function LangGraph gives every task (``__pregel_read``,
    which conditional edges use; it raises `KeyError` for a name that is not a
    channel of the graph). It sees the graph's channels whichever input the
    node got, a ``Send`` payload too. Outside a graph run, or should LangGraph
    change that function, nothing can be told and nothing is refused.
    """
    read = ((config or {}).get("configurable") or {}).get("__pregel_read")
    if not callable(read):
        return
    missing = []
    for channel in _CHANNELS:
        try:
            read(channel)
        except KeyError:
            missing.append(channel)
        except Exception:  # another LangGraph's read: the check cannot be made
            return
    if missing:
        names = ", ".join(repr(c) for c in missing)
        noun = "channel" if len(missing) == 1 else "channels"
        raise ConfigError(
            f"routed_node {node!r}: the graph has no {names} {noun}, so the "
            "node's hop records and pins would be dropped; add DispatchState's "
            "fields to your state (class State(MessagesState, DispatchState)), "
            "or give add_node an input_schema that includes them (RoutedNodeInput)"
        )
