"""A specialist as a LangGraph node, and the channel writes of a specialist run."""

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
from dispatch.records import HopRecord
from dispatch.specialist import Specialist, SpecialistRun

__all__ = ("budget_delta", "routed_node", "state_update")


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


def routed_node(dispatcher: Dispatcher, specialist: Specialist) -> RunnableCallable:
    """A LangGraph node running `specialist` on ``state["messages"]``.

    One runnable with a sync and an async body: ``invoke`` uses the providers'
    sync clients, ``ainvoke``/``astream`` their async ones. The state needs
    ``messages`` plus the `DispatchState` channels. A failed hop is recorded
    and reported as an AI message saying the specialist failed, so the graph
    keeps every other branch's result.

    Raises:
        TypeError: `dispatcher` or `specialist` is of another type.
        ConfigError: the specialist's capability is not in the registry; when
            the node runs, its input has no ``messages`` (it would route an
            empty conversation).
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
        ledger = run_ledger(dispatcher, config, state)
        run = await dispatcher.arun_specialist(
            specialist,
            state.get("messages", []),
            pins=state.get("pins"),
            step=specialist.name,
            ledger=ledger,
        )
        return _node_update(specialist, run, ledger)

    return RunnableCallable(routed, arouted, name=specialist.name)


def _check_state(node: str, state: object) -> None:
    """The node's input has the conversation it routes. (Whether the graph has
    the `DispatchState` channels cannot be told here: a ``Send`` hands a node
    its own payload, not the graph's state.)"""
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
