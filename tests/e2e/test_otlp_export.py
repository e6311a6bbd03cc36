"""`dispatch demo` exporting over OTLP/HTTP to a real receiver started in-process.

Jaeger cannot run on the project's CI machines, so the test checks the wire: it
decodes the protobuf requests with `opentelemetry-proto` and asserts the trace.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _warm_cli import shared
from conftest import PROVIDER_KEYS
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        out = []
        for path, body in self.requests:
            if path != "/v1/traces":
                continue
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for rs in request.resource_spans:
                resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                out += [(resource, span) for ss in rs.scope_spans for span in ss.spans]
        return out

    def metric_names(self) -> set[str]:
        names = set()
        for path, body in self.requests:
            if path == "/v1/metrics":
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                names |= {
                    m.name
                    for rm in request.resource_metrics
                    for sm in rm.scope_metrics
                    for m in sm.metrics
                }
        return names


def _value(v: Any) -> Any:
    return getattr(v, v.WhichOneof("value"))


def attrs(span: Span) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in span.attributes}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def demo(tmp_path: Path, **env: str) -> dict[str, Any]:
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in PROVIDER_KEYS and not k.startswith("OTEL_")
    }
    full["DISPATCH_CHECKPOINTS"] = str(tmp_path / "c.sqlite")
    full.update(env)
    # its own process (a fork of the pre-imported CLI): the SDK exports at its exit
    proc = shared().run("demo", "--json", env=full, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_demo_delivers_one_trace_whose_chat_spans_add_up_to_the_total(
    receiver: Receiver, tmp_path: Path
) -> None:
    out = demo(
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_SERVICE_NAME="wire-test",
    )
    spans = receiver.spans()
    assert spans, "nothing was exported"
    assert {res["service.name"] for res, _ in spans} == {"wire-test"}
    tree = {s.span_id: s for _, s in spans}
    assert len({s.trace_id for s in tree.values()}) == 1
    (root,) = [s for s in tree.values() if not s.parent_span_id]
    assert root.name == "invoke_workflow orchestrator"
    chats = [s for s in tree.values() if s.name.startswith("chat ")]
    assert len(chats) == len(out["hops"])
    for chat in chats:
        assert chat.kind == Span.SpanKind.SPAN_KIND_CLIENT
        a = attrs(chat)
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"]
        assert {
            "gen_ai.request.model",
            "dispatch.tier",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "dispatch.cost_usd",
        } <= set(a)
        agent = tree[chat.parent_span_id]
        assert agent.name.startswith("invoke_agent ")
        assert tree[agent.parent_span_id] is root
    assert sum(attrs(c)["dispatch.cost_usd"] for c in chats) == pytest.approx(
        out["total_cost_usd"]
    )
    assert sorted(
        (attrs(c)["gen_ai.request.model"], attrs(c)["gen_ai.usage.output_tokens"])
        for c in chats
    ) == sorted((h["model"].partition(":")[2], h["output_tokens"]) for h in out["hops"])
    assert attrs(root)["dispatch.cost_usd"] == pytest.approx(out["total_cost_usd"])
    assert attrs(root)["dispatch.baseline_cost_usd"] == pytest.approx(
        out["baseline_cost_usd"]
    )
    # no prompt text anywhere without the opt-in
    texts = [str(v) for _, s in spans for v in attrs(s).values()]
    assert not any("Checkout got slower" in t or "runbook" in t.lower() for t in texts)
    assert {
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "dispatch.cost",
    } <= receiver.metric_names()


def test_without_the_endpoint_nothing_is_exported(
    receiver: Receiver, tmp_path: Path
) -> None:
    out = demo(tmp_path)
    assert out["hops"]
    assert receiver.requests == []


def test_against_a_real_jaeger_when_one_is_running(tmp_path: Path) -> None:
    try:
        urllib.request.urlopen("http://127.0.0.1:16686/api/services", timeout=1)
    except OSError:
        pytest.skip(
            "no Jaeger on 127.0.0.1:16686 (start it with `docker compose up -d`)"
        )
    out = demo(
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
        OTEL_SERVICE_NAME="graph-dispatch-test",
    )
    with urllib.request.urlopen(
        "http://127.0.0.1:16686/api/traces?service=graph-dispatch-test&limit=1",
        timeout=10,
    ) as reply:
        traces = json.load(reply)["data"]
    spans = traces[0]["spans"]
    assert sum(1 for s in spans if s["operationName"].startswith("chat ")) == len(
        out["hops"]
    )
