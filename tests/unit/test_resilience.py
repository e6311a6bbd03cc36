"""Retry delays, the circuit breaker and rpm/tpm headroom, on a hand-driven clock."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.faults import ErrorFacts, ErrorKind
from dispatch.rate_limits import RateLimiter
from dispatch.resilience import (
    BreakerState,
    CircuitBreaker,
    RetrySettings,
    retry_delay,
)
from dispatch.types import ModelSpec


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def facts(
    kind: ErrorKind, status: int | None = None, retry_after: float | None = None
) -> ErrorFacts:
    retryable = kind in {
        ErrorKind.RATE_LIMIT,
        ErrorKind.SERVER,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
    }
    return ErrorFacts(
        type="E",
        kind=kind,
        status=status,
        retry_after_s=retry_after,
        retryable=retryable,
    )


RATE_LIMITED = facts(ErrorKind.RATE_LIMIT, 429)
SERVER = facts(ErrorKind.SERVER, 503)
BAD_REQUEST = facts(ErrorKind.REQUEST, 400)
BUDGET = facts(ErrorKind.BUDGET, 402)


def spec(
    model_id: str = "p:m", *, rpm: int | None = None, tpm: int | None = None
) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        tier="small",
        quality={"general": 0.6},
        input_per_mtok=Decimal("0.1"),
        output_per_mtok=Decimal("0.4"),
        context_window=8000,
        max_output_tokens=1000,
        rpm=rpm,
        tpm=tpm,
    )


# --- retry_delay ---------------------------------------------------------------


def test_backoff_doubles_from_initial_up_to_the_cap() -> None:
    settings = RetrySettings(attempts=10, initial_s=0.5, max_s=3.0, jitter_s=0.0)
    delays = [retry_delay(settings, n, SERVER) for n in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_is_bounded_and_reproducible_with_a_seeded_rng() -> None:
    settings = RetrySettings(attempts=5, initial_s=1.0, jitter_s=0.25)
    first = [retry_delay(settings, 2, SERVER, random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1
    spread = [retry_delay(settings, 2, SERVER, random.Random(s)) for s in range(50)]
    assert all(d is not None and 2.0 <= d <= 2.25 for d in spread)
    assert len(set(spread)) > 1


def test_retry_after_is_honoured_instead_of_backoff() -> None:
    settings = RetrySettings(jitter_s=0.0)
    assert retry_delay(settings, 1, facts(ErrorKind.RATE_LIMIT, 429, 7.0)) == 7.0
    ignoring = RetrySettings(jitter_s=0.0, honour_retry_after=False)
    assert retry_delay(ignoring, 1, facts(ErrorKind.RATE_LIMIT, 429, 7.0)) == 0.5


def test_retry_after_beyond_the_cap_means_fail_over_not_wait() -> None:
    settings = RetrySettings(max_retry_after_s=30.0)
    assert retry_delay(settings, 1, facts(ErrorKind.RATE_LIMIT, 429, 31.0)) is None


@pytest.mark.parametrize(
    "failure",
    [
        BAD_REQUEST,
        BUDGET,
        facts(ErrorKind.AUTH, 401),
        facts(ErrorKind.CANCELLED),
        facts(ErrorKind.OTHER),
        facts(ErrorKind.REQUEST, 404, retry_after=1.0),
    ],
)
def test_never_retries_4xx_auth_budget_or_cancellation(failure: ErrorFacts) -> None:
    assert retry_delay(RetrySettings(attempts=10), 1, failure) is None


def test_stops_when_the_attempts_are_used_up() -> None:
    settings = RetrySettings(attempts=3)
    assert retry_delay(settings, 2, SERVER) is not None
    assert retry_delay(settings, 3, SERVER) is None
    assert retry_delay(RetrySettings(attempts=1), 1, SERVER) is None


@pytest.mark.parametrize(
    "bad", [{"attempts": 0}, {"initial_s": -1.0}, {"max_s": float("nan")}]
)
def test_settings_are_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetrySettings"):
        RetrySettings(**bad)  # type: ignore[arg-type]


# --- CircuitBreaker -----------------------------------------------------------


def test_a_dead_model_opens_after_min_calls_failures_within_the_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(min_calls=3, window_s=60, cooldown_s=30, clock=clock)
    for _ in range(2):
        breaker.record_failure("a", RATE_LIMITED)
    assert breaker.allows("a")
    breaker.record_failure("a", RATE_LIMITED)
    assert not breaker.allows("a")
    assert breaker.open_models() == {"a"}
    state = breaker.snapshot()["a"]
    assert state.state is BreakerState.OPEN
    assert state.probe_at == clock.now + 30
    assert state.last_error == "E (429)"


def test_failures_spread_beyond_the_window_do_not_open() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(min_calls=3, window_s=60, clock=clock)
    for _ in range(5):
        breaker.record_failure("a", SERVER)
        clock.advance(31)
    assert breaker.allows("a")
    # seen now (155 s), only the fault at 124 s is still in the window
    assert breaker.snapshot()["a"].failures == 1


def test_opens_on_the_failure_rate_over_the_window_not_on_a_run() -> None:
    breaker = CircuitBreaker(failure_rate=0.5, min_calls=4, clock=FakeClock())
    for outcome in "SFSF":  # 50 % of 4 calls
        if outcome == "F":
            breaker.record_failure("a", SERVER)
        else:
            breaker.record_success("a")
    assert breaker.open_models() == {"a"}
    state = breaker.snapshot()["a"]
    assert (state.failures, state.calls) == (2, 4)


def test_below_the_rate_a_model_stays_closed_even_after_a_run_of_failures() -> None:
    breaker = CircuitBreaker(failure_rate=0.5, min_calls=4, clock=FakeClock())
    for _ in range(6):
        breaker.record_success("a")
    for _ in range(5):  # five in a row, but 5 of 11 calls
        breaker.record_failure("a", SERVER)
    assert breaker.allows("a")


def test_random_noise_never_opens_a_healthy_model_but_a_dead_one_opens_fast() -> None:
    # The default breaker over a long run where one call in three fails at
    # random (more than the fault bench's 30 % rate makes a model fail): a run of
    # consecutive faults happens, the rate never reaches one half.
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    rng = random.Random(7)
    for _ in range(3000):
        if rng.random() < 1 / 3:
            breaker.record_failure("noisy", SERVER)
        else:
            breaker.record_success("noisy")
        clock.advance(0.05)
    assert breaker.snapshot()["noisy"].state is BreakerState.CLOSED
    assert not breaker.troubled("quiet")  # nothing open, no faults of its own
    calls = 0
    while breaker.allows("dead"):
        breaker.record_failure("dead", SERVER)
        calls += 1
    assert calls == breaker.min_calls == 10
    assert breaker.troubled("quiet")  # an open circuit is worth recording


def test_half_open_probe_after_cooldown_then_closes_on_success() -> None:
    clock = FakeClock()
    changes: list[tuple[str, str, str]] = []
    breaker = CircuitBreaker(
        min_calls=1,
        cooldown_s=30,
        clock=clock,
        on_change=lambda *event: changes.append(event),
    )
    breaker.record_failure("a", SERVER)
    clock.advance(29.9)
    assert not breaker.allows("a")
    clock.advance(0.1)
    assert breaker.open_models() == frozenset()  # the policy may pick it again
    assert breaker.allows("a")  # this call is the probe ...
    assert not breaker.allows("a")  # ... and only one probe goes out
    assert breaker.open_models() == {"a"}
    breaker.record_success("a")
    assert breaker.allows("a") and breaker.allows("a")
    assert changes == [
        ("a", "closed", "open"),
        ("a", "open", "half_open"),
        ("a", "half_open", "closed"),
    ]


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(min_calls=1, cooldown_s=30, clock=clock)
    breaker.record_failure("a", SERVER)
    clock.advance(30)
    assert breaker.allows("a")
    breaker.record_failure("a", SERVER)
    assert breaker.snapshot()["a"].state is BreakerState.OPEN
    clock.advance(29)
    assert not breaker.allows("a")


def test_a_probe_that_never_reports_frees_its_slot_after_a_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(min_calls=1, cooldown_s=30, clock=clock)
    breaker.record_failure("a", SERVER)
    clock.advance(30)
    assert breaker.allows("a")
    clock.advance(30)
    assert breaker.allows("a")


@pytest.mark.parametrize(
    "not_a_fault", [BUDGET, BAD_REQUEST, facts(ErrorKind.CANCELLED)]
)
def test_budget_request_and_cancel_errors_do_not_trip(not_a_fault: ErrorFacts) -> None:
    breaker = CircuitBreaker(min_calls=1, clock=FakeClock())
    for _ in range(10):
        breaker.record_failure("a", not_a_fault)
    assert breaker.allows("a")
    assert breaker.open_models() == frozenset()


def test_a_cancelled_probe_frees_the_slot_without_reopening() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(min_calls=1, cooldown_s=30, clock=clock)
    breaker.record_failure("a", SERVER)
    clock.advance(30)
    assert breaker.allows("a")
    breaker.record_failure("a", facts(ErrorKind.CANCELLED))
    assert breaker.allows("a")


def test_models_are_independent() -> None:
    breaker = CircuitBreaker(min_calls=1, clock=FakeClock())
    breaker.record_failure("a", SERVER)
    assert not breaker.allows("a")
    assert breaker.allows("b")
    assert set(breaker.snapshot()) == {"a"}


def test_on_change_may_call_back_into_the_breaker() -> None:
    seen: list[frozenset[str]] = []
    breaker: CircuitBreaker

    def on_change(model: str, old: str, new: str) -> None:
        seen.append(breaker.open_models())

    breaker = CircuitBreaker(min_calls=1, clock=FakeClock(), on_change=on_change)
    breaker.record_failure("a", SERVER)
    assert seen == [frozenset({"a"})]


def test_breaker_counts_exactly_under_threads() -> None:
    clock = FakeClock()
    changes: list[tuple[str, str, str]] = []
    breaker = CircuitBreaker(
        min_calls=400, window_s=60, clock=clock, on_change=lambda *e: changes.append(e)
    )
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(50):
            breaker.record_failure("a", SERVER)
            breaker.allows("a")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # exactly the 400th failure opens it, exactly once
    assert changes == [("a", "closed", "open")]
    assert breaker.snapshot()["a"].failures == 400


def test_only_one_thread_gets_the_probe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(min_calls=1, cooldown_s=30, clock=clock)
    breaker.record_failure("a", SERVER)
    clock.advance(30)
    barrier = threading.Barrier(16)
    granted: list[bool] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        answer = breaker.allows("a")
        with lock:
            granted.append(answer)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 1


def test_breaker_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="min_calls"):
        CircuitBreaker(min_calls=0)
    with pytest.raises(ValueError, match="failure_rate"):
        CircuitBreaker(failure_rate=0)
    with pytest.raises(ValueError, match="window_s"):
        CircuitBreaker(window_s=0)


# --- RateLimiter --------------------------------------------------------------


def test_rpm_headroom_over_a_sliding_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    model = spec(rpm=2)
    for _ in range(2):
        assert limiter.headroom(model, 10)
        limiter.note_call(model, 10)
        clock.advance(10)
    assert not limiter.headroom(model, 10)
    assert limiter.wait_s(model, 10) == pytest.approx(40.0)
    clock.advance(40)  # the first call leaves the window
    assert limiter.headroom(model, 10)


def test_tpm_headroom_counts_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    model = spec(tpm=1000)
    limiter.note_call(model, 700)
    assert limiter.headroom(model, 300)
    assert not limiter.headroom(model, 301)
    clock.advance(60)
    assert limiter.headroom(model, 1000)


def test_a_call_larger_than_the_whole_tpm_runs_on_an_empty_window() -> None:
    limiter = RateLimiter(clock=FakeClock())
    model = spec(tpm=100)
    assert limiter.headroom(model, 5000)
    limiter.note_call(model, 5000)
    assert not limiter.headroom(model, 1)


def test_models_without_limits_always_have_headroom() -> None:
    limiter = RateLimiter(clock=FakeClock())
    model = spec()
    for _ in range(1000):
        limiter.note_call(model, 10_000)
    assert limiter.headroom(model, 10_000)


def test_a_429_removes_headroom_until_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, default_block_s=10)
    model = spec()
    limiter.note_429(model, 5.0)
    assert not limiter.headroom(model, 1)
    assert limiter.wait_s(model, 1) == pytest.approx(5.0)
    clock.advance(5)
    assert limiter.headroom(model, 1)
    limiter.note_429(model, None)
    clock.advance(9.9)
    assert not limiter.headroom(model, 1)
    clock.advance(0.1)
    assert limiter.headroom(model, 1)


def test_saturated_names_the_models_without_headroom() -> None:
    limiter = RateLimiter(clock=FakeClock())
    busy, free, limited = spec("p:busy", rpm=1), spec("p:free", rpm=5), spec("p:429")
    limiter.note_call(busy, 1)
    limiter.note_429(limited, 3.0)
    assert limiter.saturated([busy, free, limited], 1) == {"p:busy", "p:429"}


def test_limiter_counts_exactly_under_threads() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    model = spec(rpm=1000, tpm=1_000_000)
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(100):
            limiter.headroom(model, 10)
            limiter.note_call(model, 10)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # exactly 800 calls and 8000 tokens were counted: one more fits rpm=801 ...
    assert limiter.saturated([spec(rpm=801, tpm=8001)], 1) == frozenset()
    # ... but not rpm=800, nor a tpm with no token to spare
    assert limiter.saturated([spec(rpm=800)], 1) == {"p:m"}
    assert limiter.saturated([spec(tpm=8000)], 1) == {"p:m"}


# --- property: the policy's exclude set and the gate always agree -----------------

KINDS = [ErrorKind.RATE_LIMIT, ErrorKind.SERVER, ErrorKind.BUDGET, ErrorKind.REQUEST]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("fail"), st.sampled_from(KINDS)),
        st.tuples(st.just("success"), st.none()),
        st.tuples(st.just("advance"), st.floats(min_value=0, max_value=45)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops=OPS)
def test_allows_is_exactly_not_in_open_models(ops: list[tuple[str, object]]) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(min_calls=2, window_s=60, cooldown_s=30, clock=clock)
    for op, arg in ops:
        if op == "fail":
            assert isinstance(arg, ErrorKind)
            breaker.record_failure("a", facts(arg))
        elif op == "success":
            breaker.record_success("a")
            state = breaker.snapshot().get("a")
            assert state is None or state.state is BreakerState.CLOSED
        else:
            assert isinstance(arg, float)
            clock.advance(arg)
        excluded = "a" in breaker.open_models()
        assert breaker.allows("a") is not excluded
