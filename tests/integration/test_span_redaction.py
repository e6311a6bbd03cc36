"""No span carries raw exception text: a failure's ``exception`` event, status
and refusal reason are redacted, whatever raised (a workflow, a router, a
tool). And a tool error carrying URL credentials never reaches the next model
call (the QA finding behind the URL-userinfo rule).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv.attributes import exception_attributes as semconv
from opentelemetry.trace import StatusCode

from dispatch import Dispatcher, Ledger, Registry, Specialist
from dispatch._otel import (
    EXCEPTION_EVENT,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.tracing import Tracing
from dispatch.types import Hop

httpx = pytest.importorskip("httpx")

KEY = "sk-ant-api03-SECRETsecret1234567890abcdefXYZ"
PASSWORD = "S3cretPassw0rd"


class Spans:
    def __init__(self) -> None:
        self.out = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.out))
        self.tracing = Tracing(provider)

    def named(self, name: str) -> ReadableSpan:
        (span,) = [s for s in self.out.get_finished_spans() if s.name == name]
        return span

    def text(self) -> str:
        return "".join(s.to_json() for s in self.out.get_finished_spans())


def exception_event(span: ReadableSpan) -> dict[str, Any]:
    (event,) = [e for e in span.events if e.name == EXCEPTION_EVENT]
    return dict(event.attributes or {})


def test_the_event_uses_the_semantic_conventions_names() -> None:
    assert EXCEPTION_TYPE == semconv.EXCEPTION_TYPE
    assert EXCEPTION_MESSAGE == semconv.EXCEPTION_MESSAGE
    assert EXCEPTION_STACKTRACE == semconv.EXCEPTION_STACKTRACE


def test_a_failed_workflow_records_a_redacted_exception_event() -> None:
    spans = Spans()

    def call_api() -> None:
        raise RuntimeError(
            f"POST https://svc:{PASSWORD}@api.example.com/v1?api_key={KEY} failed"
        )

    with pytest.raises(RuntimeError), spans.tracing.workflow("orchestrator"):
        try:
            call_api()
        except RuntimeError as exc:  # a chained cause is in the trace too
            raise RuntimeError(f"run failed: Authorization: Token {KEY}") from exc

    span = spans.named("invoke_workflow orchestrator")
    event = exception_event(span)
    assert event[EXCEPTION_TYPE] == "RuntimeError"
    assert event[EXCEPTION_MESSAGE] == "run failed: Authorization: Token [REDACTED]"
    # the trace keeps its frames and both messages, redacted
    trace = event[EXCEPTION_STACKTRACE]
    assert "in call_api" in trace
    assert "https://[REDACTED]@api.example.com/v1?api_key=[REDACTED] failed" in trace
    assert trace.endswith("RuntimeError: run failed: Authorization: Token [REDACTED]\n")
    assert "exception.escaped" not in event  # deprecated by the conventions
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == event[EXCEPTION_MESSAGE]
    assert KEY not in spans.text()
    assert PASSWORD not in spans.text()


class _RefusingRouter:
    def decide(self, hop: Hop) -> Any:
        raise ValueError(f"router backend refused key {KEY}")


def test_a_router_error_leaves_no_key_on_the_agent_span(registry: Registry) -> None:
    spans = Spans()
    dispatcher = Dispatcher(
        registry,
        router=_RefusingRouter(),  # type: ignore[arg-type]
        model_factory=fake_factory({}),
        tracing=spans.tracing,
    )
    writer = Specialist(name="writer", capability="general", prompt="p")
    with pytest.raises(ValueError, match="router backend refused"):
        dispatcher.run_specialist(writer, [HumanMessage("hi")])
    event = exception_event(spans.named("invoke_agent writer"))
    assert event[EXCEPTION_TYPE] == "ValueError"
    assert event[EXCEPTION_MESSAGE] == "router backend refused key [REDACTED]"
    assert KEY not in spans.text()


def test_an_exception_whose_str_fails_is_still_recorded() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    spans = Spans()
    with pytest.raises(Unprintable), spans.tracing.workflow("w"):
        raise Unprintable()
    span = spans.named("invoke_workflow w")
    event = exception_event(span)
    assert event[EXCEPTION_TYPE].endswith("Unprintable")
    assert "unprintable" in event[EXCEPTION_MESSAGE]
    assert span.status.status_code is StatusCode.ERROR


@tool
def fetch_orders(customer: str) -> str:
    """Fetch a customer's orders from the internal API."""
    url = f"https://svc:{PASSWORD}@orders.internal/v1/{customer}"
    response = httpx.Response(401, request=httpx.Request("GET", url))
    response.raise_for_status()
    return "never"


def test_a_tool_error_with_url_credentials_reaches_no_model_and_no_span(
    registry: Registry,
) -> None:
    spans = Spans()
    model = FakeChatModel(
        replies=[
            AIMessage(
                content="",
                tool_calls=[
                    {"name": "fetch_orders", "args": {"customer": "42"}, "id": "c1"}
                ],
            ),
            AIMessage(content="done"),
        ]
    )
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory(default=lambda spec: model),
        tracing=spans.tracing,
    )
    clerk = Specialist(
        name="clerk", capability="general", prompt="p", tools=(fetch_orders,)
    )
    run = asyncio.run(
        dispatcher.arun_specialist(
            clerk, [HumanMessage("orders for 42")], ledger=Ledger(Decimal(1))
        )
    )
    (reply,) = [m for m in run.messages if isinstance(m, ToolMessage)]
    assert reply.status == "error"
    assert "for url 'https://[REDACTED]@orders.internal/v1/42'" in reply.text
    assert PASSWORD not in str(run.messages)
    assert all(PASSWORD not in str(request) for request in model.requests)
    assert PASSWORD not in spans.text()
