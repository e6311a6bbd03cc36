"""graph-dispatch inside LangGraph: routed nodes, state channels, run budgets, resume.

* `DispatchState`: the ``hops`` / ``pins`` / ``budget`` channels (mix into your state).
* `routed_node`: a node running a specialist on ``messages``; its input schema
  (`RoutedNodeInput`) adds the `DispatchState` channels to a graph that lacks them.
* `DispatchContext`: a run's budget, passed as LangGraph run context
  (``graph.invoke(input, config, context=DispatchContext(budget_usd=1))``) or,
  through ``langgraph dev``, as the run's ``context``.
* `run_ledger`: the ledger of the run a node belongs to.
* `resume` / `aresume`: continue an interrupted run, charging the same budget.
"""

from __future__ import annotations

from dispatch.langgraph.context import DispatchContext, new_workflow, run_ledger
from dispatch.langgraph.node import routed_node, state_update
from dispatch.langgraph.resume import aresume, resume
from dispatch.langgraph.state import (
    DispatchState,
    RoutedNodeInput,
    add_hops,
    hop_records,
)

__all__ = (
    "DispatchContext",
    "DispatchState",
    "RoutedNodeInput",
    "add_hops",
    "aresume",
    "hop_records",
    "new_workflow",
    "resume",
    "routed_node",
    "run_ledger",
    "state_update",
)
