"""Failures as structured, secret-free facts, and redaction of key-shaped text.

A provider error's message may carry the API key, the prompt or a signed URL,
so nothing downstream (hop records, pins, spans, checkpoints, the synthesis
prompt sent to *another* provider) should ever see ``str(exc)``. `error_facts`
reduces an exception to what routing decisions need: its class name, a coarse
`ErrorKind`, the HTTP status, the provider's ``Retry-After`` and whether a retry
can help. `redact` is the last line of defence for any text that is stored or
exported anyway.

The module is pure and imports only the standard library (plus the equally pure
`dispatch.errors`): provider exceptions are *duck-typed* by their attributes and
class names, so it works whether or not ``openai``, ``anthropic``, ``httpx``,
``google-genai``/``google-api-core`` or ``ollama`` are installed. The shapes it
reads, checked against the real classes (see ``tests/unit/test_faults.py``):

- openai / anthropic (Stainless SDKs): ``status_code`` and ``response.headers``
  on `APIStatusError` subclasses; `APIConnectionError` / `APITimeoutError`
  carry no status.
- httpx: `HTTPStatusError.response`; `TimeoutException`, `ConnectError`,
  `NetworkError` and `RemoteProtocolError` by class.
- google-genai: `errors.APIError.code` (int) and ``details`` holding a
  ``google.rpc.RetryInfo`` ``retryDelay`` such as ``"22s"``.
- google-api-core: `GoogleAPICallError.code` and ``details`` with a
  ``RetryInfo.retry_delay``.
- ollama: `ResponseError.status_code` (``-1`` when unknown).
- stdlib: `TimeoutError` (= `asyncio.TimeoutError`), `ConnectionError`,
  `asyncio.CancelledError`.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from dispatch._redact import MAX_REDACT_CHARS, REDACTED, redact
from dispatch.errors import BudgetExceeded

__all__ = (
    "MAX_REDACT_CHARS",
    "MAX_RETRY_AFTER_S",
    "REDACTED",
    "ErrorFacts",
    "ErrorKind",
    "error_facts",
    "redact",
)

MAX_RETRY_AFTER_S = 3600.0
"""Retry-After values above this are clamped: a provider asking for hours is
telling us to go elsewhere, and `retry_delay` treats anything past its own, much
smaller cap as "do not retry"."""
_MAX_CAUSES = 4
"""How deep `error_facts` follows ``__cause__``/``__context__`` for a wrapped error."""


class ErrorKind(StrEnum):
    """What went wrong, coarsely enough to decide retry, failover and breaker."""

    RATE_LIMIT = "rate_limit"
    """429 or a provider's quota error: wait (Retry-After) or go elsewhere."""
    SERVER = "server"
    """5xx or "overloaded": the provider's fault, likely transient."""
    TIMEOUT = "timeout"
    """No answer in time (408, a client or our own timeout)."""
    CONNECTION = "connection"
    """The request never got an HTTP answer (reset, DNS, protocol error)."""
    REQUEST = "request"
    """Other 4xx: the request is at fault, not the model (no retry, no breaker trip)."""
    AUTH = "auth"
    """401/403: the key is missing or refused; no retry can fix it."""
    BUDGET = "budget"
    """Our budget (`BudgetExceeded`) or the provider's (402) refused the call."""
    CANCELLED = "cancelled"
    """The caller cancelled the task; never retried, never a model failure."""
    OTHER = "other"
    """Nothing recognisable: treated as not retryable."""


