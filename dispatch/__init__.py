"""graph-dispatch: route every hop of a LangGraph workflow to the cheapest good-enough model.

The public API, and nothing else; start with `Dispatcher.from_config()`. Ways
in: `DispatchMiddleware` (LangChain agent middleware), `routed_node` (a
specialist as a graph node), `RoutedChatModel` (a drop-in ``model=``), and the
ready-made orchestrator in `dispatch.graphs`. More lives in
the subpackages: `dispatch.langgraph` (state channels, run budgets, resume),
`dispatch.routing` (router layers, encoders), `dispatch.testing` (fakes).

Names are imported on first use (PEP 562), so ``import dispatch`` and the CLI's
help start without loading LangChain, LangGraph or OpenTelemetry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.budget import Ledger
    from dispatch.dispatcher import Dispatcher
    from dispatch.errors import (
        BudgetExceeded,
        ConfigError,
        DispatchError,
        HopFailed,
        ModelUnavailable,
        NoEligibleModel,
    )
    from dispatch.hop import HopResult
    from dispatch.langchain import DispatchMiddleware, RoutedChatModel
    from dispatch.langgraph import (
        DispatchContext,
        DispatchState,
        hop_records,
        routed_node,
    )
    from dispatch.registry import Registry
    from dispatch.routing import (
        FixedRouter,
        HybridRouter,
        Router,
        RulesRouter,
        SemanticRouter,
    )
    from dispatch.specialist import Specialist
    from dispatch.tracing import Tracing
    from dispatch.types import (
        BudgetMode,
        Hop,
        HopRecord,
        ModelSpec,
        PinChange,
        RouteDecision,
    )

__all__ = (
    "BudgetExceeded",
    "BudgetMode",
    "ConfigError",
    "DispatchContext",
    "DispatchError",
    "DispatchMiddleware",
    "DispatchState",
    "Dispatcher",
    "FixedRouter",
    "Hop",
    "HopFailed",
    "HopRecord",
    "HopResult",
    "HybridRouter",
    "Ledger",
    "ModelSpec",
    "ModelUnavailable",
    "NoEligibleModel",
    "PinChange",
    "Registry",
    "RouteDecision",
    "RoutedChatModel",
    "Router",
    "RulesRouter",
    "SemanticRouter",
    "Specialist",
    "Tracing",
    "hop_records",
    "routed_node",
)

_WHERE: dict[str, str] = {
    "BudgetExceeded": "dispatch.errors",
    "BudgetMode": "dispatch.types",
    "ConfigError": "dispatch.errors",
    "DispatchContext": "dispatch.langgraph",
    "DispatchError": "dispatch.errors",
    "DispatchMiddleware": "dispatch.langchain",
    "DispatchState": "dispatch.langgraph",
    "Dispatcher": "dispatch.dispatcher",
    "FixedRouter": "dispatch.routing",
    "Hop": "dispatch.types",
    "HopFailed": "dispatch.errors",
    "HopRecord": "dispatch.types",
    "HopResult": "dispatch.hop",
    "HybridRouter": "dispatch.routing",
    "Ledger": "dispatch.budget",
    "ModelSpec": "dispatch.types",
    "ModelUnavailable": "dispatch.errors",
    "NoEligibleModel": "dispatch.errors",
    "PinChange": "dispatch.types",
    "Registry": "dispatch.registry",
    "RouteDecision": "dispatch.types",
    "RoutedChatModel": "dispatch.langchain",
    "Router": "dispatch.routing",
    "RulesRouter": "dispatch.routing",
    "SemanticRouter": "dispatch.routing",
    "Specialist": "dispatch.specialist",
    "Tracing": "dispatch.tracing",
    "hop_records": "dispatch.langgraph",
    "routed_node": "dispatch.langgraph",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'dispatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
