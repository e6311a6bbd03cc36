"""Small OpenTelemetry helpers for `dispatch.tracing`: a never-raising decorator,
per-workflow totals, span attributes of a hop record, and span activation.

Split out of `dispatch.tracing` to keep each module under 400 lines; the
hop-facing API stays there. Only the OpenTelemetry *API* is imported: with
no SDK installed every span is a no-op.

**No raw exception text on a span.** The API's ``record_exception`` writes
``str(exc)`` and the whole traceback (which repeats every chained exception's
message) into the ``exception`` event, and provider and HTTP errors carry keys
and passwords in their messages. `exception_attributes` builds the event the
semantic conventions describe with both redacted instead.

**One chat span per model call, also under other instrumentations.** The
OpenTelemetry LangChain instrumentation on PyPI (``opentelemetry-instrumentation-
langchain``, published by OpenLLMetry) adds a callback handler to every
LangChain callback manager and starts its own CLIENT ``chat`` span for each chat
model run: under graph-dispatch that is a second span for the call our
``chat {model}`` span already describes, without the routing, pin or cost
facts. While our chat span is current (`chat_scope`):

* the call runs with the OpenTelemetry suppression key set *when that
  instrumentation is active* (its handler checks the key and records nothing).
  The key also silences instrumentations below the model call (HTTP clients),
  which is why it is set only then;
* OpenLLMetry's narrower ``suppress_language_model_instrumentation`` key is
  always set: it is how LLM instrumentations tell the provider SDK
  instrumentations (openai, anthropic, ...) under them that a model span exists.

The instrumentation's own graph and chain spans are untouched. The
OpenTelemetry contrib repository's LangChain instrumentation (same module,
class ``LangChainInstrumentor``; not on PyPI under that name) is detected too,
but the versions seen do not check the suppression key in their callback
handler, so under them a call may still show two chat spans.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, ParamSpec, TypeVar

from langchain_core.messages import BaseMessage
from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.trace import Span, Status, StatusCode

import dispatch._semconv as sc
from dispatch._redact import redact
from dispatch.records import HopRecord
from dispatch.types import PinChange

__all__ = (
    "TOTALS",
    "WorkflowTotals",
    "chat_scope",
    "end_span",
    "exception_attributes",
    "fail_span",
    "langchain_instrumented",
    "messages_json",
    "never_raises",
    "record_attributes",
    "use_span",
)

_log = logging.getLogger("dispatch.tracing")
_P = ParamSpec("_P")
_R = TypeVar("_R")

EXCEPTION_EVENT: Final = "exception"
"""The conventions' span event for an exception (``record_exception``'s name)."""
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"


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
    """USD spent (exact; converted to float on the span): successful calls, and
    failed attempts that were charged (a timed-out or cancelled call pays the
    input it sent), so the span agrees with the budget ledger."""
    baseline_cost_usd: Decimal = Decimal(0)
    """What those calls' tokens would have cost on the baseline model."""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
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
            if record.error is not None:  # paid or not, no hop and no usage
                self.cost_usd += record.cost_usd
                self.baseline_cost_usd += record.baseline_cost_usd
                return
            self.hops += 1
            self.cost_usd += record.cost_usd
            self.baseline_cost_usd += record.baseline_cost_usd
            self.input_tokens += record.input_tokens
            self.output_tokens += record.output_tokens
            self.cache_read_tokens += record.cache_read_tokens
            self.cache_write_tokens += record.cache_write_tokens


TOTALS: contextvars.ContextVar[WorkflowTotals | None] = contextvars.ContextVar(
    "dispatch_workflow_totals", default=None
)
"""The totals of the workflow span the current context runs under.

A context variable, not a global: concurrent workflows in one process (a
server) each see their own totals, and the context copies that branches run
in share the same object. None outside a workflow span."""


