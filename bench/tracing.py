"""Tracing overhead per hop: spans and metrics on (OpenTelemetry SDK, batch processor)
against off (no-op providers), same routed graph and fake model, same run.

Run: ``python -m bench`` (or ``python bench/tracing.py``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from dispatch import Dispatcher, DispatchState, Registry, Specialist
from dispatch.testing import FakeChatModel
from dispatch.tracing import Tracing

PROMPT = "What does the runbook say about the checkout latency SLO and escalation?"


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _State(MessagesState, DispatchState):
    pass


def _graph(tracing: Tracing, model: FakeChatModel) -> Any:
    dispatcher = Dispatcher(
        Registry.from_config(), model_factory=lambda s: model, tracing=tracing
    )
    specialist = Specialist(
        name="search", capability="search", prompt="Answer briefly."
    )
    builder = StateGraph(_State)
    builder.add_node("search", dispatcher.node(specialist))
    builder.add_edge(START, "search")
    return builder.compile()


def _time(graph: Any, n: int) -> float:
    inputs = {"messages": [HumanMessage(PROMPT)]}
    start = time.perf_counter()
    for _ in range(n):
        graph.invoke(inputs)
    return (time.perf_counter() - start) / n


def main() -> None:
    """Print per-hop time with tracing off and on, and the ratio."""
    model = FakeChatModel(replies=[AIMessage(content="The SLO is p95 < 250 ms.")])
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(_Drop()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    off = _graph(
        Tracing(trace.NoOpTracerProvider(), metrics.NoOpMeterProvider()), model
    )
    on = _graph(Tracing(tp, mp), model)
    _time(off, 50), _time(on, 50)
    off_t, on_t = [], []
    for _ in range(10):
        off_t.append(_time(off, 100))
        on_t.append(_time(on, 100))
        model.requests.clear()
    a, b = statistics.median(off_t), statistics.median(on_t)
    tp.shutdown()
    mp.shutdown()
    print(f"routed hop, tracing off (no-op)   : {a * 1e3:.3f} ms/hop")
    print(f"routed hop, tracing on (SDK)      : {b * 1e3:.3f} ms/hop")
    print(f"tracing overhead per hop          : {(b - a) * 1e3:.3f} ms ({b / a:.2f}x)")


if __name__ == "__main__":
    main()
