"""Tracing overhead per hop: spans and metrics on (OpenTelemetry SDK, batch processor)
against off (no-op providers), same routed graph and fake model, same run.

Run: ``python -m bench`` (or ``python -m bench.tracing``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from langchain_core.messages import AIMessage
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from bench.overhead import routed_graph, time_per_hop
from dispatch.testing import FakeChatModel
from dispatch.tracing import Tracing


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def main() -> None:
    """Print per-hop time with tracing off and on, and the ratio."""
    model = FakeChatModel(replies=[AIMessage(content="The SLO is p95 < 250 ms.")])
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(_Drop()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    off = routed_graph(
        model, Tracing(trace.NoOpTracerProvider(), metrics.NoOpMeterProvider())
    )
    on = routed_graph(model, Tracing(tp, mp))
    time_per_hop(off, 50), time_per_hop(on, 50)
    off_t, on_t = [], []
    for _ in range(10):
        off_t.append(time_per_hop(off, 100))
        on_t.append(time_per_hop(on, 100))
        model.requests.clear()
    a, b = statistics.median(off_t), statistics.median(on_t)
    tp.shutdown()
    mp.shutdown()
    print(f"routed hop, tracing off (no-op)   : {a * 1e3:.3f} ms/hop")
    print(f"routed hop, tracing on (SDK)      : {b * 1e3:.3f} ms/hop")
    print(f"tracing overhead per hop          : {(b - a) * 1e3:.3f} ms ({b / a:.2f}x)")


if __name__ == "__main__":
    main()
