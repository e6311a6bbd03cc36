"""Retry delays, a per-model circuit breaker and rpm/tpm headroom.

These are the process-wide pieces the hop drivers consult around each model
call; none of them calls a model or sleeps. The breaker and the rate limiter are
shared by every branch and workflow of the process, so they are thread-safe
(one lock each, held only for a few dictionary operations) and take an injected
clock so tests drive time by hand.

- `retry_delay` answers "wait how long before trying the *same* model again,
  or not at all?" from the failure's `ErrorFacts`: only retryable kinds (429,
  5xx, connection, timeout), never 4xx; the provider's ``Retry-After`` when it
  gives one (a wait beyond `RetrySettings.max_retry_after_s` means "go
  elsewhere": `None`); else exponential backoff with jitter.
- `CircuitBreaker` cools a model down when, over the calls reported in the
  last `window_s`, at least `min_calls` were made and `failure_rate` or more of
  them failed (a failure *rate* over a minimum number of calls, as resilience4j
  and Polly's advanced breaker do); it lets one half-open probe through after
  `cooldown_s` and closes on a success. A rate, not a run of consecutive
  faults: random noise on a healthy model (one call in three failing) never
  opens it, however long the run, while a dead model opens after `min_calls`
  calls. Budget, request (4xx) and cancellation errors are not the model's
  fault: they count neither as calls nor as failures.
- `RateLimiter` keeps a sliding 60 s window of calls and tokens per model and
  answers whether one more call of ``tokens`` fits the registry's ``rpm``/``tpm``;
  a 429 takes the model's headroom away until its ``Retry-After`` has passed.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import tenacity

from dispatch.faults import ErrorFacts, ErrorKind

__all__ = (
    "BreakerState",
    "CircuitBreaker",
    "CircuitState",
    "RetrySettings",
    "retry_delay",
)

_NOT_MODEL_FAULTS = frozenset(
    {ErrorKind.BUDGET, ErrorKind.REQUEST, ErrorKind.CANCELLED}
)
"""Kinds that say nothing about the model's health."""
_RETRYING = tenacity.Retrying()
"""Owner object tenacity's wait strategies expect on their `RetryCallState`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrySettings:
    """How often and how long to retry the same model before failing over."""

    attempts: int = 3
    """Calls of one model per hop, the first one included (1 = never retry)."""
    initial_s: float = 0.5
    """Backoff before the first retry; doubles on each further retry."""
    max_s: float = 20.0
    """Longest backoff."""
    jitter_s: float = 0.25
    """Up to this much random extra wait, so parallel branches do not retry in step."""
    honour_retry_after: bool = True
    """Wait what the provider's ``Retry-After`` asks rather than our backoff."""
    max_retry_after_s: float = 30.0
    """A provider asking for a longer wait makes us fail over instead of waiting."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(
                f"RetrySettings.attempts must be >= 1, got {self.attempts}"
            )
        for name in ("initial_s", "max_s", "jitter_s", "max_retry_after_s"):
            if not getattr(self, name) >= 0:  # also rejects NaN
                raise ValueError(f"RetrySettings.{name} must be >= 0")


def retry_delay(
    settings: RetrySettings,
    attempt: int,
    facts: ErrorFacts,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before calling the same model again, or `None` to stop.

    Args:
        settings: The retry policy.
        attempt: Number of the attempt that just failed, starting at 1.
        facts: What the failure was.
        rng: Source of jitter (seed it for reproducible runs); the module's
            global generator when omitted.

    Returns:
        `None` when the error is not retryable, the attempts are used up, or the
        provider's ``Retry-After`` exceeds `settings.max_retry_after_s`;
        otherwise the ``Retry-After`` (plus jitter) or
        ``min(initial_s * 2**(attempt-1) + jitter, max_s)``.

    The exponential curve is tenacity's `wait_exponential`; the jitter is drawn
    here because tenacity's jittered strategies (`wait_exponential_jitter`,
    `wait_random`) use the global `random` module and cannot take a seeded
    generator, which the fault-injection benchmark needs to be reproducible.
    """
    if not facts.retryable or attempt >= settings.attempts:
        return None
    jitter = (
        (rng or random).uniform(0.0, settings.jitter_s) if settings.jitter_s else 0.0
    )
    if settings.honour_retry_after and facts.retry_after_s is not None:
        if facts.retry_after_s > settings.max_retry_after_s:
            return None
        return facts.retry_after_s + jitter
    state = tenacity.RetryCallState(_RETRYING, None, (), {})
    state.attempt_number = attempt
    base = tenacity.wait_exponential(multiplier=settings.initial_s, max=settings.max_s)
    return min(base(state) + jitter, settings.max_s)


