"""Ready-made LangGraph graphs built from `dispatch` and its specialists (`dispatch.graphs`)."""

from __future__ import annotations

from dispatch.graphs.demo import DEMO_PLAN, DEMO_REQUEST, DEMO_SYNTHESIS_TIER
from dispatch.graphs.orchestrator import (
    Task,
    TaskResult,
    WorkflowState,
    build_orchestrator,
    make_graph,
    plan_tasks,
)

__all__ = (
    "DEMO_PLAN",
    "DEMO_REQUEST",
    "DEMO_SYNTHESIS_TIER",
    "Task",
    "TaskResult",
    "WorkflowState",
    "build_orchestrator",
    "make_graph",
    "plan_tasks",
)
