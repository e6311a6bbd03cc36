"""Spans and metrics with the real OpenTelemetry SDK (in-memory exporters)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from dispatch import Dispatcher, Hop, Ledger, Registry, Specialist, hop_records
from dispatch.graphs import DEMO_PLAN, DEMO_REQUEST, build_orchestrator
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.tracing import Tracing

DEPRECATED = (
    "gen_ai.system",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
)


class Telemetry:
    def __init__(self, capture_content: bool = False) -> None:
        self.spans_out = InMemorySpanExporter()
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(self.spans_out))
        self.metrics_in = InMemoryMetricReader()
        mp = MeterProvider(metric_readers=[self.metrics_in])
        self.tracing = Tracing(tp, mp, capture_content=capture_content)

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_out.get_finished_spans())

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics_in.get_metrics_data()
        assert data is not None
        return [
            p
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == name
            for p in metric.data.data_points
        ]


def run_demo(tel: Telemetry, config: dict[str, Any] | None = None) -> dict[str, Any]:
    dispatcher = Dispatcher(Registry.from_config(), simulate=True, tracing=tel.tracing)
    graph = build_orchestrator(dispatcher, synthesis_tier="medium")
    config = config or {"configurable": {"thread_id": "th-1", "workflow_id": "wf-1"}}
    with tel.tracing.workflow(
        "orchestrator", conversation_id="th-1", workflow_id="wf-1"
    ):
        return dict(
            asyncio.run(
                graph.ainvoke({"request": DEMO_REQUEST, "tasks": DEMO_PLAN}, config)
            )
        )


def test_the_demo_is_one_trace_of_workflow_agent_chat_and_tool_spans() -> None:
    tel = Telemetry()
    state = run_demo(tel)
    spans = tel.spans()
    by_id = {s.context.span_id: s for s in spans}
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "invoke_workflow orchestrator"
    assert len({s.context.trace_id for s in spans}) == 1
    chats = [s for s in spans if s.name.startswith("chat ")]
    records = hop_records(state)
    assert len(chats) == len(records)
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT
        parent = by_id[chat.parent.span_id]  # type: ignore[union-attr]
        assert parent.name.startswith("invoke_agent ")
        assert by_id[parent.parent.span_id] is root  # type: ignore[union-attr]
        attrs = dict(chat.attributes or {})
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] in {
            "openai",
            "anthropic",
            "gcp.gemini",
            "ollama",
        }
        assert chat.name == f"chat {attrs['gen_ai.request.model']}"
        assert attrs["gen_ai.conversation.id"] == "th-1"
        for key in (
            "gen_ai.response.model",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.agent.name",
            "dispatch.tier",
            "dispatch.capability",
            "dispatch.cost_usd",
            "dispatch.router",
            "dispatch.confidence",
            "dispatch.reason",
            "dispatch.pinned",
        ):
            assert key in attrs, key
        assert not any(k in attrs for k in DEPRECATED)
        assert "gen_ai.input.messages" not in attrs  # no content unless opted in
    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    assert {s.name for s in tools} >= {
        "execute_tool run_python",
        "execute_tool search_documents",
    }
    assert all(by_id[s.parent.span_id].name.startswith("invoke_agent") for s in tools)  # type: ignore[union-attr]
    total = sum((r.cost_usd for r in records), Decimal(0))
    chat_total = sum(dict(c.attributes or {})["dispatch.cost_usd"] for c in chats)  # type: ignore[misc]
    assert chat_total == pytest.approx(float(total))
    root_attrs = dict(root.attributes or {})
    assert root_attrs["dispatch.cost_usd"] == pytest.approx(float(total))
    assert root_attrs["dispatch.baseline_cost_usd"] > root_attrs["dispatch.cost_usd"]
    assert root_attrs["dispatch.hops"] == len(records)
    # pins are per (specialist, tier): the large alerting task opens its own scope
    # instead of re-pinning coding's small model, so the demo has no re-pin
    assert not [e for c in chats for e in c.events if e.name == "dispatch.repin"]
    changes = {dict(c.attributes or {})["dispatch.pin_change"] for c in chats}
    assert changes == {"new", "kept"}


def test_metrics_follow_the_conventions() -> None:
    tel = Telemetry()
    state = run_demo(tel)
    points = tel.metric_points("gen_ai.client.token.usage")
    types = {p.attributes["gen_ai.token.type"] for p in points}
    assert types == {"input", "output"}
    tokens = sum(p.sum for p in points)
    records = hop_records(state)
    assert tokens == sum(r.input_tokens + r.output_tokens for r in records)
    assert tel.metric_points("gen_ai.client.operation.duration")
    cost = sum(p.value for p in tel.metric_points("dispatch.cost"))
    assert cost == pytest.approx(float(sum((r.cost_usd for r in records), Decimal(0))))


def test_content_is_recorded_only_when_opted_in() -> None:
    tel = Telemetry(capture_content=True)
    run_demo(tel)
    chat = next(s for s in tel.spans() if s.name.startswith("chat "))
    assert "gen_ai.input.messages" in (chat.attributes or {})
    assert "gen_ai.output.messages" in (chat.attributes or {})


def test_fallbacks_and_refusals_are_span_events(registry: Registry) -> None:
    tel = Telemetry()
    broken = FakeChatModel(replies=[RuntimeError("down")])
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({"tiny:model": broken}),
        tracing=tel.tracing,
    )
    writer = Specialist(name="writer", capability="general", prompt="p")
    asyncio.run(dispatcher.arun_specialist(writer, [HumanMessage("Say hello")]))
    failed, served = [s for s in tel.spans() if s.name.startswith("chat ")]
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "RuntimeError"
    assert [e.name for e in served.events] == ["dispatch.fallback"]
    assert dict(served.attributes or {})["dispatch.fallback_from"] == "tiny:model"

    ledger = Ledger(Decimal(0), "hard", workflow="x")
    asyncio.run(dispatcher.arun_specialist(writer, [HumanMessage("Hi")], ledger=ledger))
    agent = [s for s in tel.spans() if s.name == "invoke_agent writer"][-1]
    assert [e.name for e in agent.events] == ["dispatch.budget.refused"]


class _BrokenTracer(trace.Tracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("exporter on fire")

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("exporter on fire")


class _BrokenProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _BrokenTracer()


def test_telemetry_never_breaks_a_hop(registry: Registry) -> None:
    dispatcher = Dispatcher(
        registry, model_factory=fake_factory({}), tracing=Tracing(_BrokenProvider())
    )
    result = dispatcher.call(Hop(specialist="s", prompt="hi"), [HumanMessage("hi")])
    assert result.record.error is None


def test_a_circuit_opening_is_a_span_event(registry: Registry) -> None:
    tel = Telemetry()
    broken = FakeChatModel(replies=[RuntimeError("down")])
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory({"tiny:model": broken}),
        tracing=tel.tracing,
    )
    writer = Specialist(name="writer", capability="general", prompt="p")
    for _ in range(10):  # the default breaker: half of at least 10 calls failed
        dispatcher.run_specialist(writer, [HumanMessage("Say hello")])
    events = [e for s in tel.spans() for e in s.events if e.name == "dispatch.circuit"]
    assert [dict(e.attributes or {}) for e in events] == [
        {"model": "tiny:model", "from": "closed", "to": "open"}
    ]
    assert dispatcher.health.snapshot()["tiny:model"].state == "open"
