"""Failures as facts: a provider error becomes its type, status and retry-after.

Placeholder interface (the full version recognises every provider's exception
shapes and redacts secrets); see `error_facts` and `redact`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ("ErrorFacts", "ErrorKind", "error_facts", "redact")


class ErrorKind(StrEnum):
    """What kind of failure an exception is."""

    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    REQUEST = "request"
    AUTH = "auth"
    BUDGET = "budget"
    CANCELLED = "cancelled"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorFacts:
    """A failure without its (possibly secret-bearing) message text."""

    type: str
    kind: ErrorKind
    status: int | None = None
    retry_after_s: float | None = None
    retryable: bool = False

    def summary(self) -> str:
        """Short, secret-free text, e.g. ``RateLimitError (429)``."""
        return f"{self.type} ({self.status})" if self.status else self.type


def error_facts(exc: BaseException) -> ErrorFacts:
    """The facts of `exc`; never its message."""
    status = getattr(exc, "status_code", None)
    kind = ErrorKind.OTHER
    if not isinstance(exc, Exception):
        kind = ErrorKind.CANCELLED
    elif isinstance(exc, TimeoutError):
        kind = ErrorKind.TIMEOUT
    elif isinstance(exc, ConnectionError):
        kind = ErrorKind.CONNECTION
    return ErrorFacts(
        type=type(exc).__name__,
        kind=kind,
        status=status if isinstance(status, int) else None,
    )


_KEYLIKE = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,})")


def redact(text: str) -> str:
    """`text` with key-shaped substrings replaced by ``[REDACTED]``."""
    return _KEYLIKE.sub("[REDACTED]", text)
