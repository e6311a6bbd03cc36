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
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

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
REDACTED = "[REDACTED]"
"""What `redact` puts in place of a secret."""
MAX_REDACT_CHARS = 20_000
"""`redact` keeps at most this many characters: stored error text is short, and
bounding the input bounds the time every pattern can take."""
_MAX_CAUSES = 4
"""How deep `error_facts` follows ``__cause__``/``__context__`` for a wrapped error."""


class ErrorKind(StrEnum):
    """What went wrong, coarsely enough to decide retry, failover and breaker."""

    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    REQUEST = "request"
    AUTH = "auth"
    BUDGET = "budget"
    CANCELLED = "cancelled"
    OTHER = "other"


_RETRYABLE = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.SERVER, ErrorKind.TIMEOUT, ErrorKind.CONNECTION}
)


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
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) <= _MAX_CAUSES:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _facts_of(exc: BaseException, now: float | None) -> ErrorFacts:
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
    # bool is an int; ollama uses -1 for "unknown"; google-genai's `status` is a str
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return int(value)
    return None


def _status_of(exc: BaseException) -> int | None:
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
    for source in (_from_headers(exc, now), _from_attributes(exc), _from_details(exc)):
        if source is not None and math.isfinite(source) and source >= 0:
            return min(source, MAX_RETRY_AFTER_S)
    return None


def _header(headers: object, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if not callable(getter):
        return None
    for candidate in (name, name.title(), name.upper()):
        value = getter(candidate)
        if value is not None:
            return str(value)
    return None


def _from_headers(exc: BaseException, now: float | None) -> float | None:
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
    for attr in ("retry_after_s", "retry_after", "retry_delay"):
        value = getattr(exc, attr, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        seconds = getattr(value, "total_seconds", None)
        if callable(seconds):
            return float(seconds())
    return None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


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
    try:
        return float(text.strip())
    except ValueError:
        return None


def _http_date(text: str, now: float | None) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --- redaction -------------------------------------------------------------

_SECRET_NAME = (
    r"(?:[A-Za-z0-9]{1,20}[_\-])?"
    r"(?:api[_\-]?key|access[_\-]?key|secret(?:[_\-]?key)?|token|password|passwd"
    r"|pwd|key|auth|credentials?|signature|sig)"
)
_PATTERNS: tuple[
    tuple[tuple[str, ...], re.Pattern[str], str | Callable[[re.Match[str]], str]], ...
] = (
    # (cheap substring prefilter on the lower-cased text, pattern, replacement)
    # Bearer / Basic tokens in headers or messages: keep the scheme word
    (
        ("bearer", "basic"),
        re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/\-]{8,}=*"),
        rf"\1\2{REDACTED}",
    ),
    # JWTs (header.payload.signature)
    (
        ("eyj",),
        re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),
        REDACTED,
    ),
    # OpenAI / Anthropic style: sk-..., sk-proj-..., sk-ant-api03-...
    (("sk-",), re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), REDACTED),
    # Google API keys
    (("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), REDACTED),
    # AWS access key ids
    (("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    # GitHub tokens
    (
        ("gh", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
        REDACTED,
    ),
    # name=value / "name": "value" / name: value for secret-looking names
    (
        ("key", "token", "secret", "pass", "pwd", "auth", "credential", "sig"),
        re.compile(
            rf"(?i)(?<![A-Za-z0-9])({_SECRET_NAME})(\"?'?\s{{0,3}}[:=]\s{{0,3}}[\"']?)"
            r"(?!\[REDACTED\])([^\s\"'&,;{}<>\[\]]+)"
        ),
        rf"\1\2{REDACTED}",
    ),
    # long hex strings (keys, HMACs)
    ((), re.compile(r"\b[0-9a-fA-F]{32,}\b"), REDACTED),
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+_\-]{32,}={0,2}")
_SECRET_ENV = re.compile(r"(?i)(_API_KEY|_TOKEN|_SECRET|PASSWORD)")
_MIN_ENV_SECRET = 8


def _looks_random(match: re.Match[str]) -> str:
    """A long base64-ish run is a secret when it mixes digits and both cases,
    which identifiers and words almost never do."""
    token = match.group(0)
    digits = sum(c.isdigit() for c in token)
    upper = sum(c.isupper() for c in token)
    lower = sum(c.islower() for c in token)
    return REDACTED if digits >= 2 and upper >= 2 and lower >= 2 else token


def _secret_values(items: Iterable[tuple[str, str]]) -> frozenset[str]:
    return frozenset(
        value
        for name, value in items
        if len(value) >= _MIN_ENV_SECRET and _SECRET_ENV.search(name)
    )


def _pattern_of(values: frozenset[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    # longest first so a value containing another is replaced whole
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


@lru_cache(maxsize=8)
def _pattern_for_raw(raw: tuple[tuple[Any, Any], ...]) -> re.Pattern[str] | None:
    return _pattern_of(_secret_values((os.fsdecode(k), os.fsdecode(v)) for k, v in raw))


def _env_pattern() -> re.Pattern[str] | None:
    """The pattern of the secret env values set *now*.

    Decoding and scanning ``os.environ`` costs more than redacting a typical
    message, so the result is cached on the environment's raw contents (CPython
    keeps them in ``os.environ._data``; hashing that tuple is ~30x cheaper than
    the scan, and any change to the environment changes the key).
    """
    raw = getattr(os.environ, "_data", None)
    if isinstance(raw, dict):
        return _pattern_for_raw(tuple(raw.items()))
    return _pattern_of(_secret_values(os.environ.items()))  # pragma: no cover


def redact(text: str) -> str:
    """`text` with anything key-shaped replaced by ``[REDACTED]``.

    Catches provider key formats (``sk-``, ``sk-ant-``, ``AIza``, AWS ``AKIA``,
    GitHub ``ghp_``), Bearer tokens, JWTs, ``api_key=``/``token=``/``password=``
    style query, header and JSON values, long hex or mixed-case base64 runs
    (>= 32 characters) and the literal values of secret-looking environment
    variables (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``, at
    least 8 characters) set when it is called. Input beyond `MAX_REDACT_CHARS`
    is cut at a word boundary first, so a secret is never half kept. Every
    pattern is a linear scan (no nested quantifiers).
    """
    if len(text) > MAX_REDACT_CHARS:
        head = text[:MAX_REDACT_CHARS]
        cut = max(head.rfind(" "), head.rfind("\n"))
        dropped = len(text) - (cut if cut > 0 else MAX_REDACT_CHARS)
        text = f"{head[:cut] if cut > 0 else ''} …[{dropped} characters cut]"
    env = _env_pattern()
    if env is not None:
        text = env.sub(REDACTED, text)
    lowered = text.lower()
    for needles, pattern, replacement in _PATTERNS:
        if not needles or any(n in lowered for n in needles):
            text = pattern.sub(replacement, text)
    return _LONG_TOKEN.sub(_looks_random, text)
