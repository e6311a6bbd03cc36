"""The retry and failover loop with model health: retries, breaker, rate limits."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import SMALL_REGISTRY, registry_from_text
from langchain_core.messages import AIMessage, HumanMessage

from dispatch import Dispatcher, Hop
from dispatch.budget import Ledger
from dispatch.health import ModelHealth
from dispatch.hop import Attempt, HopResult
from dispatch.hop_flow import hop_flow
from dispatch.rate_limits import RateLimiter
from dispatch.resilience import CircuitBreaker, RetrySettings
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.types import RouteDecision, RouterLayer

REGISTRY = registry_from_text(SMALL_REGISTRY)
HOP = Hop(specialist="w", prompt="p", step="t", input_tokens=100, max_output_tokens=50)
DECISION = RouteDecision(
    capability="general",
    tier="small",
    confidence=1,
    router=RouterLayer.FIXED,
    reason="f",
)


class RateLimitError(Exception):
    status_code = 429

    def __init__(self, retry_after: str | None = None) -> None:
        super().__init__("slow down")
        headers = {"retry-after": retry_after} if retry_after else {}
        self.response = SimpleNamespace(status_code=429, headers=headers)


class BadRequestError(Exception):
    status_code = 400


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def health(clock: Clock, **kw: Any) -> ModelHealth:
    return ModelHealth(
        retry=RetrySettings(jitter_s=0.0, **kw),
        breaker=CircuitBreaker(min_calls=2, window_s=60, cooldown_s=30, clock=clock),
        limiter=RateLimiter(clock=clock),
    )


def drive(gen: Any, outcomes: list[object]) -> tuple[list[Attempt], HopResult]:
    attempts: list[Attempt] = []
    sent: object = None
    try:
        while True:
            attempts.append(gen.send(sent))
            sent = outcomes.pop(0)
    except StopIteration as done:
        return attempts, done.value


def flow(h: ModelHealth, ledger: Ledger | None = None, registry: Any = REGISTRY) -> Any:
    return hop_flow(
        HOP, [HumanMessage("hi")], decision=DECISION, registry=registry,
        ledger=ledger, health=h, clock=lambda: 0.0,
    )  # fmt: skip


def ok() -> AIMessage:
    return AIMessage(content="ok")


def test_a_429_retries_the_same_model_after_its_retry_after() -> None:
    ledger = Ledger(Decimal(1))
    attempts, result = drive(flow(health(Clock()), ledger), [RateLimitError("2"), ok()])
    assert [(a.choice.model.id, a.delay_s) for a in attempts] == [
        ("tiny:model", 0.0),
        ("tiny:model", 2.0),
    ]
    assert result.ok and [r.attempt for r in result.records] == [1, 2]
    assert result.records[0].error == "RateLimitError (429, retry after 2s)"
    assert result.records[1].fallback_from is None  # a retry, not a failover
    assert ledger.reserved == 0 and ledger.spent == result.record.cost_usd


def test_backoff_doubles_and_then_the_hop_fails_over() -> None:
    attempts, result = drive(
        flow(health(Clock(), attempts=3, initial_s=0.5)),
        [ConnectionError(), ConnectionError(), ConnectionError(), ok()],
    )
    assert [(a.choice.model.id, a.delay_s) for a in attempts] == [
        ("tiny:model", 0.0),
        ("tiny:model", 0.5),
        ("tiny:model", 1.0),
        ("mid:model", 0.0),
    ]
    assert result.ok and result.record.fallback_from == "tiny:model"


def test_a_request_error_is_never_retried() -> None:
    attempts, result = drive(flow(health(Clock())), [BadRequestError(), ok()])
    assert [a.choice.model.id for a in attempts] == ["tiny:model", "mid:model"]
    assert result.records[0].error_type == "BadRequestError"


def test_a_retry_after_beyond_the_cap_fails_over_instead_of_waiting() -> None:
    attempts, _ = drive(flow(health(Clock())), [RateLimitError("600"), ok()])
    assert [a.choice.model.id for a in attempts] == ["tiny:model", "mid:model"]


def test_an_open_circuit_is_skipped_until_its_cooldown_ends() -> None:
    clock = Clock()
    h = health(clock, attempts=1)
    for _ in range(2):  # two faults open tiny's circuit
        drive(flow(h), [ConnectionError(), ok()])
    attempts, _ = drive(flow(h), [ok()])
    assert attempts[0].choice.model.id == "mid:model"
    assert h.snapshot()["tiny:model"].state == "open"
    clock.now = 31.0  # half-open: one probe goes to tiny again
    attempts, _ = drive(flow(h), [ok()])
    assert attempts[0].choice.model.id == "tiny:model"
    assert h.snapshot()["tiny:model"].state == "closed"


def test_budget_errors_do_not_trip_the_breaker() -> None:
    h = health(Clock(), attempts=1)
    for _ in range(5):
        drive(flow(h, Ledger(Decimal(0))), [])
    assert "tiny:model" not in h.breaker.open_models()


def test_a_rate_limited_model_is_avoided_and_queued_for_when_it_is_alone() -> None:
    text = SMALL_REGISTRY.replace(
        "    latency_ms: 100\n", "    latency_ms: 100\n    rpm: 1\n"
    )
    registry = registry_from_text(text)
    clock = Clock()
    h = health(clock)
    drive(flow(h, registry=registry), [ok()])  # tiny's one request this minute
    attempts, _ = drive(flow(h, registry=registry), [ok()])
    assert attempts[0].choice.model.id == "mid:model"  # headroom elsewhere
    only_tiny = registry.restrict(["tiny:model"])
    attempts, _ = drive(flow(h, registry=only_tiny), [ok()])
    assert attempts[0].choice.model.id == "tiny:model"
    assert attempts[0].delay_s == pytest.approx(60.0)  # queued, not failed


def test_a_hung_async_call_is_abandoned_at_its_timeout_and_failed_over() -> None:
    class Hung(FakeChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(3600)

    text = SMALL_REGISTRY.replace(
        "    latency_ms: 100\n",
        "    latency_ms: 100\n    timeout_s: 0.05\n",
    )
    registry = registry_from_text(text)
    dispatcher = Dispatcher(
        registry,
        model_factory=fake_factory(
            {"tiny:model": Hung()}, default=lambda s: FakeChatModel()
        ),
        health=ModelHealth(retry=RetrySettings(attempts=2, initial_s=0, jitter_s=0)),
    )
    ledger = Ledger(Decimal(1))
    result = asyncio.run(
        asyncio.wait_for(
            dispatcher.acall(HOP, [HumanMessage("hi")], ledger=ledger), timeout=5
        )
    )
    assert result.ok and result.record.model == "mid:model"
    assert [r.error_type for r in result.records[:-1]] == ["TimeoutError"] * 2
    assert ledger.reserved == 0


def test_a_429_takes_an_unlimited_models_headroom_away_for_its_retry_after() -> None:
    clock = Clock()
    h = health(clock, attempts=1)
    attempts, _ = drive(flow(h), [RateLimitError("20"), ok()])
    assert [a.choice.model.id for a in attempts] == ["tiny:model", "mid:model"]
    attempts, _ = drive(flow(h), [ok()])
    assert attempts[0].choice.model.id == "mid:model"  # tiny still blocked
    clock.now = 21.0
    attempts, _ = drive(flow(h), [ok()])
    assert attempts[0].choice.model.id == "tiny:model"


def test_an_empty_reply_is_paid_for_and_tried_again() -> None:
    ledger = Ledger(Decimal(1))
    empty = AIMessage(content="")
    empty.usage_metadata = {"input_tokens": 10, "output_tokens": 0, "total_tokens": 10}
    attempts, result = drive(
        flow(health(Clock(), attempts=2, initial_s=0.5), ledger), [empty, empty, ok()]
    )
    assert [a.choice.model.id for a in attempts] == [
        "tiny:model",  # empty
        "tiny:model",  # retried once, empty again
        "mid:model",  # then failed over
    ]
    assert [r.error_type for r in result.records] == ["EmptyReply", "EmptyReply", None]
    assert all(r.cost_usd > 0 for r in result.records)  # each reply was paid for
    assert ledger.spent == sum((r.cost_usd for r in result.records), Decimal(0))


def test_a_short_retry_after_makes_other_hops_wait_for_the_cheap_model() -> None:
    # A 429 asking for 2 s: the next hop waits 2 s for tiny rather than pay mid.
    clock = Clock()
    h = health(clock, attempts=1)
    drive(flow(h), [RateLimitError("2"), ok()])
    attempts, _ = drive(flow(h), [ok()])
    assert attempts[0].choice.model.id == "tiny:model"
    assert attempts[0].delay_s == pytest.approx(2.0)
    clock.now = 2.0
    attempts, _ = drive(flow(h), [ok()])
    assert (attempts[0].choice.model.id, attempts[0].delay_s) == ("tiny:model", 0.0)


def test_max_queue_s_bounds_the_wait_for_the_cheap_model() -> None:
    clock = Clock()
    h = ModelHealth(
        retry=RetrySettings(attempts=1, jitter_s=0.0),
        limiter=RateLimiter(clock=clock),
        max_queue_s=1.0,
    )
    drive(flow(h), [RateLimitError("2"), ok()])
    attempts, _ = drive(flow(h), [ok()])
    assert (attempts[0].choice.model.id, attempts[0].delay_s) == ("mid:model", 0.0)
    with pytest.raises(ValueError, match="max_queue_s"):
        ModelHealth(max_queue_s=-1)


def test_records_carry_the_circuits_for_the_report_with_wall_clock_times() -> None:
    clock = Clock()
    h = ModelHealth(
        retry=RetrySettings(attempts=1, jitter_s=0.0),
        breaker=CircuitBreaker(min_calls=2, cooldown_s=30, clock=clock),
        limiter=RateLimiter(clock=clock),
        wall=lambda: 1_800_000_000.0 + clock.now,  # 2027-01-15T08:00:00Z at 0
    )
    _, first = drive(flow(h), [ConnectionError(), ok()])
    assert [(c.model, c.state, c.failures, c.calls) for c in first.records[0].circuits] == [
        ("tiny:model", "closed", 1, 1)
    ]  # fmt: skip
    assert first.records[1].circuits == ()  # mid is fine, nothing open
    clock.now = 5.0
    _, second = drive(flow(h), [ConnectionError(), ok()])
    opened = second.records[0].circuits[0]
    assert (opened.state, opened.failures, opened.calls) == ("open", 2, 2)
    assert opened.opened_at == "2027-01-15T08:00:05+00:00"
    assert opened.probe_at == "2027-01-15T08:00:35+00:00"
    assert opened.last_error == "ConnectionError (connection)"
    # the next hop skips tiny; its record still says why
    _, third = drive(flow(h), [ok()])
    assert third.record.model == "mid:model"
    assert [c.model for c in third.record.circuits] == ["tiny:model"]
