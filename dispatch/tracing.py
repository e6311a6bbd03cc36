"""Every hop a span: OpenTelemetry GenAI spans and metrics, through the API only.

Spans: ``invoke_workflow {name}`` (a run) > ``invoke_agent {specialist}`` >
``chat {model}`` (kind CLIENT, one per model call) and ``execute_tool {tool}``.
They nest across `Send` branches and asyncio tasks because each is started in
the current context, which LangGraph copies into its tasks. Every attempt of a
hop (a retry, a failover) is its own ``chat`` span. Re-pins, fallbacks and
budget refusals are span events. The LangGraph thread id is
``gen_ai.conversation.id`` and ``session.id``; cost is ``dispatch.cost_usd`` and
``gen_ai.usage.cost`` (Langfuse's name); prompt-cache reads and writes are
``gen_ai.usage.cache_read.input_tokens`` / ``cache_creation.input_tokens``.
Prompt and completion text is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is true. When the
OpenTelemetry LangChain instrumentation is active too, its chat span for the
same call is suppressed (`dispatch._otel`), so each call has one.

The providers are injected (default: the global ones, no-ops until an SDK is
installed, as the CLI does from ``OTEL_*`` variables). Telemetry never raises:
a failure is logged and the hop goes on.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from decimal import Decimal
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables.config import var_child_runnable_config
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

import dispatch._semconv as sc
from dispatch._otel import (
    TOTALS,
    WorkflowTotals,
    chat_scope,
    end_span,
    fail_span,
    messages_json,
    never_raises,
    record_attributes,
    use_span,
)
from dispatch.faults import redact
from dispatch.records import HopRecord
from dispatch.types import Hop, ModelChoice

__all__ = ("Tracing", "WorkflowTotals")

_log = logging.getLogger(__name__)

RECHECK_S = 1.0
"""Seconds between lookups of the global providers while none is installed."""


def conversation_id() -> str | None:
    """The thread id of the LangGraph run this code runs in, if any."""
    # The context variable LangChain/LangGraph set for the running step; read
    # directly because `ensure_config()` copies the whole config on every call.
    config = var_child_runnable_config.get() or {}
    thread = config.get("configurable", {}).get("thread_id")
    return None if thread is None else str(thread)


def provider_name(provider: str) -> str:
    """The ``gen_ai.provider.name`` of a LangChain provider id."""
    return sc.PROVIDER_NAMES.get(provider, provider)


class Tracing:
    """Spans and metrics for hops.

    Args:
        tracer_provider: where spans go (default: the global provider).
        meter_provider: where metrics go (default: the global provider).
        capture_content: record prompt/completion text; default from
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        *,
        capture_content: bool | None = None,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer = trace.get_tracer(
            "graph-dispatch", tracer_provider=tracer_provider
        )
        meter = metrics.get_meter("graph-dispatch", meter_provider=meter_provider)
        self._tokens = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Tokens used per model call",
        )
        self._duration = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION,
            unit="s",
            description="Duration of a model call",
        )
        self._cost = meter.create_counter(
            sc.METRIC_COST,
            unit="USD",
            description="USD spent on model calls, by tier and model",
        )
        if capture_content is None:
            flag = os.environ.get(sc.CAPTURE_CONTENT_ENV, "")
            capture_content = flag.strip().lower() in ("1", "true", "yes")
        self.capture_content = capture_content
        self._seen: tuple[float, bool] | None = None
        """(recheck after this `time.monotonic()`, the answer)"""

    @property
    def tracer_provider(self) -> trace.TracerProvider:
        """Where this tracing's spans go (the injected provider, else the global
        one): hand it to another instrumentation to keep one trace."""
        return self._tracer_provider or trace.get_tracer_provider()

    @property
    def enabled(self) -> bool:
        """False when neither spans nor metrics can be recorded (no SDK installed).

        When off, hops skip building attributes altogether. The global
        providers are looked up at most every `RECHECK_S` seconds (the API
        reads the environment on each lookup while none is installed, which
        showed up in ``bench/overhead.py``), so an SDK installed later turns
        tracing on within that time; explicit providers never change.
        """
        now = time.monotonic()
        seen = self._seen
        if seen is not None and now < seen[0]:
            return seen[1]
        tp = self._tracer_provider or trace.get_tracer_provider()
        mp = self._meter_provider or metrics.get_meter_provider()
        spans_off = isinstance(
            tp, (trace.NoOpTracerProvider, trace.ProxyTracerProvider)
        )
        # the API's proxy meter provider is private; recognise it by name
        metrics_off = isinstance(mp, metrics.NoOpMeterProvider) or (
            type(mp).__name__ == "_ProxyMeterProvider"
        )
        on = not (spans_off and metrics_off)
        explicit = (
            self._tracer_provider is not None and self._meter_provider is not None
        )
        self._seen = (math.inf if explicit or on else now + RECHECK_S, on)
        return on

    # -- workflow ---------------------------------------------------------------------

    @contextmanager
    def workflow(
        self,
        name: str,
        *,
        conversation_id: str | None = None,
        workflow_id: str | None = None,
    ) -> Iterator[WorkflowTotals]:
        """Span ``invoke_workflow {name}`` around a run; totals are set when it ends."""
        totals = WorkflowTotals()
        token = TOTALS.set(totals)
        span = self._start(
            f"{sc.OP_INVOKE_WORKFLOW} {name}",
            SpanKind.INTERNAL,
            {
                sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW,
                sc.GEN_AI_CONVERSATION_ID: conversation_id,
                sc.SESSION_ID: conversation_id,
                sc.WORKFLOW_ID: workflow_id,
            },
        )
        try:
            with use_span(span):
                yield totals
        except BaseException as exc:
            fail_span(span, exc)
            raise
        finally:
            TOTALS.reset(token)
            self._end_workflow(span, totals)

    @never_raises()
    def _end_workflow(self, span: Span | None, totals: WorkflowTotals) -> None:
        if span is None:
            return
        span.set_attributes(
            {
                sc.COST_USD: float(totals.cost_usd),
                sc.BASELINE_COST_USD: float(totals.baseline_cost_usd),
                sc.GEN_AI_USAGE_INPUT_TOKENS: totals.input_tokens,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: totals.output_tokens,
                sc.HOPS: totals.hops,
                sc.REFUSED_HOPS: totals.refused,
            }
        )
        # cost stays off `gen_ai.usage.cost` here: a backend summing it per
        # span (Langfuse) would count the workflow's hops twice
        if totals.cache_read_tokens:
            span.set_attribute(
                sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, totals.cache_read_tokens
            )
        if totals.cache_write_tokens:
            span.set_attribute(
                sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, totals.cache_write_tokens
            )
        span.end()

    # -- agent and tool ---------------------------------------------------------------

    def agent(self, name: str, *, step: str) -> AbstractContextManager[None]:
        """Span ``invoke_agent {name}`` around a specialist's run."""
        if not self.enabled:
            return nullcontext()
        thread = conversation_id()
        span = self._start(
            f"{sc.OP_INVOKE_AGENT} {name}",
            SpanKind.INTERNAL,
            {
                sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
                sc.GEN_AI_AGENT_NAME: name,
                sc.GEN_AI_CONVERSATION_ID: thread,
                sc.SESSION_ID: thread,
                sc.STEP: step,
            },
        )
        return self._span_scope(span)

    def tool(self, name: str, call_id: str | None) -> AbstractContextManager[None]:
        """Span ``execute_tool {name}`` around one tool call."""
        if not self.enabled:
            return nullcontext()
        span = self._start(
            f"{sc.OP_EXECUTE_TOOL} {name}",
            SpanKind.INTERNAL,
            {
                sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
                sc.GEN_AI_TOOL_NAME: name,
                sc.GEN_AI_TOOL_CALL_ID: call_id,
            },
        )
        return self._span_scope(span)

    @contextmanager
    def _span_scope(self, span: Span | None) -> Iterator[None]:
        try:
            with use_span(span):
                yield
        except BaseException as exc:
            fail_span(span, exc)
            raise
        finally:
            end_span(span)

    # -- chat -------------------------------------------------------------------------

    @never_raises()
    def start_chat(
        self,
        hop: Hop,
        choice: ModelChoice,
        messages: Sequence[BaseMessage],
    ) -> Span | None:
        """Start (not activate) the ``chat {model}`` span of one model call."""
        if not self.enabled:
            return None
        thread = conversation_id()
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: provider_name(choice.model.provider),
            sc.GEN_AI_REQUEST_MODEL: choice.model.name,
            sc.GEN_AI_REQUEST_MAX_TOKENS: choice.max_output_tokens,
            sc.GEN_AI_AGENT_NAME: hop.specialist,
            sc.GEN_AI_CONVERSATION_ID: thread,
            sc.SESSION_ID: thread,
            sc.STEP: hop.step,
        }
        if self.capture_content:
            attrs[sc.GEN_AI_INPUT_MESSAGES] = messages_json(messages)
        return self._start(f"{sc.OP_CHAT} {choice.model.name}", SpanKind.CLIENT, attrs)

    def activate(self, span: Span | None) -> AbstractContextManager[Any]:
        """Make `span` current while the model call runs (provider spans nest in
        it); another instrumentation's chat span for the same call is suppressed
        (`dispatch._otel.chat_scope`)."""
        if span is None:
            return nullcontext()
        return chat_scope(span)

    @never_raises()
    def end_chat(
        self,
        span: Span | None,
        record: HopRecord,
        *,
        remaining: Decimal | None,
        reply: AIMessage | None = None,
    ) -> None:
        """Finish a chat span with the hop's record; record the metrics."""
        totals = TOTALS.get()
        if totals is not None:
            totals.add(record)
        if not self.enabled:
            return
        base = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_PROVIDER_NAME: provider_name(record.model.partition(":")[0]),
            sc.GEN_AI_REQUEST_MODEL: record.model.partition(":")[2],
        }
        response_model = None
        if reply is not None:
            response_model = (
                reply.response_metadata.get("model_name")
                or base[sc.GEN_AI_REQUEST_MODEL]
            )
        metric_attrs = (
            {**base, sc.GEN_AI_RESPONSE_MODEL: response_model}
            if response_model
            else dict(base)
        )
        if record.error is not None:
            metric_attrs[sc.ERROR_TYPE] = record.error_type or "error"
        self._duration.record(record.duration_ms / 1000, metric_attrs)
        if record.error is None:
            self._tokens.record(
                record.input_tokens, {**metric_attrs, sc.GEN_AI_TOKEN_TYPE: "input"}
            )
            self._tokens.record(
                record.output_tokens, {**metric_attrs, sc.GEN_AI_TOKEN_TYPE: "output"}
            )
        if record.error is None or record.cost_usd:  # a charged failure is spend
            cost_attrs = {
                sc.TIER: record.tier,
                sc.GEN_AI_REQUEST_MODEL: base[sc.GEN_AI_REQUEST_MODEL],
            }
            if record.error is not None:
                cost_attrs[sc.ERROR_TYPE] = record.error_type or "error"
            self._cost.add(float(record.cost_usd), cost_attrs)
        if span is None:
            return
        span.set_attributes(record_attributes(record, remaining))
        if response_model:
            span.set_attribute(sc.GEN_AI_RESPONSE_MODEL, response_model)
        if reply is not None and self.capture_content:
            span.set_attribute(sc.GEN_AI_OUTPUT_MESSAGES, messages_json([reply]))
        if record.fallback_from:
            span.add_event(
                sc.EVENT_FALLBACK, {"from": record.fallback_from, "to": record.model}
            )
        elif record.repinned_from and record.error is None:
            span.add_event(
                sc.EVENT_REPIN,
                {
                    "from": record.repinned_from,
                    "to": record.model,
                    "reason": record.reason,
                },
            )
        if record.error is not None:
            span.set_attribute(sc.ERROR_TYPE, record.error_type or "error")
            span.set_status(Status(StatusCode.ERROR, redact(record.error)))
        span.end()

    @never_raises()
    def circuit(self, model: str, old: str, new: str) -> None:
        """Event on the current span: `model`'s circuit moved from `old` to `new`."""
        trace.get_current_span().add_event(
            sc.EVENT_CIRCUIT, {"model": model, "from": old, "to": new}
        )

    @never_raises()
    def refused(self, record: HopRecord) -> None:
        """Event on the current span: the budget refused `record`'s hop."""
        totals = TOTALS.get()
        if totals is not None:
            totals.add(record)
        reason = redact(record.error or "")
        trace.get_current_span().add_event(
            sc.EVENT_REFUSED,
            {sc.STEP: record.step, "model": record.model, "reason": reason},
        )

    # -- helpers ----------------------------------------------------------------------

    @never_raises()
    def _start(self, name: str, kind: SpanKind, attrs: dict[str, Any]) -> Span:
        clean = {k: v for k, v in attrs.items() if v is not None}
        return self._tracer.start_span(name, kind=kind, attributes=clean)