class BreakerState(StrEnum):
    """Where a model's circuit is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitState:
    """One model's circuit, as `CircuitBreaker.snapshot` reports it."""

    state: BreakerState
    """Closed (calls flow), open (cooling down) or half-open (one probe allowed)."""
    failures: int
    """Model faults among the calls in the current window."""
    calls: int = 0
    """Calls (failed or not) reported in the current window."""
    opened_at: float | None = None
    """Clock reading when the circuit last opened."""
    probe_at: float | None = None
    """Clock reading from which a half-open probe is allowed (open circuits)."""
    last_error: str | None = None
    """`ErrorFacts.summary()` of the last fault (secret-free)."""


@dataclass(slots=True)
class _Circuit:
    state: BreakerState = BreakerState.CLOSED
    outcomes: deque[tuple[float, bool]] = field(default_factory=deque)
    """(clock reading, failed) of each call reported in the window."""
    failures: int = 0
    """Failed entries of `outcomes`."""
    opened_at: float | None = None
    probe_started: float | None = None
    last_error: str | None = None

    def note(self, now: float, failed: bool, window_s: float) -> None:
        """Add one outcome and drop those older than the window."""
        self.outcomes.append((now, failed))
        self.failures += failed
        while self.outcomes and self.outcomes[0][0] <= now - window_s:
            self.failures -= self.outcomes.popleft()[1]

    def reset(self) -> None:
        self.outcomes.clear()
        self.failures = 0


_NONE_OPEN: frozenset[str] = frozenset()


def _cooling(c: _Circuit, now: float, cooldown_s: float) -> bool:
    """Open and cooling down, or half-open with its probe in flight."""
    if c.state is BreakerState.OPEN:
        return c.opened_at is not None and now < c.opened_at + cooldown_s
    if c.state is BreakerState.HALF_OPEN:
        return c.probe_started is not None and now < c.probe_started + cooldown_s
    return False


