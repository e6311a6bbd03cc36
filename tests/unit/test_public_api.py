from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys

import dispatch

PUBLIC = (
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


def test_the_public_api_is_these_names_sorted() -> None:
    assert dispatch.__all__ == PUBLIC
    assert list(PUBLIC) == sorted(PUBLIC)
    assert sorted(dir(dispatch)) == sorted(PUBLIC)


def test_every_public_name_resolves() -> None:
    for name in PUBLIC:
        assert getattr(dispatch, name) is not None


def test_importing_the_package_loads_no_framework() -> None:
    code = (
        "import sys, dispatch; "
        "heavy = [m for m in ('langchain_core', 'langgraph', 'opentelemetry', "
        "'torch', 'sklearn') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_public_signatures_take_no_any() -> None:
    # annotations are strings (`from __future__ import annotations`)
    any_ = re.compile(r"\bAny\b")
    for cls in (dispatch.Dispatcher, dispatch.Ledger, dispatch.Registry):
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") and name != "__init__":
                continue
            for arg, param in inspect.signature(member).parameters.items():
                if param.kind is param.VAR_KEYWORD:
                    continue  # **kwargs forwarded to LangChain's bind_tools
                assert not any_.search(str(param.annotation)), f"{name}({arg})"


def test_agents_and_graphs_live_under_the_dispatch_namespace() -> None:
    assert importlib.import_module("dispatch.agents").__name__ == "dispatch.agents"
    assert importlib.import_module("dispatch.graphs").__name__ == "dispatch.graphs"
