"""`RoutedChatModel` inside a graph run charges the hard budget the run gives in
``config["configurable"]`` (README: every way in charges the same ledger)."""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from dispatch import Dispatcher, HopFailed, Registry, RoutedChatModel
from dispatch.testing import FakeChatModel, fake_factory


def test_a_hard_budget_in_configurable_refuses_the_call(registry: Registry) -> None:
    fake = FakeChatModel(replies=[AIMessage(content="ok")])
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": fake}))
    agent = create_agent(
        RoutedChatModel(dispatcher=dispatcher, specialist="assistant"),
        tools=[],
        checkpointer=InMemorySaver(),
    )
    config = {
        "configurable": {
            "thread_id": "t",
            "budget_usd": "0.0000001",
            "budget_mode": "hard",
        }
    }

    with pytest.raises(HopFailed) as failed:
        agent.invoke({"messages": [HumanMessage("Say hello")]}, config)

    assert failed.value.refused
    assert fake.requests == []  # nothing was sent, so nothing was spent
