"""A model's health as one process sees it: retries, circuit breaker, rate limits.

`ModelHealth` bundles the process-wide pieces of `dispatch.resilience` behind
the small interface the pure hop flow consults (`dispatch.hop_flow.HealthView`):
which models to avoid now, how long to wait for headroom, whether to retry the
same model, and what each call's outcome was.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from dispatch.faults import ErrorFacts, ErrorKind
from dispatch.rate_limits import RateLimiter
from dispatch.resilience import (
    BreakerState,
    CircuitBreaker,
    CircuitState,
    RetrySettings,
    retry_delay,
)
from dispatch.types import CircuitFact, ModelSpec

__all__ = ("ModelHealth",)


class ModelHealth:
    """Retries, circuit breaker and rate limits, as the hop flow consults them.

    One per `Dispatcher`, so every branch and workflow the dispatcher serves in
    this process shares what it learns about a model: a model that keeps failing
    cools down for all of them, and a 429 takes its headroom away for all.

    Args:
        retry: how often and how long to retry the same model.
        breaker: the per-model circuit breaker (default: half of at least 10
            calls within 60 s failing opens it for 30 s).
        limiter: rpm/tpm headroom per model (registry ``rpm``/``tpm``).
        max_models: models tried per hop, the chosen one included.
        max_queue_s: a model out of headroom whose headroom returns within this
            many seconds (typically a short ``Retry-After``) is still chosen and
            the hop waits for it: a few seconds' wait for the cheapest model
            beats paying a dearer one, which is what the hop that got the 429
            does too (it retries the same model after the ``Retry-After``). A
            longer wait sends the hop to a model with headroom.
        rng: jitter source (seed it for reproducible runs).
        wall: wall-clock epoch seconds, for the times of `circuits` facts.
    """

    def __init__(
        self,
        *,
        retry: RetrySettings | None = None,
        breaker: CircuitBreaker | None = None,
        limiter: RateLimiter | None = None,
        max_models: int = 3,
        max_queue_s: float = 5.0,
        rng: random.Random | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not max_queue_s >= 0:
            raise ValueError(f"ModelHealth max_queue_s must be >= 0, got {max_queue_s}")
        self.retry = retry or RetrySettings()
        self.breaker = breaker or CircuitBreaker()
        self.limiter = limiter or RateLimiter()
        self.max_models = max_models
        self.max_queue_s = max_queue_s
        self._rng = rng
        self._wall = wall

    def avoid(self, models: Iterable[ModelSpec], tokens: int) -> frozenset[str]:
        """Ids not to call now: circuit open, or no rate-limit headroom for
        longer than `max_queue_s`."""
        if not self.limiter.tracking:
            return self.breaker.open_models()
        return self.breaker.open_models() | self.limiter.saturated(
            models, tokens, longer_than=self.max_queue_s
        )

    def wait_s(self, spec: ModelSpec, tokens: int) -> float:
        """Seconds until `spec` has headroom for a call of `tokens`."""
        return self.limiter.wait_s(spec, tokens)

    def retry_delay(self, attempt: int, facts: ErrorFacts) -> float | None:
        """Seconds before calling the same model again, or None to fail over
        (retryable kinds only: 429, 5xx, connection, timeout)."""
        return retry_delay(self.retry, attempt, facts, self._rng)

    def observe(self, spec: ModelSpec, tokens: int, facts: ErrorFacts | None) -> None:
        """Count the call; feed its outcome to the breaker and the limiter."""
        if spec.rpm or spec.tpm:  # only limited models need the bookkeeping
            self.limiter.note_call(spec, tokens)
        if facts is None:
            self.breaker.record_success(spec.id)
            return
        self.breaker.record_failure(spec.id, facts)
        if facts.kind is ErrorKind.RATE_LIMIT:
            self.limiter.note_429(spec, facts.retry_after_s)

    def snapshot(self) -> dict[str, CircuitState]:
        """Each model's circuit, for reports and span events."""
        return self.breaker.snapshot()

    def circuits(self, model_id: str) -> tuple[CircuitFact, ...]:
        """What a hop record keeps of the breaker after a call of `model_id`:
        its circuit when it has faults in the window or is not closed, and every
        other circuit that is not closed. Empty when all is well (the common
        case costs one snapshot and no allocation per fact)."""
        if not self.breaker.troubled(model_id):
            return ()
        snapshot = self.breaker.snapshot()
        offset = self._wall() - self.breaker.clock()
        return tuple(
            _fact(model, c, offset)
            for model, c in sorted(snapshot.items())
            if c.state is not BreakerState.CLOSED or (model == model_id and c.failures)
        )


def _iso(reading: float | None, offset: float) -> str | None:
    if reading is None:
        return None
    return datetime.fromtimestamp(reading + offset, UTC).isoformat(timespec="seconds")


def _fact(model: str, c: CircuitState, offset: float) -> CircuitFact:
    return CircuitFact(
        model=model,
        state=c.state.value,
        failures=c.failures,
        calls=c.calls,
        opened_at=_iso(c.opened_at, offset),
        probe_at=_iso(c.probe_at, offset),
        last_error=c.last_error,
    )
