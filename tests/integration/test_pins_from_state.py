"""Pins and hop records arrive from outside (a graph's input, a checkpoint, an
API client): a crafted state must not buy a dearer model than routing and the
pin rules allow, crash the run, or spoil the other pins. A pin the hop may not
use is dropped and the hop's record (and chat span) says why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from conftest import LOCAL_MODEL, SMALL_REGISTRY, registry_from_text
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dispatch import (
    ConfigError,
    Dispatcher,
    DispatchMiddleware,
    DispatchState,
    Ledger,
    PinChange,
    Registry,
    RoutedChatModel,
    Specialist,
    Tracing,
    hop_records,
    routed_node,
)
from dispatch.langchain import hops_from_messages
from dispatch.records import HopRecord
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.types import Hop, Pin


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def calls_add(call_id: str = "c1", **metadata: Any) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": call_id}],
        response_metadata=metadata,
    )


class State(MessagesState, DispatchState):
    pass


WRITER = Specialist(
    name="writer", capability="general", prompt="Be brief.", tools=(add,)
)


def writer_graph(dispatcher: Dispatcher) -> Any:
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, WRITER))
    builder.add_edge(START, "writer")
    return builder.compile()


def tool_then_answer() -> FakeChatModel:
    return FakeChatModel(replies=[calls_add(), AIMessage("3")])


def pin_entry(model: str, tier: str, reason: str = "pinned") -> dict[str, Any]:
    return {"model": model, "tier": tier, "reason": reason, "repinned_from": None}


def forged_record(specialist: str, tier: str, model: str) -> dict[str, Any]:
    """A hop record as `HopRecord.as_dict` writes it, every value made up."""
    return HopRecord(
        step=specialist,
        specialist=specialist,
        capability="general",
        tier=tier,
        model=model,
        input_tokens=1,
        output_tokens=1,
        cost_usd=Decimal(0),
        baseline_cost_usd=Decimal(0),
        pin_change=PinChange.NEW,
        router="rules",
        confidence=1.0,
        reason="made up",
        duration_ms=1.0,
    ).as_dict()  # type: ignore[return-value]


AFTER_A_TOOL: list[BaseMessage] = [
    HumanMessage("Say the sum"),
    calls_add(),
    ToolMessage("3", tool_call_id="c1"),
]


# -- (a) a dearer model than routing and the pin rules allow ---------------------------


def test_a_forged_pin_tier_cannot_lift_the_tool_loop_onto_a_dearer_tier(
    registry: Registry,
) -> None:
    # "writer@small" holding a small model under the tier "large": kept for the
    # small hop, it became the tool loop's pin and moved the follow-up call to
    # the large tier, which tiny:model does not meet: escalated to big:model.
    dispatcher = Dispatcher(
        registry, model_factory=fake_factory({"tiny:model": tool_then_answer()})
    )
    forged = {"writer@small": pin_entry("tiny:model", "large")}
    state = writer_graph(dispatcher).invoke(
        {"messages": [HumanMessage("Say hello")], "pins": forged}
    )
    first, follow_up = hop_records(state)
    assert [(r.tier, r.model) for r in (first, follow_up)] == [
        ("small", "tiny:model"),
        ("small", "tiny:model"),
    ]
    assert first.pin_change is PinChange.NEW
    assert "pin 'writer@small' ignored: its tier 'large' is above its scope's" in (
        first.reason
    )
    # the forged entry is replaced by the pin the hop made
    assert state["pins"]["writer@small"]["tier"] == "small"


@pytest.mark.parametrize(
    ("tier", "model", "why"),
    [
        ("large", "tiny:model", "tiny:model at large, above the routed tier 'small'"),
        ("large", "gone:model", "'gone:model' is not registered"),
    ],
)
def test_a_forged_tool_loop_record_cannot_send_the_agent_to_a_dearer_model(
    registry: Registry, tier: str, model: str, why: str
) -> None:
    # the middleware reads the tool loop's model from the last hop record: a
    # made-up one at "large" had the follow-up call escalated to big:model
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    mw = DispatchMiddleware(dispatcher, specialist="assistant")
    agent = create_agent(mw.model, tools=[add], middleware=[mw])
    state = agent.invoke(
        {"messages": AFTER_A_TOOL, "hops": [forged_record("assistant", tier, model)]}
    )
    (call,) = hop_records(state)[1:]
    assert (call.tier, call.model) == ("small", "tiny:model")
    assert f"tool-loop pin ignored: {why}" in call.reason


def test_routed_chat_model_does_not_follow_a_forged_record_to_a_dearer_tier(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    model = RoutedChatModel(dispatcher=dispatcher, specialist="assistant")
    history = [
        HumanMessage("Say the sum"),
        calls_add(dispatch=forged_record("assistant", "large", "tiny:model")),
        ToolMessage("3", tool_call_id="c1"),
    ]
    (hop,) = hops_from_messages([model.invoke(history)])
    assert (hop.tier, hop.model) == ("small", "tiny:model")
    assert "tool-loop pin ignored: tiny:model at large" in hop.reason


def test_the_reason_a_pin_was_dropped_is_on_the_chat_span(registry: Registry) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    dispatcher = Dispatcher(
        registry, model_factory=fake_factory({}), tracing=Tracing(provider)
    )
    writer_graph(dispatcher).invoke(
        {
            "messages": [HumanMessage("Say hello")],
            "pins": {"writer@small": pin_entry("tiny:model", "large")},
        }
    )
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
    reason = str(dict(span.attributes or {})["dispatch.reason"])
    assert "pin 'writer@small' ignored: its tier 'large' is above" in reason


# -- the rules a forged pin meets like any other (already enforced by the policy) -------


@pytest.mark.parametrize(
    ("pinned", "change", "reason"),
    [
        (
            "gone:model",
            PinChange.REPLACED,
            "re-pinned: gone:model is no longer registered",
        ),
        # serves general at 0.4, below the small bar (0.5)
        ("ollama:local-coder", PinChange.ESCALATED, "below the small bar for general"),
    ],
)
def test_a_pin_on_a_model_that_cannot_serve_the_hop_is_not_kept(
    pinned: str, change: PinChange, reason: str
) -> None:
    registry = registry_from_text(SMALL_REGISTRY + LOCAL_MODEL)
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    state = writer_graph(dispatcher).invoke(
        {
            "messages": [HumanMessage("Say hello")],
            "pins": {"writer@small": pin_entry(pinned, "small")},
        }
    )
    (record,) = hop_records(state)
    assert (record.model, record.pin_change) == ("tiny:model", change)
    assert reason in record.reason and record.repinned_from == pinned


def test_a_pin_whose_context_window_cannot_hold_the_input_is_not_kept(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    hop = Hop(
        specialist="w",
        prompt="long",
        capability_hint="general",
        tier_hint="small",
        input_tokens=9_000,  # tiny:model's window is 8,000
    )
    pins = {"w@small": Pin(model="tiny:model", tier="small", reason="forged")}
    result = dispatcher.call(hop, [HumanMessage("long")], pins=pins)
    assert (result.record.model, result.record.pin_change) == (
        "mid:model",
        PinChange.ESCALATED,
    )


def test_a_forged_pin_on_the_dearest_model_cannot_spend_past_the_budget(
    registry: Registry,
) -> None:
    # big:model serves the small tier, so a pin on it is honoured (a failover
    # can leave one there); the budget still decides what it may cost
    big = FakeChatModel()
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"big:model": big}))
    hop = Hop(specialist="w", prompt="hi", capability_hint="general", tier_hint="small")
    pins = {"w@small": Pin(model="big:model", tier="small", reason="forged")}
    messages = [HumanMessage("hi")]

    hard = Ledger(limit=Decimal("0.0005"), mode="hard", workflow="hard")
    refused = dispatcher.call(hop, messages, pins=pins, ledger=hard)
    assert refused.refused and big.requests == [] and hard.spent == 0

    soft = Ledger(limit=Decimal("0.0005"), mode="soft", workflow="soft")
    downgraded = dispatcher.call(hop, messages, pins=pins, ledger=soft)
    assert (downgraded.record.model, downgraded.record.pin_change) == (
        "tiny:model",
        PinChange.DOWNGRADED,
    )
    assert big.requests == [] and soft.spent <= Decimal("0.0005")


# -- (b) no crash, (c) the other pins unharmed ------------------------------------------


def test_a_malformed_entry_of_another_specialist_leaves_this_ones_pin_kept(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    pins = {
        "other@small": None,
        "critic@large": {"model": 5},
        "writer@small": pin_entry("tiny:model", "small", "kept from an earlier turn"),
    }
    state = writer_graph(dispatcher).invoke(
        {"messages": [HumanMessage("Say hello")], "pins": pins}
    )
    (record,) = hop_records(state)
    assert (record.model, record.pin_change) == ("tiny:model", PinChange.KEPT)
    assert record.reason.endswith("-> kept from an earlier turn")
    assert state["pins"] == pins  # nothing was rewritten


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (None, "pins['writer@small']: found NoneType, expected a pin"),
        ({"model": ["tiny:model"], "tier": "small"}, ".model: found ['tiny:model']"),
        (
            pin_entry("tiny:model", "small", "x" * 100_000),
            "reason has 100000 characters",
        ),
    ],
)
def test_a_malformed_or_oversized_pin_is_dropped_with_its_reason_not_raised(
    registry: Registry, entry: object, why: str
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    state = writer_graph(dispatcher).invoke(
        {"messages": [HumanMessage("Say hello")], "pins": {"writer@small": entry}}
    )
    (record,) = hop_records(state)
    assert record.model == "tiny:model" and record.error is None
    assert "pin 'writer@small' ignored: " in record.reason and why in record.reason
    assert len(record.reason) < 500
    assert state["pins"]["writer@small"]["model"] == "tiny:model"  # replaced


def test_the_agent_middleware_drops_malformed_state_instead_of_raising(
    registry: Registry,
) -> None:
    dispatcher = Dispatcher(registry, model_factory=fake_factory({}))
    mw = DispatchMiddleware(dispatcher, specialist="assistant")
    agent = create_agent(mw.model, tools=[add], middleware=[mw])

    state = agent.invoke({"messages": AFTER_A_TOOL, "hops": [{"step": "s"}]})
    (call,) = hop_records(state["hops"][1:])  # the run's own, past the bad one
    assert call.model == "tiny:model"
    assert "tool-loop pin ignored: hops[0]: not a hop record (missing" in call.reason

    state = agent.invoke(
        {
            "messages": [HumanMessage("Say hello")],
            "pins": {"assistant@small": {"model": 5}},
        }
    )
    (call,) = hop_records(state)
    assert call.model == "tiny:model"
    assert "pins['assistant@small'].model: found 5" in call.reason

    # a loop record at a tier the registry does not have (pin_for ignored it
    # silently before; now the hop says so)
    unknown_tier = forged_record("assistant", "huge", "big:model")
    state = agent.invoke({"messages": AFTER_A_TOOL, "hops": [unknown_tier]})
    (call,) = hop_records(state)[1:]
    assert (call.tier, call.model) == ("small", "tiny:model")
    assert "tool-loop pin ignored: its tier 'huge' is not one of" in call.reason


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ({"pins": ["writer@small"]}, r"^pins: found list, expected a mapping"),
        ({"hops": 5}, r"^hops: found int, expected a list of hop records"),
    ],
)
def test_a_channel_of_the_wrong_kind_in_the_input_is_a_clear_error(
    registry: Registry, channels: dict[str, object], message: str
) -> None:
    model = FakeChatModel()
    dispatcher = Dispatcher(registry, model_factory=fake_factory({"tiny:model": model}))
    with pytest.raises(ConfigError, match=message):
        writer_graph(dispatcher).invoke(
            {"messages": [HumanMessage("Say hello")], **channels}
        )
    assert model.requests == []  # refused before any model was called
