"""Which budget a hop inside a LangGraph run charges.

A budget belongs to one *workflow*: one run of a graph for one request. Every
branch of the run shares its ledger; the next run on the same thread gets a new
one, unless the user names a shared scope. The workflow id is found, in order:

1. ``DispatchContext.workflow_id`` or ``configurable["workflow_id"]``: a scope
   the user named (a team's budget, or the run being resumed);
2. the run's own `DispatchContext` (one instance per run; ``langgraph dev``
   builds one per run from the run's ``context``);
3. the server's run id;
4. an id of this graph run (``invoke``/``ainvoke``/``stream``), the same for
   every node and parallel ``Send`` branch of the run and new for the next run
   on the thread (keyed by the run's LangGraph ``RunControl``);
5. outside a graph run, the workflow in the state's ``budget`` channel, else a
   fresh id.

`dispatch.langgraph.resume` continues an interrupted run under its
checkpointed workflow by naming it (1).

Limit and mode come from the context, else ``configurable["budget_usd"]`` /
``["budget_mode"]``, else the dispatcher's default. A ledger first opened in a
process starts from the settled spend the checkpoint holds for its workflow, so
a run resumed elsewhere never spends twice.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig

from dispatch.budget import BudgetDict, BudgetSpec, Ledger, budget_settings
from dispatch.types import BudgetMode

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatcher

__all__ = (
    "DispatchContext",
    "budget_limits",
    "new_workflow",
    "run_ledger",
    "run_workflow",
)


@dataclass(kw_only=True, eq=False)
class DispatchContext:
    """A run's budget, as LangGraph run context (``context_schema``).

    Create one per run; reusing an instance shares its budget across runs.
    """

    budget_usd: float | str | None = None
    """USD the run may spend; None: the dispatcher's default."""
    budget_mode: BudgetMode | None = None
    """``hard``, ``soft`` or ``warn``; None: the dispatcher's default."""
    workflow_id: str | None = None
    """A named budget scope shared by every run that names it."""
    run_id: str = field(default_factory=lambda: f"run-{secrets.token_hex(6)}")
    """This run's own workflow id when no scope is named."""

    def __post_init__(self) -> None:
        """Refuse a bad limit or mode here, naming the field, not at the first hop."""
        given = {"budget_usd": self.budget_usd, "budget_mode": self.budget_mode}
        budget_settings(
            {k: v for k, v in given.items() if v is not None},
            BudgetSpec(),
            at="DispatchContext.{}",
        )


def _configurable(config: RunnableConfig | None) -> Mapping[str, Any]:
    return (config or {}).get("configurable") or {}


_CONTEXT_KEYS = ("budget_usd", "budget_mode", "workflow_id")


def _run_context(conf: Mapping[str, Any]) -> DispatchContext | None:
    """The run's `DispatchContext`; a plain mapping given as ``context=`` to a
    graph without ``context_schema`` counts too, so its budget is not ignored."""
    ctx = getattr(conf.get("__pregel_runtime"), "context", None)
    if isinstance(ctx, DispatchContext):
        return ctx
    if isinstance(ctx, Mapping) and any(k in ctx for k in _CONTEXT_KEYS):
        run = _server_run(conf) or _graph_run(conf)
        given: dict[str, Any] = {k: ctx[k] for k in _CONTEXT_KEYS if k in ctx}
        if run:
            given["run_id"] = run
        return DispatchContext(**given)
    return None


def _server_run(conf: Mapping[str, Any]) -> str | None:
    info = getattr(conf.get("__pregel_runtime"), "execution_info", None)
    run = getattr(info, "run_id", None)
    return None if run is None else f"run-{run}"


_MAX_GRAPH_RUNS = 4096
"""Graph runs whose workflow id is remembered (a run older than this many later
runs of the process gets a new id for its remaining nodes)."""
_graph_runs: OrderedDict[int, tuple[object, str]] = OrderedDict()
_graph_runs_lock = threading.Lock()


