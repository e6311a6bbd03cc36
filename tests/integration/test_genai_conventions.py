"""Current GenAI conventions on real SDK spans: one chat span per attempt, the
thread as conversation and session, cost where Langfuse reads it, prompt-cache
token counts."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from dispatch import (
    Dispatcher,
    DispatchState,
    Hop,
    Registry,
    Specialist,
    hop_records,
    routed_node,
)
from dispatch._otel import chat_scope
from dispatch.health import ModelHealth
from dispatch.resilience import RetrySettings
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.tracing import Tracing


def tracing() -> tuple[Tracing, InMemorySpanExporter]:
    out = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(out))
    return Tracing(provider), out


def chats(out: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in out.get_finished_spans() if s.name.startswith("chat ")]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_every_retry_and_failover_is_its_own_chat_span(registry: Registry) -> None:
    tel, out = tracing()
    slow = FakeChatModel(replies=[TimeoutError("slow")])
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({"tiny:model": slow, "mid:model": FakeChatModel()}),
        tracing=tel,
        health=ModelHealth(retry=RetrySettings(attempts=2, initial_s=0, jitter_s=0)),
    )
    result = dispatcher.call(Hop(specialist="w", prompt="hi"), [HumanMessage("hi")])
    assert result.ok
    spans = chats(out)
    assert [s.name for s in spans] == ["chat model"] * 3  # tiny, tiny again, mid
    assert [attrs(s)["dispatch.attempt"] for s in spans] == [1, 2, 3]
    assert [r.model for r in result.records] == ["tiny:model"] * 2 + ["mid:model"]
    for failed in spans[:2]:
        assert failed.status.status_code is StatusCode.ERROR
        assert attrs(failed)["error.type"] == "TimeoutError"
    served = spans[2]
    assert served.status.status_code is StatusCode.UNSET
    assert attrs(served)["dispatch.fallback_from"] == "tiny:model"
    assert [e.name for e in served.events] == ["dispatch.fallback"]
    assert attrs(served)["gen_ai.usage.cost"] == attrs(served)["dispatch.cost_usd"] > 0


class State(MessagesState, DispatchState):
    pass


def test_a_pinned_conversation_reads_its_prefix_from_the_cache_and_says_so() -> None:
    tel, out = tracing()
    dispatcher = Dispatcher(Registry.from_config(), simulate=True, tracing=tel)
    # a long system prompt, as agents have: past the providers' 1,024-token minimum
    writer = Specialist(
        name="writer", capability="general", prompt="House rules. " * 600
    )
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, writer))
    builder.add_edge(START, "writer")
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "thread-7"}}
    graph.invoke({"messages": [HumanMessage("Draft a release note.")]}, config)
    with tel.workflow("chat", conversation_id="thread-7"):
        state = graph.invoke(
            {"messages": [HumanMessage("Make it friendlier.")]}, config
        )

    first, second = hop_records(state)
    assert second.pinned and second.model == first.model
    assert first.cache_read_tokens == 0
    assert 0 < second.cache_read_tokens < second.input_tokens
    spec = dispatcher.registry.get(second.model)
    assert spec.cache_read_rate < spec.input_per_mtok
    cold, warm = chats(out)
    for span in (cold, warm):
        a = attrs(span)
        assert a["gen_ai.conversation.id"] == a["session.id"] == "thread-7"
        assert a["gen_ai.usage.cost"] == pytest.approx(a["dispatch.cost_usd"])
    assert "gen_ai.usage.cache_read.input_tokens" not in attrs(cold)
    assert (
        attrs(warm)["gen_ai.usage.cache_read.input_tokens"] == second.cache_read_tokens
    )
    assert attrs(warm)["gen_ai.usage.input_tokens"] == second.input_tokens
    assert attrs(warm)["dispatch.cost_usd"] == pytest.approx(float(second.cost_usd))
    (root,) = [s for s in out.get_finished_spans() if s.name == "invoke_workflow chat"]
    assert attrs(root)["session.id"] == "thread-7"
    assert attrs(root)["gen_ai.usage.cache_read.input_tokens"] == (
        second.cache_read_tokens
    )
    assert "gen_ai.usage.cost" not in attrs(root)  # the hops carry it, once each


def test_a_chat_scope_leaves_http_instrumentation_alone_by_default() -> None:
    span = TracerProvider().get_tracer("t").start_span("chat x")
    with chat_scope(span):
        assert trace.get_current_span() is span
        # provider-SDK LLM instrumentations see that a model span exists...
        assert context.get_value("suppress_language_model_instrumentation") is True
        # ...but nothing else is suppressed while no LangChain instrumentation runs
        assert not context.get_value(_SUPPRESS_INSTRUMENTATION_KEY)
    assert trace.get_current_span() is not span