_RETRYABLE = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.CONNECTION}
)
"""Kinds a retry on the same model can cure (`ErrorFacts.retryable`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorFacts:
    """What a failed call tells the router, with no text that could hold a secret."""

    type: str
    """Exception class name, e.g. ``RateLimitError``."""
    kind: ErrorKind
    """Coarse category."""
    status: int | None = None
    """HTTP status when the error carries one."""
    retry_after_s: float | None = None
    """Seconds the provider asked us to wait (capped at `MAX_RETRY_AFTER_S`)."""
    retryable: bool = False
    """True for 429, 5xx, connection and timeout errors; never for 4xx request,
    auth, budget or cancellation."""

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        """Plain JSON-able fields, for checkpoints, reports and span attributes."""
        return {
            "type": self.type,
            "kind": self.kind.value,
            "status": self.status,
            "retry_after_s": self.retry_after_s,
            "retryable": self.retryable,
        }

    def summary(self) -> str:
        """Short secret-free text, e.g. ``RateLimitError (429, retry after 2s)``."""
        parts = [str(self.status) if self.status is not None else self.kind.value]
        if self.retry_after_s is not None:
            parts.append(f"retry after {self.retry_after_s:g}s")
        return f"{self.type} ({', '.join(parts)})"


# Class-name fragments, checked over the exception's MRO, most specific first.
_NAME_KINDS: tuple[tuple[str, ErrorKind], ...] = (
    ("budget", ErrorKind.BUDGET),
    ("ratelimit", ErrorKind.RATE_LIMIT),
    ("resourceexhausted", ErrorKind.RATE_LIMIT),
    ("toomanyrequests", ErrorKind.RATE_LIMIT),
    ("timeout", ErrorKind.TIMEOUT),
    ("deadlineexceeded", ErrorKind.TIMEOUT),
    ("authentication", ErrorKind.AUTH),
    ("unauthenticated", ErrorKind.AUTH),
    ("permissiondenied", ErrorKind.AUTH),
    ("unauthorized", ErrorKind.AUTH),
    ("overloaded", ErrorKind.SERVER),
    ("internalserver", ErrorKind.SERVER),
    ("serviceunavailable", ErrorKind.SERVER),
    ("servererror", ErrorKind.SERVER),
    ("connect", ErrorKind.CONNECTION),
    ("network", ErrorKind.CONNECTION),
    ("remoteprotocol", ErrorKind.CONNECTION),
    ("badrequest", ErrorKind.REQUEST),
    ("invalidargument", ErrorKind.REQUEST),
    ("unprocessable", ErrorKind.REQUEST),
    ("notfound", ErrorKind.REQUEST),
    ("conflict", ErrorKind.REQUEST),
    ("invalidrequest", ErrorKind.REQUEST),
)


def error_facts(exc: BaseException, *, now: float | None = None) -> ErrorFacts:
    """The facts of `exc`: kind, HTTP status, Retry-After and retryability.

    A wrapper that says nothing itself (e.g. a LangChain or tool error raised
    ``from`` the provider's) is looked through via ``__cause__``/``__context__``.
    `now` (epoch seconds) is only used to turn an HTTP-date ``Retry-After`` into
    seconds; it defaults to the wall clock.
    """
    first: ErrorFacts | None = None
    for current in _chain(exc):
        facts = _facts_of(current, now)
        if facts.kind is not ErrorKind.OTHER:
            return facts
        first = first or facts
    assert first is not None  # _chain yields exc itself first
    return first


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then its causes, at most `_MAX_CAUSES` deep; a cycle stops it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) <= _MAX_CAUSES:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _facts_of(exc: BaseException, now: float | None) -> ErrorFacts:
    """The facts of `exc` alone, without looking at its causes."""
    status = _status_of(exc)
    kind = _kind_of(exc, status)
    retry_after = _retry_after_of(exc, now) if kind is not ErrorKind.CANCELLED else None
    return ErrorFacts(
        type=type(exc).__name__,
        kind=kind,
        status=status,
        retry_after_s=retry_after,
        retryable=kind in _RETRYABLE,
    )


def _kind_of(exc: BaseException, status: int | None) -> ErrorKind:
    """Most reliable evidence first: cancellation, budget, the HTTP status,
    the stdlib exception types, and only then class names (`_NAME_KINDS`)."""
    if isinstance(exc, asyncio.CancelledError):
        return ErrorKind.CANCELLED
    if isinstance(exc, BudgetExceeded) or status == 402:
        return ErrorKind.BUDGET
    if status is not None:
        return _kind_of_status(status)
    if isinstance(exc, TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(exc, ConnectionError):
        return ErrorKind.CONNECTION
    for cls in type(exc).__mro__:
        name = cls.__name__.lower().replace("_", "")
        for fragment, kind in _NAME_KINDS:
            if fragment in name:
                return kind
    return ErrorKind.OTHER


def _kind_of_status(status: int) -> ErrorKind:
    """The kind an HTTP status means (402 is handled before, as budget)."""
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status == 408:
        return ErrorKind.TIMEOUT
    if status in (401, 403):
        return ErrorKind.AUTH
    if status >= 500:
        return ErrorKind.SERVER
    if status >= 400:
        return ErrorKind.REQUEST
    return ErrorKind.OTHER


def _http_status(value: object) -> int | None:
    """`value` if it is an HTTP status (an int in 100-599), else None.

    bool is an int; ollama uses -1 for "unknown"; google-genai's `status` is a
    str (``"RESOURCE_EXHAUSTED"``): none of them may pass for a status.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return int(value)
    return None


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status on the exception, else on its ``response`` (httpx)."""
    for attr in ("status_code", "status", "code", "http_status"):
        found = _http_status(getattr(exc, attr, None))
        if found is not None:
            return found
    response = getattr(exc, "response", None)
    for attr in ("status_code", "status"):
        found = _http_status(getattr(response, attr, None))
        if found is not None:
            return found
    return None


def _retry_after_of(exc: BaseException, now: float | None) -> float | None:
    """Seconds to wait, from headers, attributes or RetryInfo, in that order;
    negative or non-finite values are ignored, large ones clamped."""
    for source in (_from_headers(exc, now), _from_attributes(exc), _from_details(exc)):
        if source is not None and math.isfinite(source) and source >= 0:
            return min(source, MAX_RETRY_AFTER_S)
    return None


def _header(headers: object, name: str) -> str | None:
    """A header from any mapping-like object, trying the usual casings (a plain
    dict is case-sensitive, httpx's headers are not)."""
    getter = getattr(headers, "get", None)
    if not callable(getter):
        return None
    for candidate in (name, name.title(), name.upper()):
        value = getter(candidate)
        if value is not None:
            return str(value)
    return None


def _from_headers(exc: BaseException, now: float | None) -> float | None:
    """``retry-after-ms`` (OpenAI, Anthropic) before ``retry-after`` (seconds or
    an HTTP date), on the response first, then on the exception itself."""
    for holder in (getattr(exc, "response", None), exc):
        headers = getattr(holder, "headers", None)
        if headers is None:
            continue
        millis = _header(headers, "retry-after-ms")
        if millis is not None and (parsed := _float(millis)) is not None:
            return parsed / 1000.0
        value = _header(headers, "retry-after")
        if value is not None:
            return (
                _float(value) if _float(value) is not None else _http_date(value, now)
            )
    return None


def _from_attributes(exc: BaseException) -> float | None:
    """A delay attribute in seconds or as a `timedelta`, as wrappers expose it."""
    for attr in ("retry_after_s", "retry_after", "retry_delay"):
        value = getattr(exc, attr, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        seconds = getattr(value, "total_seconds", None)
        if callable(seconds):
            return float(seconds())
    return None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
"""A protobuf JSON duration such as ``"22s"`` or ``"1.5s"``."""


def _from_details(exc: BaseException) -> float | None:
    """google.rpc.RetryInfo, as google-api-core objects or google-genai JSON."""
    details: object = getattr(exc, "details", None)
    if isinstance(details, Mapping):  # google-genai: the error JSON
        error = details.get("error", details)
        details = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(details, list | tuple):
        return None
    for item in details[:16]:
        if isinstance(item, Mapping):
            delay = item.get("retryDelay") or item.get("retry_delay")
            if isinstance(delay, str) and (m := _DURATION.match(delay)):
                return float(m.group(1))
        delay_obj = getattr(item, "retry_delay", None)
        if delay_obj is not None and hasattr(delay_obj, "seconds"):
            return (
                float(delay_obj.seconds) + float(getattr(delay_obj, "nanos", 0)) / 1e9
            )
    return None


def _float(text: str) -> float | None:
    """`text` as a float, or None when it is not a number."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def _http_date(text: str, now: float | None) -> float | None:
    """Seconds from `now` until the HTTP date `text` (0 if past); None if unparsable."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
