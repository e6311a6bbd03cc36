"""`Verdict`, the `Verifier` protocol and the fail-closed wrappers.

Verifiers are user-pluggable and often call models, so the hop path never
calls one directly: `safe_verify`/`asafe_verify` turn every way a verifier can
go wrong into a failed verdict. Failing *closed* (escalating) costs one more
call on a dearer tier; failing open would ship an unchecked cheap answer as if
it had passed, which is the failure the cascade exists to prevent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from langchain_core.messages import AIMessage

from dispatch.faults import error_facts, redact

__all__ = ("Verdict", "Verifier", "asafe_verify", "clip_reason", "safe_verify")

_MAX_REASON = 240
"""Verdict reasons are clipped to this many characters."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """A verifier's decision on one answer."""

    ok: bool
    """True when the answer is good enough; False escalates the hop."""
    reason: str
    """Short, redacted explanation, stored on the hop and its span."""
    cost_usd: Decimal = Decimal(0)
    """What checking cost (model calls made by the verifier)."""
    calls: int = 0
    """Model calls the verifier made."""
    score: float | None = None
    """The number compared with the threshold (agreement, judge score), if any."""


@runtime_checkable
class Verifier(Protocol):
    """Decides whether `answer` is a good enough reply to `task`.

    Both methods are required: the sync and async hop drivers each call their
    own, and a sync-only check can implement `averify` with
    `asyncio.to_thread`. A verifier reports what it spent in the `Verdict`
    rather than charging a budget itself; the hop path does the charging.
    """

    def verify(self, task: str, answer: AIMessage) -> Verdict:
        """Check `answer` synchronously."""
        ...

    async def averify(self, task: str, answer: AIMessage) -> Verdict:
        """Check `answer` without blocking the event loop."""
        ...


def clip_reason(text: str) -> str:
    """Redacted, single-line, at most 240 characters: fit for a hop record."""
    clean = redact(text.replace("\n", " "))
    return clean if len(clean) <= _MAX_REASON else clean[: _MAX_REASON - 1] + "…"


def _failed(verifier: object, exc: BaseException) -> Verdict:
    """The fail-closed verdict for `exc`: its type and redacted facts, no raw text."""
    return Verdict(
        ok=False,
        reason=f"{type(verifier).__name__} raised {error_facts(exc).summary()}; "
        "failing closed",
    )


def safe_verify(verifier: Verifier, task: str, answer: AIMessage) -> Verdict:
    """`verifier.verify`, failing closed: an exception or a non-`Verdict`
    result becomes ``Verdict(ok=False)`` (cancellation still propagates).

    Only `Exception` is caught: `KeyboardInterrupt` and `asyncio`
    cancellation are requests to stop, not verdicts on the answer. A verdict
    from a raising verifier carries no cost (whatever it spent is unknown).
    """
    try:
        verdict = verifier.verify(task, answer)
    except Exception as exc:
        return _failed(verifier, exc)
    if not isinstance(verdict, Verdict):
        return Verdict(
            ok=False, reason=f"{type(verifier).__name__} returned no Verdict"
        )
    return verdict


async def asafe_verify(verifier: Verifier, task: str, answer: AIMessage) -> Verdict:
    """Async twin of `safe_verify`: the same fail-closed rules around `averify`."""
    try:
        verdict = await verifier.averify(task, answer)
    except Exception as exc:
        return _failed(verifier, exc)
    if not isinstance(verdict, Verdict):
        return Verdict(
            ok=False, reason=f"{type(verifier).__name__} returned no Verdict"
        )
    return verdict
