"""`RoutedChatModel` as the drop-in `model=` of LangChain's prebuilt agent."""

from __future__ import annotations

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from dispatch import Dispatcher, Registry, RoutedChatModel
from dispatch.errors import ConfigError
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


class _Recorder(FakeChatModel):
    """Remembers the keyword arguments each call reached the provider with."""

    calls: list[dict[str, object]] = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append(kwargs)
        return super()._generate(messages, stop, run_manager, **kwargs)


def test_an_output_cap_bound_by_the_caller_never_reaches_the_provider(
    registry: Registry,
) -> None:
    # `.bind(max_completion_tokens=...)` would override the cap the ledger
    # reserved for; the smallest cap asked for becomes the hop's instead
    recorder = _Recorder(replies=[AIMessage(content="ok")])
    dispatcher = Dispatcher(
        registry, model_factory=fake_factory(default=lambda s: recorder)
    )
    model = RoutedChatModel(dispatcher=dispatcher, specialist="general")
    reply = (
        model.bind_tools([add])
        .bind(max_completion_tokens=100_000, num_predict=300)
        .invoke([HumanMessage("hi")])
    )
    sent = {k: v for k, v in recorder.calls[-1].items() if k != "tools"}
    assert not set(sent) & {"max_tokens", "max_completion_tokens", "num_predict"}
    (hop,) = hops_from_messages([reply])
    assert hop.error is None


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            {"foo": 1},
            r"messages\[1\]\.response_metadata\['dispatch'\]: not a hop record",
        ),
        ("str", r"not a hop record \(found str\)"),
    ],
)
def test_a_reply_with_a_broken_hop_record_is_named(
    registry: Registry, metadata: object, message: str
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    model = RoutedChatModel(dispatcher=dispatcher, specialist="general")
    history = [
        HumanMessage("hi"),
        AIMessage(content="x", response_metadata={"dispatch": metadata}),
        HumanMessage("q"),
    ]
    with pytest.raises(ConfigError, match=message):
        model.invoke(history)


def test_a_hop_record_with_no_model_is_named(registry: Registry) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    model = RoutedChatModel(dispatcher=dispatcher, specialist="general")
    good = model.invoke([HumanMessage("hi")])
    broken = {**good.response_metadata["dispatch"], "model": None}
    with pytest.raises(ConfigError, match=r"\['dispatch'\]\.model: found None"):
        model.invoke(
            [HumanMessage("hi"), AIMessage("x", response_metadata={"dispatch": broken})]
        )
