"""`routed_node` in a user's StateGraph whose state lacks the `DispatchState` channels.

LangGraph drops a node's write to a key that is not a channel of the graph, so
such a graph used to lose every pin and hop record without a word. The node's
input schema (`RoutedNodeInput`) now adds the channels; where they still end up
missing, the node refuses to run before any hop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Send

from dispatch import (
    ConfigError,
    Dispatcher,
    DispatchState,
    PinChange,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch.langgraph.state import add_hops
from dispatch.testing import FakeChatModel, fake_factory

WRITER = Specialist(name="writer", capability="general", prompt="Be brief.")
THREAD = {"configurable": {"thread_id": "conversation-1"}}


def build(dispatcher: Dispatcher, checkpointer: Any = None) -> Any:
    """The user's graph: plain `MessagesState`, no `DispatchState` mixed in."""
    builder = StateGraph(MessagesState)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    return builder.compile(checkpointer=checkpointer)


def turn(graph: Any, text: str, driver: str) -> dict[str, Any]:
    start = {"messages": [HumanMessage(text)]}
    if driver == "invoke":
        result: dict[str, Any] = graph.invoke(start, THREAD)
    else:
        result = asyncio.run(graph.ainvoke(start, THREAD))
    return result


@pytest.mark.parametrize("driver", ["invoke", "ainvoke"])
def test_the_pin_of_the_first_turn_holds_on_the_second(
    registry: Registry, driver: str
) -> None:
    saver = InMemorySaver()
    # First turn: the cheapest model is down, the hop fails over to mid:model and pins it.
    down = FakeChatModel(replies=[RuntimeError("provider down")])
    first = Dispatcher(registry, model_factory=fake_factory({"tiny:model": down}))
    turn(build(first, saver), "Say hello", driver)

    # Second turn, new dispatcher (no memory of the failure), tiny:model healthy again:
    # only the checkpointed pin keeps the conversation on mid:model.
    healthy = FakeChatModel(replies=[AIMessage(content="hi")])
    second = Dispatcher(registry, model_factory=fake_factory({"tiny:model": healthy}))
    graph = build(second, saver)
    turn(graph, "Say hi again", driver)

    values = graph.get_state(THREAD).values
    assert values["pins"]["writer@small"]["model"] == "mid:model"
    failed, failover, kept = hop_records(values)
    assert (failed.model, failover.model) == ("tiny:model", "mid:model")
    assert (kept.model, kept.pinned, kept.pin_change) == (
        "mid:model",
        True,
        PinChange.KEPT,
    )
    assert healthy.requests == []


def test_hop_records_are_in_the_checkpoint_not_in_the_invoke_result(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    graph = build(dispatcher, InMemorySaver())
    result = graph.invoke({"messages": [HumanMessage("Say hello")]}, THREAD)

    # invoke returns the user's own state's keys; the channels the node added are
    # in the thread's state
    assert set(result) == {"messages"}
    values = graph.get_state(THREAD).values
    (record,) = hop_records(values)
    assert (record.specialist, record.model) == ("writer", "tiny:model")
    assert values["budget"]["spent_usd"] == str(record.cost_usd)


def test_without_a_checkpointer_output_keys_returns_the_hop_records(
    registry: Registry,
) -> None:
    graph = build(Dispatcher(registry, model_factory=fake_factory({})))
    result = graph.invoke(
        {"messages": [HumanMessage("Say hello")]},
        output_keys=["messages", "hops", "pins"],
    )
    assert [r.model for r in hop_records(result)] == ["tiny:model"]
    assert result["pins"]["writer@small"]["model"] == "tiny:model"


def test_every_send_branch_keeps_its_hop_record(registry: Registry) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    builder = StateGraph(MessagesState)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_conditional_edges(
        START,
        lambda _: [
            Send("writer", {"messages": [HumanMessage(f"Write note {i}")]})
            for i in range(3)
        ],
        ["writer"],
    )
    builder.add_edge("writer", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    graph.invoke({"messages": []}, THREAD)

    values = graph.get_state(THREAD).values
    assert [r.model for r in hop_records(values)] == ["tiny:model"] * 3
    assert values["pins"]["writer@small"]["model"] == "tiny:model"


def test_a_state_with_dispatch_state_keeps_its_own_channels(
    registry: Registry,
) -> None:
    class State(MessagesState, DispatchState):
        pass

    builder = StateGraph(State)
    before = dict(builder.channels)
    builder.add_node("writer", routed_node(Dispatcher(registry), WRITER))
    assert builder.channels == before
    assert builder.channels["hops"].operator is add_hops  # type: ignore[attr-defined]


def test_an_input_schema_without_the_channels_is_refused_before_any_hop(
    registry: Registry,
) -> None:
    tiny = FakeChatModel(replies=[AIMessage(content="hello")])
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    builder = StateGraph(MessagesState)
    # an explicit input_schema overrides the node's own, so nothing adds the channels
    builder.add_node(
        "writer", routed_node(dispatcher, WRITER), input_schema=MessagesState
    )
    builder.add_edge(START, "writer")
    graph = builder.compile()

    with pytest.raises(ConfigError) as raised:
        graph.invoke({"messages": [HumanMessage("Say hello")]})
    message = str(raised.value)
    assert "routed_node 'writer'" in message
    assert "'hops', 'pins', 'budget'" in message
    assert "DispatchState" in message
    assert tiny.requests == []


def test_a_send_payload_with_pins_does_not_hide_missing_channels(
    registry: Registry,
) -> None:
    """The node's input is the Send's payload; the check looks at the graph."""
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    node = routed_node(dispatcher, WRITER)

    def wrapper(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return node.invoke(state, config)  # a user's wrapper: no input schema of ours

    builder = StateGraph(MessagesState)
    builder.add_node("writer", wrapper)
    builder.add_conditional_edges(
        START,
        lambda _: [
            Send("writer", {"messages": [HumanMessage("hi")], "pins": {}, "hops": []})
        ],
        ["writer"],
    )
    graph = builder.compile()

    with pytest.raises(ConfigError, match="the graph has no 'hops', 'pins', 'budget'"):
        asyncio.run(graph.ainvoke({"messages": []}))


def test_a_state_whose_pins_have_no_reducer_is_refused_when_the_node_is_added(
    registry: Registry,
) -> None:
    class State(MessagesState):
        pins: dict[str, Any]  # a plain field would keep only the last branch's pins

    builder = StateGraph(State)
    with pytest.raises(ValueError, match="Channel 'pins' already exists"):
        builder.add_node("writer", routed_node(Dispatcher(registry), WRITER))


def test_outside_a_graph_the_node_runs_and_returns_its_writes(
    registry: Registry,
) -> None:
    node = routed_node(Dispatcher(registry, model_factory=fake_factory({})), WRITER)
    update = node({"messages": [HumanMessage("Say hello")]})
    assert [r.model for r in hop_records(update["hops"])] == ["tiny:model"]
    assert update["pins"]["writer@small"]["model"] == "tiny:model"
