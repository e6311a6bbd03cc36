"""`RoutedChatModel` as the drop-in `model=` of LangChain's prebuilt agent."""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from dispatch import Dispatcher, Registry, RoutedChatModel
from dispatch.langchain import hops_from_messages
from dispatch.testing import FakeChatModel, fake_factory


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_every_call_of_a_prebuilt_agent_is_a_routed_hop(registry: Registry) -> None:
    tiny = FakeChatModel(
        replies=[
            AIMessage(
                content="",
                tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "c1"}],
            ),
            AIMessage(content="2 + 3 = 5"),
        ]
    )
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": tiny}))
    model = RoutedChatModel(dispatcher=dispatcher, specialist="assistant")
    assert isinstance(model, RoutedChatModel)
    agent = create_agent(model=model, tools=[add], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    state = agent.invoke(
        {"messages": [HumanMessage("Say the sum of two numbers")]}, config
    )

    hops = hops_from_messages(state["messages"])
    assert [h.model for h in hops] == ["tiny:model", "tiny:model"]
    assert [h.after_tool for h in hops] == [False, True]
    assert [h.pinned for h in hops] == [False, True]
    assert state["messages"][-1].text == "2 + 3 = 5"
    assert [t.name for t in tiny.bound_tools] == ["add"]

    # Next turn on the same thread: the pin is read back from the checkpointed history.
    state = agent.invoke({"messages": [HumanMessage("And again please")]}, config)
    assert hops_from_messages(state["messages"])[-1].pinned


@pytest.mark.anyio
async def test_async_path_routes_too(registry: Registry) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    reply = await RoutedChatModel(
        dispatcher=dispatcher, specialist="a", capability="coding"
    ).ainvoke([HumanMessage("hello")], max_tokens=50)
    (hop,) = hops_from_messages([reply])
    assert hop.capability == "coding"
    assert hop.simulated
    assert hop.output_tokens <= 50
