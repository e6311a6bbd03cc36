"""With the OpenTelemetry LangChain instrumentation also running, each model
call still has exactly one ``chat`` span: graph-dispatch's.

Uses the real instrumentation from PyPI (``opentelemetry-instrumentation-
langchain``, in the ``test`` extra). It runs in its own process (a fork of
the pre-imported CLI, ``tests/_warm_cli.py``): the instrumentation's
``uninstrument()`` leaves LangChain and LangGraph wrapped, so in this process
it would leak spans into every later test.
"""

from __future__ import annotations

import json
import os
import textwrap
from typing import Any

import pytest
from _warm_cli import shared

pytest.importorskip("opentelemetry.instrumentation.langchain")

SCRIPT = textwrap.dedent(
    """
    import json
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph
    from opentelemetry import context
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
    from opentelemetry.instrumentation.langchain import LangchainInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )
    from opentelemetry.trace import SpanKind

    from dispatch import (
        Dispatcher, DispatchState, Registry, Specialist, hop_records, routed_node,
    )
    from dispatch._otel import chat_scope, langchain_instrumented
    from dispatch.sim import SimChatModel
    from dispatch.tracing import Tracing

    out = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(out))
    report = {"detected_before": langchain_instrumented()}
    LangchainInstrumentor().instrument(tracer_provider=provider)
    report["detected"] = langchain_instrumented()
    with chat_scope(provider.get_tracer("t").start_span("chat x")):
        report["suppressed_in_scope"] = bool(
            context.get_value(_SUPPRESS_INSTRUMENTATION_KEY)
        )

    def model_spans():
        return [
            {
                "scope": s.instrumentation_scope.name,
                "tier": (s.attributes or {}).get("dispatch.tier"),
            }
            for s in out.get_finished_spans()
            if s.kind is SpanKind.CLIENT
            and (s.attributes or {}).get("gen_ai.operation.name") == "chat"
        ]

    SimChatModel(model="openai:gpt-5.4-mini").invoke([HumanMessage("hello")])
    report["alone"] = model_spans()
    out.clear()

    class State(MessagesState, DispatchState):
        pass

    dispatcher = Dispatcher(
        Registry.from_config(), simulate=True, tracing=Tracing(provider)
    )
    writer = Specialist(name="writer", capability="general", prompt="Be brief.")
    builder = StateGraph(State)
    builder.add_node("writer", routed_node(dispatcher, writer))
    builder.add_edge(START, "writer")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"messages": [HumanMessage("Draft a release note.")]}, config)
    state = graph.invoke({"messages": [HumanMessage("Shorter.")]}, config)
    report["hops"] = len(hop_records(state))
    report["under_dispatch"] = model_spans()
    report["scopes"] = sorted(
        {s.instrumentation_scope.name for s in out.get_finished_spans()}
    )
    print(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and not k.endswith("_API_KEY")
    }
    script = tmp_path_factory.mktemp("instrumented") / "instrumented.py"
    script.write_text(SCRIPT)
    proc = shared().run(script=script, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_instrumentation_is_detected_only_while_it_instruments(
    report: dict[str, Any],
) -> None:
    assert report["detected_before"] is False
    assert report["detected"] is True
    assert report["suppressed_in_scope"] is True


def test_on_its_own_the_instrumentation_records_a_chat_span(
    report: dict[str, Any],
) -> None:
    (span,) = report["alone"]
    assert span["scope"] != "graph-dispatch"


def test_under_graph_dispatch_each_call_has_one_chat_span_and_it_is_ours(
    report: dict[str, Any],
) -> None:
    spans = report["under_dispatch"]
    assert len(spans) == report["hops"] == 2
    assert all(s["scope"] == "graph-dispatch" and s["tier"] for s in spans)
    # the instrumentation was live: its graph and chain spans are all there
    assert len(report["scopes"]) > 1
