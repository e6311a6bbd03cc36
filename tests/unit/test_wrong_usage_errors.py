"""Wrong use of the public API fails at once, naming what was wrong."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from dispatch import (
    ConfigError,
    DispatchContext,
    Dispatcher,
    DispatchMiddleware,
    Registry,
    RoutedChatModel,
    Specialist,
    routed_node,
)


@pytest.fixture
def dispatcher(registry: Registry) -> Dispatcher:
    return Dispatcher(registry, simulate=True)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": 3}, "Specialist.name must be a non-empty str, got 3"),
        ({"name": ""}, "Specialist.name must be a non-empty str"),
        ({"prompt": None}, "Specialist 'w': prompt must be a str"),
        ({"capability": 1}, "Specialist 'w': capability must be a str or None"),
        ({"tools": ["calc"]}, "Specialist 'w': tools[0] must be a LangChain BaseTool"),
        ({"tools": "calc"}, "Specialist 'w': tools must be a sequence of tools"),
        (
            {"max_tool_rounds": -1},
            "Specialist 'w': max_tool_rounds must be an int >= 0",
        ),
        ({"max_tool_rounds": "3"}, "max_tool_rounds must be an int >= 0, got '3'"),
    ],
)
def test_a_specialist_field_of_the_wrong_type_is_refused(
    fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(TypeError) as refused:
        Specialist(**{"name": "w", "prompt": "p", **fields})
    assert named in str(refused.value)


def test_routed_node_refuses_a_specialist_with_an_unknown_capability(
    dispatcher: Dispatcher,
) -> None:
    cook = Specialist(name="cook", capability="cooking", prompt="p")
    with pytest.raises(ConfigError) as refused:
        routed_node(dispatcher, cook)
    assert str(refused.value) == (
        "Specialist 'cook': unknown capability (found 'cooking', "
        "expected one of coding, search, analysis, general)"
    )


def test_running_a_specialist_with_an_unknown_capability_is_refused(
    dispatcher: Dispatcher,
) -> None:
    cook = Specialist(name="cook", capability="cooking", prompt="p")
    with pytest.raises(ConfigError, match="Specialist 'cook': unknown capability"):
        dispatcher.run_specialist(cook, [HumanMessage("Bake bread")])


def test_routed_node_refuses_arguments_of_the_wrong_type(
    dispatcher: Dispatcher,
) -> None:
    writer = Specialist(name="writer", prompt="p")
    with pytest.raises(TypeError, match="dispatcher must be a Dispatcher, got str"):
        routed_node("dispatcher", writer)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="specialist must be a Specialist, got str"):
        routed_node(dispatcher, "writer")  # type: ignore[arg-type]


def test_chat_model_and_middleware_refuse_unknown_hints(dispatcher: Dispatcher) -> None:
    # pydantic wraps the ConfigError in its ValidationError (a ValueError too)
    with pytest.raises(ValueError, match="RoutedChatModel: unknown capability"):
        RoutedChatModel(dispatcher=dispatcher, capability="cooking")
    with pytest.raises(ValueError, match="RoutedChatModel: unknown tier"):
        RoutedChatModel(dispatcher=dispatcher, tier="huge")
    with pytest.raises(ConfigError) as refused:
        DispatchMiddleware(dispatcher, tier="huge")
    assert str(refused.value) == (
        "DispatchMiddleware: unknown tier (found 'huge', "
        "expected one of small, medium, large)"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"budget_usd": "abc"},
            "DispatchContext.budget_usd: invalid budget "
            "(found 'abc', expected a number of USD >= 0)",
        ),
        (
            {"budget_usd": "-1"},
            "DispatchContext.budget_usd: invalid budget "
            "(found '-1', expected a number of USD >= 0)",
        ),
        (
            {"budget_mode": "strict"},
            "DispatchContext.budget_mode: invalid budget mode "
            "(found 'strict', expected one of hard, soft, warn)",
        ),
    ],
)
def test_a_bad_run_context_is_refused_where_it_is_made(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        DispatchContext(**fields)
    assert str(refused.value) == message


def test_a_dispatcher_given_a_config_path_instead_of_a_registry_says_so() -> None:
    from dispatch import Dispatcher

    with pytest.raises(
        TypeError, match=r"expected a Registry, found str .*from_config"
    ):
        Dispatcher("default")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config source: expected a path"):
        Dispatcher.from_config(42)  # type: ignore[arg-type]


def test_a_routed_node_without_messages_says_so_instead_of_routing_nothing(
    registry: Registry,
) -> None:
    from langgraph.graph import START, StateGraph
    from typing_extensions import TypedDict

    from dispatch import DispatchState

    class NoMessages(DispatchState, TypedDict):
        question: str

    writer = Specialist(name="writer", capability="general", prompt="p")
    builder = StateGraph(NoMessages)
    builder.add_node("writer", routed_node(Dispatcher(registry, simulate=True), writer))
    builder.add_edge(START, "writer")
    with pytest.raises(ConfigError, match="'writer': its input has no 'messages'"):
        builder.compile().invoke({"question": "why?"})


def test_a_fixed_route_the_registry_does_not_declare_is_refused(
    registry: Registry,
) -> None:
    from dispatch.routing import FixedRouter

    with pytest.raises(ConfigError, match="FixedRouter: unknown capability"):
        Dispatcher(registry, router=FixedRouter("cooking", "small"))
    with pytest.raises(ConfigError, match="FixedRouter: unknown tier"):
        Dispatcher(registry, router=FixedRouter("coding", "huge"))
    assert Dispatcher(registry, router=FixedRouter("coding", "small"))


def test_a_fixed_route_inside_a_hybrid_router_is_checked_too(
    registry: Registry,
) -> None:
    from dispatch.routing import FixedRouter, HybridRouter, RulesRouter

    hybrid = HybridRouter([RulesRouter(), FixedRouter("cooking", "small")], [0.5])
    with pytest.raises(ConfigError, match="FixedRouter: unknown capability"):
        Dispatcher(registry, router=hybrid)
