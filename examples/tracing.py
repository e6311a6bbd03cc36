"""Every hop a span: run the orchestrator with the OpenTelemetry SDK and print the tree.

Point OTEL_EXPORTER_OTLP_ENDPOINT at Jaeger and use the CLI to see the same in a UI.
"""

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dispatch import Dispatcher
from dispatch.graphs import build_orchestrator
from dispatch.tracing import Tracing

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracing = Tracing(provider)

dispatcher = Dispatcher.from_config(simulate=True, tracing=tracing)
graph = build_orchestrator(dispatcher)
with tracing.workflow("orchestrator", conversation_id="example"):
    asyncio.run(graph.ainvoke({"request": "Compute 12 * 7. Find the deploy policy."}))

spans = exporter.get_finished_spans()
children = {}
for span in spans:
    children.setdefault(span.parent.span_id if span.parent else None, []).append(span)


def show(parent_id: int | None, depth: int) -> None:
    for span in children.get(parent_id, []):
        attrs = span.attributes or {}
        extra = ""
        if span.name.startswith("chat "):
            extra = f"  tier={attrs['dispatch.tier']} cost=${attrs['dispatch.cost_usd']:.6f}"
        print("  " * depth + span.name + extra)
        show(span.context.span_id, depth + 1)


show(None, 0)
