"""Small OpenTelemetry helpers for `dispatch.tracing`: a never-raising decorator,
per-workflow totals, span attributes of a hop record, and span activation.

Split out of `dispatch.tracing` to keep each module under 400 lines; the
hop-facing API stays there. Only the OpenTelemetry *API* is imported: with
no SDK installed every span is a no-op.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from langchain_core.messages import BaseMessage
from opentelemetry import trace
from opentelemetry.trace import Span

import dispatch._semconv as sc
from dispatch.types import HopRecord, PinChange

__all__ = (
    "TOTALS",
    "WorkflowTotals",
    "end_span",
    "messages_json",
    "never_raises",
    "record_attributes",
    "use_span",
)

_log = logging.getLogger("dispatch.tracing")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def never_raises(
    default: Any = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A decorator: `fn` logs and returns `default` instead of raising.

    Telemetry must never break a hop: an exporter, a broken SDK or a bad
    attribute costs a log line, not the model call it describes.
    """

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        def safe(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except Exception:  # telemetry must never break a hop
                _log.warning(
                    "graph-dispatch telemetry failed in %s", fn.__name__, exc_info=True
                )
                return default  # type: ignore[no-any-return]

        return safe

    return wrap


@dataclass
class WorkflowTotals:
    """Totals of the hops finished under one workflow span.

    Mutable on purpose, and locked: parallel branches of one run (LangGraph
    ``Send``) finish hops on several threads and add to the same totals,
    which the workflow span reports when it ends.
    """

    cost_usd: Decimal = Decimal(0)
    """USD spent by successful calls (exact; converted to float on the span)."""
    baseline_cost_usd: Decimal = Decimal(0)
    """What those calls' tokens would have cost on the baseline model."""
    input_tokens: int = 0
    output_tokens: int = 0
    hops: int = 0
    """Successful model calls."""
    refused: int = 0
    """Hops the budget refused before calling."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: HopRecord) -> None:
        """Count one finished (or refused) hop."""
        with self._lock:
            self.refused += record.refused
            if record.refused:
                return
            self.hops += 1
            self.cost_usd += record.cost_usd
            self.baseline_cost_usd += record.baseline_cost_usd
            self.input_tokens += record.input_tokens
            self.output_tokens += record.output_tokens


TOTALS: contextvars.ContextVar[WorkflowTotals | None] = contextvars.ContextVar(
    "dispatch_workflow_totals", default=None
)
"""The totals of the workflow span the current context runs under.

A context variable, not a global: concurrent workflows in one process (a
server) each see their own totals, and the context copies that branches run
in share the same object. None outside a workflow span."""


def record_attributes(record: HopRecord, remaining: Decimal | None) -> dict[str, Any]:
    """The span attributes of a finished hop: GenAI usage plus the ``dispatch.*``
    facts (tier, capability, cost, router, pin change, budget left)."""
    attrs: dict[str, Any] = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: record.input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: record.output_tokens,
        sc.TIER: record.tier,
        sc.CAPABILITY: record.capability,
        sc.COST_USD: float(record.cost_usd),
        sc.BASELINE_COST_USD: float(record.baseline_cost_usd),
        sc.ROUTER: record.router,
        sc.CONFIDENCE: record.confidence,
        sc.REASON: record.reason,
        sc.PINNED: record.pinned,
        sc.PIN_CHANGE: record.pin_change.value,
        sc.ESCALATED: record.pin_change is PinChange.ESCALATED,
        sc.SIMULATED: record.simulated,
        sc.ESTIMATED: record.estimated,
    }
    if record.fallback_from:
        attrs[sc.FALLBACK_FROM] = record.fallback_from
    if record.sensitive:
        attrs[sc.PRIVACY_DETECTED] = list(record.sensitive)
    if remaining is not None:
        attrs[sc.BUDGET_REMAINING_USD] = float(remaining)
    return attrs


def messages_json(messages: Sequence[BaseMessage]) -> str:
    """Messages as the conventions' JSON (role and text), for opted-in content capture."""
    return json.dumps([{"role": m.type, "content": m.text} for m in messages])


def use_span(span: Span | None) -> AbstractContextManager[Any]:
    """Make `span` current without ending it or recording exceptions on exit
    (a no-op for None, the fast path when no SDK is installed).

    The caller ends the span itself, with the hop's record: OpenTelemetry's
    defaults would end it on exit and mark it failed on exceptions that the
    hop path handles itself (a retry, a failover).
    """
    if span is None:
        return nullcontext()
    return trace.use_span(
        span, end_on_exit=False, record_exception=False, set_status_on_exception=False
    )


def end_span(span: Span | None) -> None:
    """End `span` if there is one; a broken SDK is logged, never raised."""
    if span is not None:
        try:
            span.end()
        except Exception:  # pragma: no cover - a broken SDK
            _log.warning("graph-dispatch could not end a span", exc_info=True)
