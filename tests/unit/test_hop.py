"""The pure hop: plan, settle, fail, and the failover loop driven by hand."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from conftest import SMALL_REGISTRY, registry_from_text
from langchain_core.messages import AIMessage, HumanMessage

from dispatch.budget import Ledger
from dispatch.faults import ErrorFacts, ErrorKind
from dispatch.hop import (
    Attempt,
    HopResult,
    fail_hop,
    pin_for,
    plan_hop,
    settle_hop,
)
from dispatch.hop_flow import hop_flow
from dispatch.policy import select
from dispatch.types import Hop, Pin, PinChange, RouteDecision, RouterLayer, Usage
from dispatch.usage import checked_usage

REGISTRY = registry_from_text(SMALL_REGISTRY)
HOP = Hop(specialist="w", prompt="p", step="t1", input_tokens=100, max_output_tokens=50)
REQUEST = [HumanMessage("hello there")]


def decision(tier: str = "small", capability: str = "general") -> RouteDecision:
    return RouteDecision(
        capability=capability,
        tier=tier,
        confidence=1.0,
        router=RouterLayer.FIXED,
        reason="fixed",
    )


def reply(input_tokens: object = 100, output_tokens: object = 20) -> AIMessage:
    msg = AIMessage(content="ok")
    msg.usage_metadata = {
        "input_tokens": input_tokens,  # type: ignore[typeddict-item]
        "output_tokens": output_tokens,  # type: ignore[typeddict-item]
        "total_tokens": 0,
    }
    return msg


def flow(ledger: Ledger | None = None, **kw: object) -> object:
    clock = iter(range(0, 1000, 1))
    return hop_flow(
        HOP,
        REQUEST,
        decision=kw.pop("decision", decision()),  # type: ignore[arg-type]
        registry=REGISTRY,
        ledger=ledger,
        clock=lambda: float(next(clock)),
        **kw,  # type: ignore[arg-type]
    )


def drive(gen: object, outcomes: list[object]) -> tuple[list[Attempt], HopResult]:
    """Feed `outcomes` to the flow; return the attempts it made and its result."""
    attempts: list[Attempt] = []
    sent: object = None
    try:
        while True:
            attempt = gen.send(sent)  # type: ignore[attr-defined]
            attempts.append(attempt)
            sent = outcomes.pop(0)
    except StopIteration as done:
        return attempts, done.value


# -- plan / settle / fail --------------------------------------------------------------


def test_a_failover_is_recorded_as_a_fact_with_the_failure_summary() -> None:
    failed = fail_hop(
        HOP,
        select(decision(), HOP, REGISTRY),
        decision(),
        ErrorFacts(type="RateLimitError", kind=ErrorKind.RATE_LIMIT, status=429),
        error="RateLimitError (429)",
    )
    choice = plan_hop(
        HOP,
        decision(),
        REGISTRY,
        pin=None,
        budget=None,
        exclude=frozenset({"tiny:model"}),
        failed_from=failed,
    )
    assert choice.model.id == "mid:model"
    assert choice.pin_change is PinChange.FAILOVER
    assert choice.repinned_from == "tiny:model"
    assert choice.reason == "failover from tiny:model (RateLimitError (429))"


@pytest.mark.parametrize(
    ("reported", "expected", "anomaly"),
    [
        ((100, 20), (100, 20), None),
        ((-5, 20), (7, 20), "input -5 is negative"),
        ((100, -1_000_000), (100, 50), "output -1000000 is negative"),
        ((10**9, 20), (7, 20), "input 1000000000 exceeds the model's limit 8000"),
        (("lots", 20), (7, 20), "input 'lots' is not a number"),
        ((float("nan"), 20), (7, 20), "input nan is not finite"),
        ((100, 2500), (100, 50), "output 2500 exceeds the model's limit 2000"),
        ((100, 120), (100, 120), None),  # above the hop's cap but real spend
    ],
)
def test_reported_usage_is_checked_before_it_is_billed(
    reported: tuple[object, object], expected: tuple[int, int], anomaly: str | None
) -> None:
    choice = select(decision(), HOP, REGISTRY)
    usage = Usage(input_tokens=reported[0], output_tokens=reported[1])  # type: ignore[arg-type]
    checked, problem = checked_usage(usage, choice, REQUEST)
    assert (checked.input_tokens, checked.output_tokens) == expected
    assert problem == anomaly
    assert checked.estimated is (anomaly is not None)


def test_settling_prices_checked_usage_and_never_goes_negative() -> None:
    choice = select(decision(), HOP, REGISTRY)
    record = settle_hop(
        HOP, choice, reply(-(10**6), -(10**6)), REQUEST, REGISTRY, duration_ms=1.0
    )
    assert record.cost_usd > 0
    assert record.usage_anomaly is not None
    assert record.pin_change is PinChange.NEW and record.round == 0


def test_a_failed_attempt_keeps_no_provider_text() -> None:
    facts = ErrorFacts(type="AuthenticationError", kind=ErrorKind.AUTH, status=401)
    record = fail_hop(HOP, None, decision(), facts, error=facts.summary(), workflow="w")
    assert (record.error, record.error_type) == (
        "AuthenticationError (401)",
        "AuthenticationError",
    )
    assert (record.cost_usd, record.input_tokens, record.refused) == (0, 0, False)


# -- the failover loop -----------------------------------------------------------------


def test_a_reply_settles_the_reservation_and_pins_the_model() -> None:
    ledger = Ledger(Decimal("1"))
    attempts, result = drive(flow(ledger), [reply()])
    assert [a.choice.model.id for a in attempts] == ["tiny:model"]
    assert result.ok and result.pin is not None and result.pin.model == "tiny:model"
    assert result.pin_scope == "w@small"
    assert ledger.reserved == 0 and ledger.spent == result.record.cost_usd
    assert result.message is not None
    assert result.message.response_metadata["dispatch"]["model"] == "tiny:model"


def test_a_failing_model_fails_over_and_releases_its_reservation() -> None:
    ledger = Ledger(Decimal("1"))
    attempts, result = drive(flow(ledger), [RuntimeError("sk-secret123456"), reply()])
    assert [a.choice.model.id for a in attempts] == ["tiny:model", "mid:model"]
    assert attempts[1].failed is not None and attempts[1].failed.model == "tiny:model"
    failed, served = result.records
    assert failed.error == "RuntimeError (other)"
    assert "sk-secret" not in str(result.records)
    assert (served.fallback_from, served.attempt) == ("tiny:model", 2)
    assert ledger.reserved == 0 and ledger.spent == served.cost_usd


def test_every_model_failing_is_a_result_not_an_exception() -> None:
    attempts, result = drive(flow(), [RuntimeError()] * 3)
    assert len(attempts) == 3 and not result.ok
    assert result.error == "RuntimeError (other)"
    with pytest.raises(Exception, match="failed on tiny:model, mid:model, big:model"):
        result.raise_for_failure()


def test_the_budget_refuses_before_any_call() -> None:
    ledger = Ledger(Decimal("0"))
    attempts, result = drive(flow(ledger), [])
    assert attempts == [] and result.refused
    assert result.record.error_type == "BudgetExceeded"
    assert ledger.refused == 1


def test_no_eligible_model_fails_the_hop_and_says_why() -> None:
    attempts, result = drive(flow(decision=decision(capability="poetry")), [])
    assert attempts == [] and not result.ok
    assert result.record.error_type == "NoEligibleModel"
    assert "no registered model declares this capability" in (result.error or "")


def test_closing_the_flow_mid_call_releases_the_reservation() -> None:
    ledger = Ledger(Decimal("1"))
    gen = flow(ledger)
    next(gen)  # type: ignore[call-overload]
    assert ledger.reserved > 0
    gen.close()  # type: ignore[attr-defined]
    assert ledger.reserved == 0 and ledger.spent == 0


def test_a_cancelled_call_is_recorded_and_not_failed_over() -> None:
    import asyncio

    ledger = Ledger(Decimal("1"))
    attempts, result = drive(flow(ledger), [asyncio.CancelledError()])
    assert len(attempts) == 1 and not result.ok
    assert result.record.error_type == "CancelledError"
    assert ledger.reserved == 0


def test_an_overrun_closes_a_hard_ledger() -> None:
    ledger = Ledger(Decimal("1"))
    _, first = drive(flow(ledger), [reply(100, 1900)])  # cap 50, model limit 2000
    assert first.ok and ledger.overrun > 0
    _, second = drive(flow(ledger), [])
    assert second.refused and "overrun" in (second.error or "")


# -- pin scopes ------------------------------------------------------------------------


def test_a_tool_loop_stays_on_its_model_whatever_tier_the_router_asks() -> None:
    loop = Pin(model="mid:model", tier="medium", reason="r")
    for asked in ("small", "large"):
        kept, scope, pin = pin_for(HOP, decision(asked), {}, loop, REGISTRY)
        assert (kept.tier, scope, pin) == ("medium", "w@medium", loop)
        assert select(kept, HOP, REGISTRY, pin=pin).pin_change is PinChange.KEPT


def test_a_tool_loop_stays_on_its_model_when_a_learned_bar_rises_mid_loop() -> None:
    # the follow-up prompt (tool results in it) gets its own predictions and bar:
    # mid:model, the loop's model, is predicted below it, big:model above
    loop = Pin(model="mid:model", tier="medium", reason="cheapest of 2 eligible")
    follow_up = RouteDecision(
        capability="general",
        tier="large",
        confidence=1.0,
        router=RouterLayer.LEARNED,
        reason="general p=1.00; 1 model predicted >= 0.811",
        quality={"tiny:model": 0.4, "mid:model": 0.65, "big:model": 0.83},
        bar=0.811,
    )
    kept, scope, pin = pin_for(HOP, follow_up, {}, loop, REGISTRY)
    assert (kept.tier, scope, pin) == ("medium", "w@medium", loop)
    choice = select(kept, HOP, REGISTRY, pin=pin)
    assert (choice.model.id, choice.pin_change) == ("mid:model", PinChange.KEPT)
    assert choice.repinned_from is None
    assert kept.reason.endswith("; the tool loop stays on mid:model")
    # a bar the loop's model clears is left as the router set it
    met = replace(follow_up, tier="medium", bar=0.6)
    assert pin_for(HOP, met, {}, loop, REGISTRY)[0] == met


def test_pins_are_scoped_per_tier() -> None:
    pins = {"w@small": Pin(model="mid:model", tier="small", reason="r")}
    _, scope, pin = pin_for(HOP, decision("small"), pins, None, REGISTRY)
    assert (scope, pin) == ("w@small", pins["w@small"])
    _, scope, pin = pin_for(HOP, decision("large"), pins, None, REGISTRY)
    assert (scope, pin) == ("w@large", None)


def test_reported_input_far_beyond_what_was_sent_is_replaced() -> None:
    choice = select(decision(), HOP, REGISTRY)
    usage = Usage(input_tokens=10**9, output_tokens=20)
    checked, problem = checked_usage(usage, choice, REQUEST, sent_tokens=2000)
    assert checked.input_tokens == 2000  # billed at what was reserved for it
    assert problem == "input 1000000000 exceeds the bound of what was sent, 6096"
    plausible = Usage(input_tokens=4000, output_tokens=20)  # an image, say
    assert (
        checked_usage(plausible, choice, REQUEST, sent_tokens=100)[0].input_tokens
        == 4000
    )
