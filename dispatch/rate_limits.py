"""rpm/tpm headroom per model: a sliding 60 s window of calls and tokens.

`RateLimiter` answers whether one more call of ``tokens`` fits the registry's
``rpm``/``tpm`` for a model; a 429 takes the model's headroom away until its
``Retry-After`` has passed. Shared by every branch and workflow of the process
(one lock), with an injected clock so tests drive time by hand.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dispatch.types import ModelSpec

__all__ = ("RateLimiter",)


@dataclass(slots=True)
class _Window:
    calls: deque[tuple[float, int]] = field(default_factory=deque)
    tokens: int = 0
    blocked_until: float = float("-inf")


class RateLimiter:
    """Requests- and tokens-per-minute headroom per model, over a sliding 60 s window.

    Models without ``rpm``/``tpm`` in the registry always have headroom unless a
    429 blocked them. A single call larger than the whole ``tpm`` is let through
    when the window is empty (otherwise it could never run).
    """

    WINDOW_S = 60.0
    """Length of the sliding window that ``rpm`` and ``tpm`` are counted over."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        default_block_s: float = 10.0,
    ) -> None:
        self._clock = clock
        self.default_block_s = default_block_s
        """How long a 429 without ``Retry-After`` takes a model's headroom away."""
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def headroom(self, spec: ModelSpec, tokens: int) -> bool:
        """Whether one more call of `tokens` (input + expected output) fits now."""
        with self._lock:
            return self._fits(spec, tokens, self._clock())

    def note_call(self, spec: ModelSpec, tokens: int) -> None:
        """Count a call of `tokens` that is going out now."""
        with self._lock:
            window = self._windows.setdefault(spec.id, _Window())
            window.calls.append((self._clock(), max(0, tokens)))
            window.tokens += max(0, tokens)

    def note_429(self, spec: ModelSpec, retry_after_s: float | None) -> None:
        """The provider rate-limited `spec`: no headroom until `retry_after_s` from now."""
        wait = (
            self.default_block_s if retry_after_s is None else max(0.0, retry_after_s)
        )
        with self._lock:
            window = self._windows.setdefault(spec.id, _Window())
            window.blocked_until = max(window.blocked_until, self._clock() + wait)

    @property
    def tracking(self) -> bool:
        """True once any call or 429 was noted (nothing can be saturated before)."""
        return bool(self._windows)

    def saturated(
        self, specs: Iterable[ModelSpec], tokens: int, *, longer_than: float = 0.0
    ) -> frozenset[str]:
        """Ids of `specs` with no headroom for a call of `tokens` (for the policy's
        `exclude`); with `longer_than`, only those whose headroom returns later
        than that many seconds from now."""
        with self._lock:
            now = self._clock()
            return frozenset(
                s.id
                for s in specs
                if not self._fits(s, tokens, now)
                and (not longer_than or self._wait(s, now) > longer_than)
            )

    def wait_s(self, spec: ModelSpec, tokens: int) -> float:
        """Seconds until a call of `tokens` would fit (0 when it fits now)."""
        with self._lock:
            now = self._clock()
            if self._fits(spec, tokens, now):
                return 0.0
            return self._wait(spec, now)

    def _wait(self, spec: ModelSpec, now: float) -> float:
        """Seconds until `spec` (known not to fit now) might have headroom."""
        window = self._windows[spec.id]
        wait = max(0.0, window.blocked_until - now)
        if window.calls:  # the oldest call leaving the window frees the most
            wait = max(wait, window.calls[0][0] + self.WINDOW_S - now)
        return wait

    def _fits(self, spec: ModelSpec, tokens: int, now: float) -> bool:
        window = self._windows.get(spec.id)
        if window is None:
            return True
        if now < window.blocked_until:
            return False
        while window.calls and window.calls[0][0] <= now - self.WINDOW_S:
            window.tokens -= window.calls.popleft()[1]
        if spec.rpm is not None and len(window.calls) + 1 > spec.rpm:
            return False
        if spec.tpm is not None and window.calls and window.tokens + tokens > spec.tpm:
            return False
        return True
