"""Resume an interrupted run so that it charges the budget it started with.

A run killed mid-way (``kill -9``, a crash) resumes from its last checkpoint
with ``graph.invoke(None, config)``. The run's workflow id and settled spend are
in the checkpoint's ``budget`` channel: `aresume` opens the workflow's ledger
from that spend (the spend of every node that completed, including parallel
branches that finished beside the one that failed) and continues under the same
workflow id, so nothing is charged twice and the limit still holds. Runs are
resumed with ``durability="sync"``: each step's writes are saved before the
next step starts, so a completed (and paid) task is never run again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.runnables import RunnableConfig

from dispatch.langgraph.context import budget_limits

if TYPE_CHECKING:
    from dispatch.dispatcher import Dispatcher

__all__ = ("aresume", "checkpointed_spend", "resume", "resume_config")


class _Snapshot(Protocol):
    values: Any


class _Graph(Protocol):
    def get_state(self, config: RunnableConfig) -> _Snapshot: ...
    async def aget_state(self, config: RunnableConfig) -> _Snapshot: ...
    def invoke(self, input: Any, config: RunnableConfig, **kwargs: Any) -> Any: ...
    async def ainvoke(
        self, input: Any, config: RunnableConfig, **kwargs: Any
    ) -> Any: ...


def resume_config(
    dispatcher: Dispatcher, config: RunnableConfig, values: Any
) -> RunnableConfig:
    """`config` naming the checkpointed run's workflow as its budget scope, with
    that workflow's ledger opened from the checkpointed spend."""
    budget = (values or {}).get("budget") or {}
    conf = dict(config.get("configurable") or {})
    workflow = conf.get("workflow_id") or budget.get("workflow")
    if workflow:
        conf["workflow_id"] = workflow
        limit, mode = budget_limits(config, dispatcher.budget)
        spent = checkpointed_spend(values, str(workflow))
        dispatcher.ledgers.open(str(workflow), limit, mode, spent=spent)
    return {**config, "configurable": conf}


def checkpointed_spend(values: Any, workflow: str) -> Decimal:
    """`workflow`'s settled spend in checkpointed state `values` (its
    ``budget`` channel); 0 when the channel holds another workflow's."""
    budget = (values or {}).get("budget") or {}
    if budget.get("workflow") != workflow:
        return Decimal(0)
    return Decimal(budget["spent_usd"])


async def aresume(dispatcher: Dispatcher, graph: _Graph, config: RunnableConfig) -> Any:
    """Continue the interrupted run on `config`'s thread, on the same budget."""
    snapshot = await graph.aget_state(config)
    resumed = resume_config(dispatcher, config, snapshot.values)
    return await graph.ainvoke(None, resumed, durability="sync")


def resume(dispatcher: Dispatcher, graph: _Graph, config: RunnableConfig) -> Any:
    """Synchronous twin of `aresume`."""
    resumed = resume_config(dispatcher, config, graph.get_state(config).values)
    return graph.invoke(None, resumed, durability="sync")