def _graph_run(conf: Mapping[str, Any]) -> str | None:
    """The workflow id of this graph run: one per ``RunControl``, which LangGraph
    creates once per run and shares with every task (and subgraph) of it.

    Without it each parallel branch of a run would open its own ledger, each
    with the whole limit. The control object is kept with its id, so the id of
    a collected object cannot be reused while it is remembered.
    """
    control = getattr(conf.get("__pregel_runtime"), "control", None)
    if control is None:
        return None
    with _graph_runs_lock:
        entry = _graph_runs.get(id(control))
        if entry is None or entry[0] is not control:
            entry = (control, f"run-{secrets.token_hex(6)}")
            _graph_runs[id(control)] = entry
            if len(_graph_runs) > _MAX_GRAPH_RUNS:
                _graph_runs.popitem(last=False)
        else:
            _graph_runs.move_to_end(id(control))
        return entry[1]


def run_workflow(
    config: RunnableConfig | None, state: Mapping[str, Any] | None = None
) -> str:
    """The workflow id a node of this run charges (see the module docstring)."""
    conf = _configurable(config)
    return _workflow(conf, _run_context(conf), state)


def _workflow(
    conf: Mapping[str, Any],
    ctx: DispatchContext | None,
    state: Mapping[str, Any] | None,
) -> str:
    named = (ctx.workflow_id if ctx else None) or conf.get("workflow_id")
    if named:
        return str(named)
    if ctx is not None:
        return ctx.run_id
    run = _server_run(conf) or _graph_run(conf)
    if run is not None:
        return run
    saved = (state or {}).get("budget")
    if saved and saved.get("workflow"):
        return str(saved["workflow"])
    return f"run-{secrets.token_hex(6)}"


def budget_limits(
    config: RunnableConfig | None, default: BudgetSpec
) -> tuple[Decimal | None, BudgetMode]:
    """The run's budget limit and mode (context, else configurable, else `default`)."""
    conf = _configurable(config)
    return _limits(conf, _run_context(conf), default)


def _limits(
    conf: Mapping[str, Any], ctx: DispatchContext | None, default: BudgetSpec
) -> tuple[Decimal | None, BudgetMode]:
    settings: dict[str, Any] = {
        k: conf[k] for k in ("budget_usd", "budget_mode") if k in conf
    }
    if ctx is not None:
        if ctx.budget_usd is not None:
            settings["budget_usd"] = ctx.budget_usd
        if ctx.budget_mode is not None:
            settings["budget_mode"] = ctx.budget_mode
    return budget_settings(settings, default)


def run_ledger(
    dispatcher: Dispatcher,
    config: RunnableConfig | None,
    state: Mapping[str, Any] | None = None,
) -> Ledger:
    """The ledger of the workflow this node's run charges, shared by its branches."""
    conf = _configurable(config)
    ctx = _run_context(conf)
    workflow = _workflow(conf, ctx, state)
    saved = (state or {}).get("budget")
    spent = (
        Decimal(saved["spent_usd"])
        if saved and saved.get("workflow") == workflow
        else Decimal(0)
    )
    limit, mode = _limits(conf, ctx, dispatcher.budget)
    return dispatcher.ledgers.open(workflow, limit, mode, spent=spent)


def new_workflow(
    dispatcher: Dispatcher,
    config: RunnableConfig | None,
    state: Mapping[str, Any] | None = None,
) -> tuple[Ledger, BudgetDict]:
    """Start the budget of a new run: its ledger and the ``budget`` channel write
    that replaces the previous run's (write it from the graph's first node).

    A named scope the thread already charged keeps its channel (the write is a
    zero delta); anything else starts afresh.
    """
    workflow = run_workflow(config, None)
    limit, mode = budget_limits(config, dispatcher.budget)
    ledger = dispatcher.ledgers.open(workflow, limit, mode)
    write = ledger.snapshot()
    saved = (state or {}).get("budget")
    if saved and saved.get("workflow") == workflow:
        write["spent_usd"] = write["reserved_usd"] = "0"
        write["refused"], write["exceeded"] = 0, False
    return ledger, write
