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

A CLI run must not hang on, or be drowned by, a collector it cannot reach:
unless ``OTEL_EXPORTER_OTLP[_TRACES|_METRICS]_TIMEOUT`` says otherwise, each
export gets `EXPORT_TIMEOUT_S` seconds (the SDK's default is 10 s with up to
six retries); once an export failed, no other is tried in the same run (a dead
endpoint costs one timeout, not one per signal and batch);
and the SDK's retry and failure log lines are collected and summarised as one
``warning:`` line on stderr when the run ends. A collector that takes traces
only (Phoenix answers 405 to metrics) wants ``OTEL_METRICS_EXPORTER=none``;
the warning says so.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

from dispatch.errors import ConfigError
from dispatch.tracing import Tracing

__all__ = ("EXPORT_TIMEOUT_S", "telemetry_enabled", "telemetry_from_env")

EXPORT_TIMEOUT_S = 3.0
"""Seconds one OTLP export may take, retries included, unless the environment says."""

_TRIGGERS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)
"""Any of these set (non-empty) turns telemetry on. Metrics settings alone never
do: without a trace destination the CLI keeps the no-op providers."""


def telemetry_enabled(env: Mapping[str, str] | None = None) -> bool:
    """True when the environment asks for telemetry (`_TRIGGERS`).

    Args:
        env: the variables to read; default `os.environ` (tests pass a dict).
    """
    env = os.environ if env is None else env
    return any(env.get(name) for name in _TRIGGERS)


@contextmanager
def telemetry_from_env(env: Mapping[str, str] | None = None) -> Iterator[Tracing]:
    """A `Tracing` for the CLI: SDK providers when the environment asks, else no-ops.

    The providers are flushed and shut down on exit, so a short command delivers
    everything before it ends. They are handed to `Tracing`, never installed as
    the OpenTelemetry globals, so the library and the tests never see a
    process-wide provider they would have to reset.

    Args:
        env: the variables to read; default `os.environ`.

    Yields:
        The `Tracing` to give the dispatcher for the duration of the command.

    Raises:
        ConfigError: an unsupported ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER`` or
            ``OTEL_EXPORTER_OTLP_PROTOCOL``, or ``grpc`` without its exporter
            package. Raised on entry, before anything runs.
    """
    env = os.environ if env is None else env
    if not telemetry_enabled(env):
        yield Tracing(trace.NoOpTracerProvider(), metrics.NoOpMeterProvider())
        return
    resource = Resource.create(
        {"service.name": env.get("OTEL_SERVICE_NAME") or "graph-dispatch"}
    )
    tracer_provider = TracerProvider(resource=resource)
    give_up = _GiveUp()
    span_exporter = _span_exporter(env, give_up)
    if span_exporter is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    readers: list[Any] = []
    metric_exporter = _metric_exporter(env, give_up)
    if metric_exporter is not None:
        readers.append(PeriodicExportingMetricReader(metric_exporter))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    with _export_log(env) as log:
        try:
            yield Tracing(tracer_provider, meter_provider)
        finally:
            tracer_provider.shutdown()
            meter_provider.shutdown()
    if log.messages:
        sys.stderr.write(_export_warning(env, log.messages) + "\n")


def _protocol(env: Mapping[str, str]) -> str:
    """``OTEL_EXPORTER_OTLP_PROTOCOL``, refused unless ``http/protobuf``/``grpc``."""
    proto = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if proto not in ("http/protobuf", "grpc"):
        raise ConfigError(
            "unsupported OTLP protocol",
            path="OTEL_EXPORTER_OTLP_PROTOCOL",
            found=proto,
            expected="http/protobuf or grpc",
        )
    return proto


def _span_exporter(env: Mapping[str, str], give_up: _GiveUp) -> SpanExporter | None:
    """The span exporter ``OTEL_TRACES_EXPORTER`` names; None for ``none``.

    Only the HTTP exporter gets the short timeout and the give-up wrapper;
    a gRPC exporter is used as built, with its own timeout and retries.
    """
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

    return _OnceSpanExporter(OTLPSpanExporter(timeout=_timeout(env, "TRACES")), give_up)