def record_attributes(record: HopRecord, remaining: Decimal | None) -> dict[str, Any]:
    """The span attributes of a finished hop: GenAI usage (prompt-cache reads and
    writes too, which are parts of the input count, never added to it) and
    cost, plus the ``dispatch.*`` facts (tier, capability, cost, router, pin
    change, budget left)."""
    attrs: dict[str, Any] = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: record.input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: record.output_tokens,
        sc.TIER: record.tier,
        sc.CAPABILITY: record.capability,
        sc.COST_USD: float(record.cost_usd),
        sc.GEN_AI_USAGE_COST: float(record.cost_usd),
        sc.BASELINE_COST_USD: float(record.baseline_cost_usd),
        sc.ROUTER: record.router,
        sc.CONFIDENCE: record.confidence,
        sc.REASON: record.reason,
        sc.PINNED: record.pinned,
        sc.PIN_CHANGE: record.pin_change.value,
        sc.ESCALATED: record.pin_change is PinChange.ESCALATED,
        sc.SIMULATED: record.simulated,
        sc.ESTIMATED: record.estimated,
        sc.ATTEMPT: record.attempt,
    }
    if record.cache_read_tokens:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = record.cache_read_tokens
    if record.cache_write_tokens:
        attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = record.cache_write_tokens
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


_SUPPRESS_LANGUAGE_MODEL_KEY = "suppress_language_model_instrumentation"
"""OpenLLMetry's context key: an LLM span exists, provider SDK spans are not needed."""
_LANGCHAIN_INSTRUMENTATION = "opentelemetry.instrumentation.langchain"
_INSTRUMENTOR_NAMES = ("LangchainInstrumentor", "LangChainInstrumentor")


def langchain_instrumented() -> bool:
    """True when the OpenTelemetry LangChain instrumentation is instrumenting.

    Read from the instrumentor's singleton (never constructed here: its
    constructor resets the user's settings); a module that was never imported
    cannot be instrumenting, so the check is one dict lookup in the common case.
    """
    module = sys.modules.get(_LANGCHAIN_INSTRUMENTATION)
    if module is None:
        return False
    for name in _INSTRUMENTOR_NAMES:
        instance = getattr(getattr(module, name, None), "_instance", None)
        if instance is not None and getattr(
            instance, "is_instrumented_by_opentelemetry", False
        ):
            return True
    return False


@contextmanager
def chat_scope(span: Span) -> Iterator[None]:
    """`span` current while a model call runs, with the suppression keys set
    (see the module docstring); never ends the span."""
    ctx = trace.set_span_in_context(span)
    ctx = context.set_value(_SUPPRESS_LANGUAGE_MODEL_KEY, True, ctx)
    if langchain_instrumented():
        ctx = context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, ctx)
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


def exception_attributes(exc: BaseException) -> dict[str, str]:
    """The conventions' ``exception`` event attributes for `exc`, redacted.

    ``exception.type`` is the class's module-qualified name (bare for
    builtins, as the SDK's ``record_exception`` writes it). The message is
    `redact`-ed, like the span's status description. The stack trace keeps
    its frames but is redacted piece by piece (each frame, each exception's
    message, each note): its last line repeats the message, and a chained
    cause's message is in it too. Redacting each piece, not the whole text,
    keeps a multi-line message (a PEM key) whole for its pattern and never
    cuts the trace's tail at `redact`'s length cap. The SDK's
    ``exception.escaped`` is left out: the conventions deprecate it.
    """
    cls = type(exc)
    module = cls.__module__
    name = f"{module}.{cls.__qualname__}" if module != "builtins" else cls.__qualname__
    try:
        message = str(exc)
    except Exception:  # an exception whose __str__ fails
        message = f"<{cls.__qualname__} object with an unprintable message>"
    frames = traceback.TracebackException.from_exception(exc).format()
    return {
        EXCEPTION_TYPE: name,
        EXCEPTION_MESSAGE: redact(message),
        EXCEPTION_STACKTRACE: "".join(redact(piece) for piece in frames),
    }


@never_raises()
def fail_span(span: Span | None, exc: BaseException) -> None:
    """Mark `span` failed by `exc` escaping it: the `exception_attributes`
    event, ``error.type`` and an ERROR status whose description is the
    redacted message (never ``record_exception``, which stores the raw text)."""
    if span is not None:
        attrs = exception_attributes(exc)
        span.add_event(EXCEPTION_EVENT, attrs)
        span.set_attribute(sc.ERROR_TYPE, type(exc).__qualname__)
        span.set_status(Status(StatusCode.ERROR, attrs[EXCEPTION_MESSAGE]))


def end_span(span: Span | None) -> None:
    """End `span` if there is one; a broken SDK is logged, never raised."""
    if span is not None:
        try:
            span.end()
        except Exception:  # pragma: no cover - a broken SDK
            _log.warning("graph-dispatch could not end a span", exc_info=True)
