"""OpenTelemetry SDK set-up for the CLI, from the standard ``OTEL_*`` variables only.

Nothing is set up (and nothing exported) unless one of
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_TRACES_EXPORTER`` is set. ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``
choose ``otlp`` (default), ``console`` or ``none``;
``OTEL_EXPORTER_OTLP_PROTOCOL`` chooses ``http/protobuf`` (default) or ``grpc``
(needs ``opentelemetry-exporter-otlp-proto-grpc``); ``OTEL_SERVICE_NAME`` names
the service (default ``graph-dispatch``). Console output goes to stderr, so ``--json``
stays parseable. The exporters read their endpoint,
headers and timeouts from the environment themselves. This is the only module
that imports the SDK.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

from dispatch.errors import ConfigError
from dispatch.tracing import Tracing

__all__ = ("telemetry_enabled", "telemetry_from_env")

_TRIGGERS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)


def telemetry_enabled(env: Mapping[str, str] | None = None) -> bool:
    """True when the environment asks for telemetry."""
    env = os.environ if env is None else env
    return any(env.get(name) for name in _TRIGGERS)


@contextmanager
def telemetry_from_env(env: Mapping[str, str] | None = None) -> Iterator[Tracing]:
    """A `Tracing` for the CLI: SDK providers when the environment asks, else no-ops.

    The providers are flushed and shut down on exit, so a short command delivers
    everything before it ends.
    """
    env = os.environ if env is None else env
    if not telemetry_enabled(env):
        yield Tracing(trace.NoOpTracerProvider(), metrics.NoOpMeterProvider())
        return
    resource = Resource.create(
        {"service.name": env.get("OTEL_SERVICE_NAME") or "graph-dispatch"}
    )
    tracer_provider = TracerProvider(resource=resource)
    span_exporter = _span_exporter(env)
    if span_exporter is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    readers: list[Any] = []
    metric_exporter = _metric_exporter(env)
    if metric_exporter is not None:
        readers.append(PeriodicExportingMetricReader(metric_exporter))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    try:
        yield Tracing(tracer_provider, meter_provider)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def _protocol(env: Mapping[str, str]) -> str:
    proto = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if proto not in ("http/protobuf", "grpc"):
        raise ConfigError(
            "unsupported OTLP protocol",
            path="OTEL_EXPORTER_OTLP_PROTOCOL",
            found=proto,
            expected="http/protobuf or grpc",
        )
    return proto


def _span_exporter(env: Mapping[str, str]) -> SpanExporter | None:
    kind = env.get("OTEL_TRACES_EXPORTER", "otlp")
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter(out=sys.stderr)
    if kind != "otlp":
        raise ConfigError(
            "unsupported traces exporter",
            path="OTEL_TRACES_EXPORTER",
            found=kind,
            expected="otlp, console or none",
        )
    if _protocol(env) == "grpc":
        grpc_spans: SpanExporter = _grpc("trace_exporter", "OTLPSpanExporter")
        return grpc_spans
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return OTLPSpanExporter()


def _metric_exporter(env: Mapping[str, str]) -> MetricExporter | None:
    kind = env.get("OTEL_METRICS_EXPORTER", "otlp" if _otlp_wanted(env) else "none")
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleMetricExporter(out=sys.stderr)
    if _protocol(env) == "grpc":
        grpc_metrics: MetricExporter = _grpc("metric_exporter", "OTLPMetricExporter")
        return grpc_metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter,
    )

    return OTLPMetricExporter()


def _grpc(module: str, name: str) -> Any:
    try:
        mod = importlib.import_module(
            f"opentelemetry.exporter.otlp.proto.grpc.{module}"
        )
    except ImportError as exc:
        raise ConfigError(
            "OTLP over gRPC needs `pip install opentelemetry-exporter-otlp-proto-grpc`",
            path="OTEL_EXPORTER_OTLP_PROTOCOL",
        ) from exc
    return getattr(mod, name)()


def _otlp_wanted(env: Mapping[str, str]) -> bool:
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    )
