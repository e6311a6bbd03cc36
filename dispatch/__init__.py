"""graph-dispatch: route every hop of a LangGraph workflow to the cheapest good-enough model.

The public API; everything else is internal. Start with `Dispatcher.from_config()`.
"""

from __future__ import annotations

from dispatch.budget import BudgetDict, BudgetMode, BudgetSpec, Ledger, merge_budget
from dispatch.config import load_config
from dispatch.cost import call_cost, estimate_tokens, usage_of
from dispatch.errors import (
    BudgetExceeded,
    ConfigError,
    DispatchError,
    HopFailed,
    ModelUnavailable,
    NoEligibleModel,
)
from dispatch.node import Dispatcher, HopResult, SpecialistRun, routed_node
from dispatch.pins import PinState, merge_pins
from dispatch.policy import eligible_models, select
from dispatch.registry import Registry
from dispatch.routed_model import RoutedChatModel, hops_from_messages
from dispatch.routing import (
    CachedEncoder,
    Encoder,
    FixedRouter,
    HybridRouter,
    Router,
    RulesRouter,
    SemanticRouter,
)
from dispatch.sim import SimChatModel
from dispatch.specialist import Specialist
from dispatch.state import DispatchState, add_hops, hop_records
from dispatch.types import (
    Hop,
    HopRecord,
    ModelChoice,
    ModelSpec,
    Pin,
    RouteDecision,
    RouterLayer,
    Usage,
)

__all__ = (
    "BudgetDict",
    "BudgetExceeded",
    "BudgetMode",
    "BudgetSpec",
    "CachedEncoder",
    "ConfigError",
    "DispatchError",
    "DispatchState",
    "Dispatcher",
    "Encoder",
    "FixedRouter",
    "Hop",
    "HopFailed",
    "HopRecord",
    "HopResult",
    "HybridRouter",
    "Ledger",
    "ModelChoice",
    "ModelSpec",
    "ModelUnavailable",
    "NoEligibleModel",
    "Pin",
    "PinState",
    "Registry",
    "RouteDecision",
    "RoutedChatModel",
    "Router",
    "RouterLayer",
    "RulesRouter",
    "SemanticRouter",
    "SimChatModel",
    "Specialist",
    "SpecialistRun",
    "Usage",
    "add_hops",
    "call_cost",
    "eligible_models",
    "estimate_tokens",
    "hop_records",
    "hops_from_messages",
    "load_config",
    "merge_budget",
    "merge_pins",
    "routed_node",
    "select",
    "usage_of",
)
