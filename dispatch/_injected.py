"""The faults `dispatch.testing_faults` injects, and the exceptions it raises.

Shaped like the provider SDKs' errors (``status_code``, ``headers`` with
``Retry-After``) so `dispatch.faults.error_facts` reads them as it reads real
ones; no provider SDK is needed.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = (
    "ALL_FAULTS",
    "Fault",
    "InjectedConnectionError",
    "InjectedError",
    "InjectedTimeout",
    "InternalServerError",
    "RateLimitError",
)


class Fault(StrEnum):
    """One kind of injected failure."""

    EXCEPTION = "exception"
    """An unclassified error (no status): not retryable, fail over."""
    RATE_LIMIT = "rate_limit"
    """HTTP 429 with a ``Retry-After`` header."""
    SERVER = "server"
    """HTTP 503."""
    CONNECTION = "connection"
    """Connection reset."""
    TIMEOUT = "timeout"
    """The provider's client timed out."""
    HANG = "hang"
    """The call never returns until cancelled (async) or released (sync)."""
    MISSING_USAGE = "missing_usage"
    """A good reply without ``usage_metadata``."""
    MALFORMED_USAGE = "malformed_usage"
    """``usage_metadata`` with non-numeric and missing counts."""
    NEGATIVE_USAGE = "negative_usage"
    """Negative token counts."""
    HUGE_USAGE = "huge_usage"
    """A billion output tokens."""
    EMPTY_CONTENT = "empty_content"
    """An empty reply with no tool calls."""
    UNKNOWN_TOOL = "unknown_tool"
    """A call to a tool that was never bound."""
    INVALID_TOOL_ARGS = "invalid_tool_args"
    """A call to a bound tool with arguments its schema rejects."""


ALL_FAULTS: tuple[Fault, ...] = tuple(Fault)
"""Every fault, for ``faults=`` when all should be drawn equally often."""


class InjectedError(Exception):
    """Base of injected provider errors; shaped like the SDKs' status errors."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        """HTTP status, as ``openai.APIStatusError.status_code``."""
        self.headers = dict(headers or {})
        """Response headers (``retry-after``)."""


class RateLimitError(InjectedError):
    """HTTP 429."""


class InternalServerError(InjectedError):
    """HTTP 5xx."""


class InjectedConnectionError(InjectedError, ConnectionError):
    """The connection dropped."""


class InjectedTimeout(InjectedError, TimeoutError):
    """The client timed out (or a hang was released)."""