class CircuitBreaker:
    """Per-model circuit breaker shared by every branch and workflow in a process.

    Args:
        failure_rate: share of failed calls in the window (0 < rate <= 1) that
            opens the circuit.
        min_calls: calls the window must hold before the rate is judged, so a
            few unlucky calls do not open a healthy model (and a dead model
            opens after this many calls).
        window_s: how far back outcomes count.
        cooldown_s: how long an open circuit refuses calls before one
            half-open probe.
        clock: monotonic seconds.
        on_change: ``on_change(model, old, new)`` on every transition (called
            outside the lock, so it may call back into the breaker), e.g. to add
            a span event.
    """

    def __init__(
        self,
        *,
        failure_rate: float = 0.5,
        min_calls: int = 10,
        window_s: float = 60.0,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, str, str], None] | None = None,
    ) -> None:
        if min_calls < 1:
            raise ValueError(f"CircuitBreaker min_calls must be >= 1, got {min_calls}")
        if not 0 < failure_rate <= 1:
            raise ValueError(
                f"CircuitBreaker failure_rate must be within (0, 1], got {failure_rate}"
            )
        if not (window_s > 0 and cooldown_s >= 0):
            raise ValueError("CircuitBreaker window_s must be > 0 and cooldown_s >= 0")
        self.failure_rate = failure_rate
        self.min_calls = min_calls
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self.clock = clock
        """The breaker's clock (its `CircuitState` times are readings of it)."""
        self._on_change = on_change
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}
        self._not_closed: set[str] = set()
        """Models whose circuit is open or half-open (kept by `_move`)."""

    def allows(self, model_id: str) -> bool:
        """Whether a call to `model_id` may go out now.

        True when closed; when open and the cooldown has passed, the circuit
        turns half-open and this call *takes* the single probe slot (report its
        outcome with `record_success`/`record_failure`). A probe that never
        reports back frees its slot after another cooldown.
        """
        events: list[tuple[str, str, str]] = []
        with self._lock:
            now = self.clock()
            circuit = self._circuits.get(model_id)
            if circuit is None or circuit.state is BreakerState.CLOSED:
                return True
            if circuit.state is BreakerState.OPEN:
                if (
                    circuit.opened_at is not None
                    and now < circuit.opened_at + self.cooldown_s
                ):
                    return False
                self._move(model_id, circuit, BreakerState.HALF_OPEN, events)
                circuit.probe_started = now
                allowed = True
            elif circuit.probe_started is None or (
                now >= circuit.probe_started + max(self.cooldown_s, 1e-9)
            ):
                circuit.probe_started = now
                allowed = True
            else:
                allowed = False
        self._emit(events)
        return allowed

    def open_models(self) -> frozenset[str]:
        """Models the policy should skip now: cooling down, or probe in flight."""
        if not self._not_closed:  # every circuit closed: the common case, every hop
            return _NONE_OPEN
        with self._lock:
            now = self.clock()
            return frozenset(
                model
                for model in self._not_closed
                if _cooling(self._circuits[model], now, self.cooldown_s)
            )

    def _circuit(self, model_id: str) -> _Circuit:
        circuit = self._circuits.get(model_id)
        if circuit is None:
            circuit = self._circuits[model_id] = _Circuit()
        return circuit

    def record_success(self, model_id: str) -> None:
        """A call succeeded: count it; a half-open (or open) circuit closes with
        a fresh window."""
        events: list[tuple[str, str, str]] = []
        with self._lock:
            circuit = self._circuit(model_id)
            circuit.probe_started = None
            if circuit.state is BreakerState.CLOSED:
                circuit.note(self.clock(), False, self.window_s)
            else:
                circuit.reset()
                self._move(model_id, circuit, BreakerState.CLOSED, events)
                circuit.opened_at = None
        self._emit(events)

    def record_failure(self, model_id: str, facts: ErrorFacts) -> None:
        """A call failed. Budget, request (4xx) and cancellation errors are not
        model faults: they only free a half-open probe slot."""
        events: list[tuple[str, str, str]] = []
        with self._lock:
            circuit = self._circuit(model_id)
            if facts.kind in _NOT_MODEL_FAULTS:
                circuit.probe_started = None
                return
            now = self.clock()
            circuit.last_error = facts.summary()
            if circuit.state is BreakerState.HALF_OPEN:
                self._open(model_id, circuit, now, events)
            elif circuit.state is BreakerState.CLOSED:
                circuit.note(now, True, self.window_s)
                calls = len(circuit.outcomes)
                if (
                    calls >= self.min_calls
                    and circuit.failures >= self.failure_rate * calls
                ):
                    self._open(model_id, circuit, now, events)
        self._emit(events)

    def troubled(self, model_id: str) -> bool:
        """Whether any circuit is not closed, or `model_id` has faults in its
        window: the cheap check before a `snapshot` worth recording."""
        with self._lock:
            if self._not_closed:
                return True
            circuit = self._circuits.get(model_id)
            return circuit is not None and circuit.failures > 0

    def snapshot(self) -> dict[str, CircuitState]:
        """Every model the breaker has heard from, with its circuit."""
        with self._lock:
            now = self.clock()
            for c in self._circuits.values():  # drop outcomes past the window
                while c.outcomes and c.outcomes[0][0] <= now - self.window_s:
                    c.failures -= c.outcomes.popleft()[1]
            return {
                model: CircuitState(
                    state=c.state,
                    failures=c.failures,
                    calls=len(c.outcomes),
                    opened_at=c.opened_at,
                    probe_at=(
                        c.opened_at + self.cooldown_s
                        if c.state is BreakerState.OPEN and c.opened_at is not None
                        else None
                    ),
                    last_error=c.last_error,
                )
                for model, c in self._circuits.items()
            }

    def _open(
        self,
        model_id: str,
        circuit: _Circuit,
        now: float,
        events: list[tuple[str, str, str]],
    ) -> None:
        circuit.opened_at = now
        circuit.probe_started = None
        self._move(model_id, circuit, BreakerState.OPEN, events)

    def _move(
        self,
        model_id: str,
        circuit: _Circuit,
        new: BreakerState,
        events: list[tuple[str, str, str]],
    ) -> None:
        if circuit.state is not new:
            events.append((model_id, circuit.state.value, new.value))
            circuit.state = new
            if new is BreakerState.CLOSED:
                self._not_closed.discard(model_id)
            else:
                self._not_closed.add(model_id)

    def _emit(self, events: list[tuple[str, str, str]]) -> None:
        if self._on_change is not None:
            for event in events:
                self._on_change(*event)