def _metric_exporter(env: Mapping[str, str], give_up: _GiveUp) -> MetricExporter | None:
    """The metric exporter; by default OTLP only when an OTLP endpoint is set.

    ``OTEL_TRACES_EXPORTER=console`` alone therefore prints spans without a
    metrics exporter failing against a collector nobody configured.
    """
    kind = env.get("OTEL_METRICS_EXPORTER", "otlp" if _otlp_wanted(env) else "none")
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleMetricExporter(out=sys.stderr)
    if kind != "otlp":
        raise ConfigError(
            "unsupported metrics exporter",
            path="OTEL_METRICS_EXPORTER",
            found=kind,
            expected="otlp, console or none",
        )
    if _protocol(env) == "grpc":
        grpc_metrics: MetricExporter = _grpc("metric_exporter", "OTLPMetricExporter")
        return grpc_metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter,
    )

    return _OnceMetricExporter(
        OTLPMetricExporter(timeout=_timeout(env, "METRICS")), give_up
    )


def _grpc(module: str, name: str) -> Any:
    """Build the gRPC exporter `name`, imported only when asked for.

    The gRPC exporter is an optional package with a heavy dependency
    (grpcio); a missing install is a `ConfigError` naming the package.
    """
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
    """True when an endpoint that could receive OTLP metrics is configured."""
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    )


def _timeout(env: Mapping[str, str], signal: str) -> float | None:
    """None (the exporter reads the environment) when the user set a timeout."""
    if env.get(f"OTEL_EXPORTER_OTLP_{signal}_TIMEOUT") or env.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT"
    ):
        return None
    return EXPORT_TIMEOUT_S


class _GiveUp:
    """Shared by a run's exporters: after one failed export, none is tried again."""

    failed = False
    """Set by the first failed export of any signal; never cleared in a run."""


class _OnceSpanExporter(SpanExporter):
    """Delegates until an export fails, then drops batches: one timeout per run."""

    def __init__(self, inner: SpanExporter, give_up: _GiveUp) -> None:
        """Wrap `inner`; `give_up` is shared with the run's metric exporter."""
        self._inner = inner
        self._give_up = give_up

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export through the inner exporter, or fail at once after a failure."""
        if self._give_up.failed:
            return SpanExportResult.FAILURE
        result = self._inner.export(spans)
        self._give_up.failed |= result is SpanExportResult.FAILURE
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _OnceMetricExporter(MetricExporter):
    """`_OnceSpanExporter` for metrics."""

    def __init__(self, inner: MetricExporter, give_up: _GiveUp) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._give_up = give_up

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if self._give_up.failed:
            return MetricExportResult.FAILURE
        result = self._inner.export(metrics_data, timeout_millis=timeout_millis)
        self._give_up.failed |= result is MetricExportResult.FAILURE
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis)


class _Collect(logging.Handler):
    """Keeps the SDK's warnings (level, message) for one summary line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelno, record.getMessage()))


@contextmanager
def _export_log(env: Mapping[str, str]) -> Iterator[_Collect]:
    """Collect the SDK's log lines instead of letting them reach stderr one by one."""
    logger = logging.getLogger("opentelemetry")
    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _export_warning(env: Mapping[str, str], messages: list[tuple[int, str]]) -> str:
    """One ``warning:`` line: the worst message, how many more, and a hint.

    The hint about ``OTEL_METRICS_EXPORTER=none`` is added only when a metrics
    export failed, the usual sign of a traces-only collector.
    """
    worst = max(messages, key=lambda m: m[0])[1]
    endpoint = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or "the OTLP endpoint"
    )
    line = f"warning: telemetry not fully exported to {endpoint}: {worst}"
    if len(messages) > 1:
        line += f" (+{len(messages) - 1} more)"
    if any("metrics" in m for _, m in messages):
        line += (
            "; a traces-only collector (e.g. Phoenix) needs OTEL_METRICS_EXPORTER=none"
        )
    return line
