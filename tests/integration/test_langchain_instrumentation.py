"""With the OpenTelemetry LangChain instrumentation also running, each model
call still has exactly one ``chat`` span: graph-dispatch's.

Uses the real instrumentation from PyPI (``opentelemetry-instrumentation-
langchain``, in the ``test`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from dispatch import (
    Dispatcher,
    DispatchState,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch._otel import chat_scope, langchain_instrumented
from dispatch.sim import SimChatModel
from dispatch.tracing import Tracing

instrumentation = pytest.importorskip("opentelemetry.instrumentation.langchain")


class Telemetry:
    def __init__(self) -> None:
        self.out = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.out))

    def model_spans(self) -> list[ReadableSpan]:
        """CLIENT spans of a chat model call, whoever started them."""
        return [
            s
            for s in self.out.get_finished_spans()
            if s.kind is SpanKind.CLIENT
            and (s.attributes or {}).get("gen_ai.operation.name") == "chat"
        ]

    def scopes(self) -> set[str]:
        return {
            s.instrumentation_scope.name
            for s in self.out.get_finished_spans()
            if s.instrumentation_scope is not None
        }


@pytest.fixture(scope="module")
def instrumented_once() -> Iterator[Telemetry]:
    # once per module: the instrumentation does not survive being instrumented
    # again in one process with another provider. Without trace-context
    # propagation, which wraps langchain-openai's methods for good (uninstrument
    # leaves them wrapped, and they change the requests later tests record).
    tel = Telemetry()
    instrumentor = instrumentation.LangchainInstrumentor(
        disable_trace_context_propagation=True
    )
    instrumentor.instrument(tracer_provider=tel.provider)
    try:
        yield tel
    finally:
        instrumentor.uninstrument()
        assert not langchain_instrumented()


@pytest.fixture
def instrumented(instrumented_once: Telemetry) -> Telemetry:
    instrumented_once.out.clear()
    return instrumented_once


def test_the_instrumentation_is_detected_while_it_instruments(
    instrumented: Telemetry,
) -> None:
    assert langchain_instrumented()
    span = instrumented.provider.get_tracer("t").start_span("chat x")
    with chat_scope(span):
        assert context.get_value(_SUPPRESS_INSTRUMENTATION_KEY) is True


def test_on_its_own_the_instrumentation_records_a_chat_span(
    instrumented: Telemetry,
) -> None:
    SimChatModel(model="openai:gpt-5.4-mini").invoke([HumanMessage("hello")])
    (span,) = instrumented.model_spans()
    assert "graph-dispatch" not in instrumented.scopes()


class State(MessagesState, DispatchState):
    pass


def test_under_graph_dispatch_each_call_has_one_chat_span_and_it_is_ours(
    instrumented: Telemetry,
) -> None:
    dispatcher = Dispatcher(
        Registry.from_config(), simulate=True, tracing=Tracing(instrumented.provider)
    )
    writer = Specialist(name="writer", capability="general", prompt="Be brief.")
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, writer))
    builder.add_edge(START, "writer")
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    graph.invoke({"messages": [HumanMessage("Draft a release note.")]}, config)
    state = graph.invoke({"messages": [HumanMessage("Shorter.")]}, config)

    spans = instrumented.model_spans()
    assert len(spans) == len(hop_records(state)) == 2
    for span in spans:
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "graph-dispatch"
        assert "dispatch.tier" in (span.attributes or {})
    # the instrumentation was live: its graph and chain spans are all there
    assert len(instrumented.scopes()) > 1
