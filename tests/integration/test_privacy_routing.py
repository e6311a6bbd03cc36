"""Privacy routing end to end: a real LangGraph graph, the real detectors and the
real OpenTelemetry SDK; personal data keeps a hop on a local model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import LOCAL_MODEL, SMALL_REGISTRY
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dispatch import Dispatcher, DispatchState, Specialist, hop_records, routed_node
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.tracing import Tracing

PRIVACY_ON = """\
privacy:
  enabled: true
"""
KEY = "AKIAIOSFODNN7EXAMPLE"


class State(MessagesState, DispatchState):
    pass


def build(tmp_path: Path, specialist: Specialist) -> tuple[Any, InMemorySpanExporter]:
    config = tmp_path / "registry.yaml"
    config.write_text(SMALL_REGISTRY + LOCAL_MODEL + PRIVACY_ON)
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    fakes = {
        "tiny:model": FakeChatModel(replies=[AIMessage(content="remote answer")]),
        "ollama:local-coder": FakeChatModel(
            replies=[AIMessage(content="local answer")]
        ),
    }
    dispatcher = Dispatcher.from_config(
        config, model_factory=fake_factory(fakes), tracing=Tracing(provider)
    )
    assert dispatcher.privacy is not None  # turned on by the YAML
    builder = StateGraph(State)
    builder.add_node(specialist.name, routed_node(dispatcher, specialist))
    builder.add_edge(START, specialist.name)
    return builder.compile(checkpointer=InMemorySaver()), spans


def test_a_pasted_key_moves_the_conversation_to_the_local_model(tmp_path: Path) -> None:
    coder = Specialist(name="coder", capability="coding", prompt="Write code.")
    graph, spans = build(tmp_path, coder)
    config = {"configurable": {"thread_id": "t1"}}

    graph.invoke({"messages": [HumanMessage("Write a retry loop in Python")]}, config)
    state = graph.invoke(
        {"messages": [HumanMessage(f"Why does boto3 reject my key {KEY}?")]}, config
    )

    first, second = hop_records(state)
    assert (first.model, first.sensitive) == ("tiny:model", ())
    assert second.model == "ollama:local-coder"
    assert second.sensitive == ("secret:aws_access_key",)
    assert "privacy" in second.reason and KEY not in second.reason
    assert state["messages"][-1].content == "local answer"
    chat = [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    assert chat[-1].attributes["dispatch.privacy.detected"] == (
        "secret:aws_access_key",
    )
    assert "dispatch.privacy.detected" not in (chat[0].attributes or {})
    for span in spans.get_finished_spans():
        assert KEY not in repr(dict(span.attributes or {}))


def test_personal_data_with_no_local_model_fails_the_hop_without_the_value(
    tmp_path: Path,
) -> None:
    writer = Specialist(name="writer", capability="general", prompt="Be brief.")
    graph, spans = build(tmp_path, writer)
    email = "jane.doe@example.com"

    state = graph.invoke(
        {"messages": [HumanMessage(f"Draft a reply to {email}")]},
        {"configurable": {"thread_id": "t2"}},
    )

    (record,) = hop_records(state)
    assert record.error_type == "NoEligibleModel"
    assert record.sensitive == ("email",)
    assert "only local models" in (record.error or "")
    assert email not in (record.error or "")
    assert "writer failed" in state["messages"][-1].content
    assert email not in state["messages"][-1].content
    assert state["budget"]["spent_usd"] == "0"
