"""A model call's ``timeout_s`` is enforced by the hop drivers themselves, and
a call stopped in flight (timed out, cancelled) is charged the input it sent."""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from conftest import SMALL_REGISTRY, registry_from_text
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

from dispatch import Dispatcher, Hop
from dispatch.budget import Ledger
from dispatch.cost import call_cost
from dispatch.deadline import call_with_deadline
from dispatch.health import ModelHealth
from dispatch.hop import HopResult
from dispatch.hop_flow import hop_flow
from dispatch.resilience import RetrySettings
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.types import RouteDecision, RouterLayer

TIMEOUT_S = 0.2
REGISTRY = registry_from_text(
    SMALL_REGISTRY.replace(
        "    latency_ms: 100\n", f"    latency_ms: 100\n    timeout_s: {TIMEOUT_S}\n"
    )
)
TINY = REGISTRY.get("tiny:model")
HOP = Hop(specialist="w", prompt="p", step="t", input_tokens=100, max_output_tokens=50)
INPUT_COST = call_cost(TINY, HOP.input_tokens, 0)
"""What a call of tiny stopped in flight is charged: its input, no output."""


HANG_S = 10.0
"""How long a hung call hangs when nobody releases it."""


class Blocking(FakeChatModel):
    """Holds every call until `release` is set, then replies as the fake does
    (a provider that hangs, then answers long after it was given up on)."""

    release: threading.Event = Field(default_factory=threading.Event)
    returned: list[str] = Field(default_factory=list)
    """One entry per call that came back, late."""

    def _generate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        self.release.wait(HANG_S)  # bounded: a driver that waits fails, not hangs
        result = super()._generate(messages, *args, **kwargs)
        self.returned.append("late")
        return result


def wait_until(done: Any, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not done():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def dispatcher_with(hung: Blocking, registry: Any = REGISTRY) -> Dispatcher:
    return Dispatcher(
        registry,
        model_factory=fake_factory(
            {"tiny:model": hung}, default=lambda spec: FakeChatModel()
        ),
        health=ModelHealth(retry=RetrySettings(attempts=2, initial_s=0, jitter_s=0)),
    )


# -- the sync driver ---------------------------------------------------------------


def test_a_hung_sync_call_is_abandoned_at_its_timeout_and_failed_over() -> None:
    hung = Blocking()
    ledger = Ledger(Decimal(1))
    try:
        started = time.monotonic()
        result = dispatcher_with(hung).call(HOP, [HumanMessage("hi")], ledger=ledger)
        took = time.monotonic() - started
    finally:
        hung.release.set()
    assert took < 2 * TIMEOUT_S + 1.0  # two attempts of tiny, each cut at 0.2 s
    assert result.ok and result.record.model == "mid:model"
    timed_out = result.records[:-1]
    assert [(r.model, r.error_type) for r in timed_out] == [
        ("tiny:model", "TimeoutError")
    ] * 2
    assert all(r.estimated and r.cost_usd == INPUT_COST for r in timed_out)
    assert ledger.reserved == 0
    assert ledger.spent == sum((r.cost_usd for r in result.records), Decimal(0))


def test_a_hung_call_that_returns_late_changes_neither_the_ledger_nor_the_result() -> (
    None
):
    hung = Blocking()
    ledger = Ledger(Decimal(1))
    try:
        result = dispatcher_with(hung).call(HOP, [HumanMessage("hi")], ledger=ledger)
        spent, records = ledger.spent, result.records
        reply = result.message
        assert reply is not None
        before = reply.model_dump()
    finally:
        hung.release.set()
    wait_until(lambda: len(hung.returned) == 2)  # both abandoned calls came back
    assert (ledger.spent, ledger.reserved) == (spent, 0)
    assert result.records == records
    assert reply.model_dump() == before


def test_a_sync_hop_with_only_a_hung_model_fails_with_the_timeout() -> None:
    hung = Blocking()
    ledger = Ledger(Decimal(1))
    dispatcher = dispatcher_with(hung, REGISTRY.restrict(["tiny:model"]))
    try:
        started = time.monotonic()
        result = dispatcher.call(HOP, [HumanMessage("hi")], ledger=ledger)
        took = time.monotonic() - started
    finally:
        hung.release.set()
    assert took < 2 * TIMEOUT_S + 1.0
    assert not result.ok and result.record.error_type == "TimeoutError"
    assert ledger.spent == 2 * INPUT_COST and ledger.reserved == 0


# -- call_with_deadline ------------------------------------------------------------


def test_a_call_in_time_returns_its_value_or_raises_its_own_error() -> None:
    assert call_with_deadline(lambda: 42, 5.0) == 42

    def broken() -> None:
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        call_with_deadline(broken, 5.0)


def test_a_hung_call_does_not_hold_up_the_next_one() -> None:
    gate = threading.Event()
    try:
        with pytest.raises(TimeoutError, match="timeout_s=0.05"):
            call_with_deadline(gate.wait, 0.05)
        started = time.monotonic()
        assert call_with_deadline(lambda: "next", 5.0) == "next"
        assert time.monotonic() - started < 1.0
    finally:
        gate.set()


def test_the_call_sees_the_callers_context_and_cannot_change_it() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="")
    var.set("caller")

    def read_then_write() -> str:
        seen = var.get()
        var.set("worker")
        return seen

    assert call_with_deadline(read_then_write, 5.0) == "caller"
    assert var.get() == "caller"


def test_an_infinite_deadline_waits_rather_than_failing() -> None:
    assert call_with_deadline(lambda: "ok", float("inf")) == "ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_calls_still_work_in_a_forked_child() -> None:
    assert call_with_deadline(lambda: 1, 5.0) == 1  # leaves an idle worker
    pid = os.fork()
    if pid == 0:  # the child: the parent's idle worker does not exist here
        try:
            ok = call_with_deadline(lambda: 2, 5.0) == 2
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -- cancellation ------------------------------------------------------------------


def test_a_cancelled_async_call_is_charged_its_input_and_the_cancel_goes_on() -> None:
    class Hung(FakeChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(3600)

    dispatcher = Dispatcher(  # the default timeout_s (120 s): only the cancel ends it
        registry_from_text(SMALL_REGISTRY).restrict(["tiny:model"]),
        model_factory=fake_factory({"tiny:model": Hung()}),
    )
    ledger = Ledger(Decimal(1))

    async def cancel_mid_call() -> None:
        task = asyncio.create_task(
            dispatcher.acall(HOP, [HumanMessage("hi")], ledger=ledger)
        )
        await asyncio.sleep(0.05)  # the call is in flight
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancel_mid_call())
    assert ledger.spent == INPUT_COST and ledger.reserved == 0


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_an_interrupted_sync_call_is_charged_its_input_and_the_interrupt_goes_on() -> (
    None
):
    class Interrupt(BaseException):  # as KeyboardInterrupt is: not an Exception
        pass

    def interrupt(*_: object) -> None:
        raise Interrupt

    hung = Blocking()
    dispatcher = dispatcher_with(  # the default timeout_s (120 s): the signal ends it
        hung, registry_from_text(SMALL_REGISTRY).restrict(["tiny:model"])
    )
    ledger = Ledger(Decimal(1))
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(Interrupt):
            dispatcher.call(HOP, [HumanMessage("hi")], ledger=ledger)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        hung.release.set()
    assert ledger.spent == INPUT_COST and ledger.reserved == 0


def test_a_call_cancelled_in_flight_is_recorded_at_its_input_estimate() -> None:
    ledger = Ledger(Decimal(1))
    decision = RouteDecision(
        capability="general", tier="small", confidence=1, router=RouterLayer.FIXED,
        reason="fixed",
    )  # fmt: skip
    flow = hop_flow(
        HOP, [HumanMessage("hi")], decision=decision, registry=REGISTRY,
        ledger=ledger, clock=time.monotonic,
    )  # fmt: skip
    next(flow)
    with pytest.raises(StopIteration) as done:
        flow.send(asyncio.CancelledError())
    result: HopResult = done.value.value
    assert not result.ok and result.record.error_type == "CancelledError"
    assert result.record.estimated
    assert result.record.cost_usd == result.record.baseline_cost_usd == INPUT_COST
    assert result.record.input_tokens == HOP.input_tokens
    assert ledger.spent == INPUT_COST and ledger.reserved == 0


# -- telemetry ---------------------------------------------------------------------


def test_a_charged_timeout_is_counted_in_the_workflow_cost_and_the_cost_metric() -> (
    None
):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from dispatch.tracing import Tracing

    spans, metrics = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing = Tracing(provider, MeterProvider(metric_readers=[metrics]))
    hung = Blocking()
    dispatcher = dispatcher_with(hung)
    dispatcher.tracing = tracing
    ledger = Ledger(Decimal(1))
    try:
        with tracing.workflow("w") as totals:
            result = dispatcher.call(HOP, [HumanMessage("hi")], ledger=ledger)
    finally:
        hung.release.set()
    assert [r.error_type for r in result.records] == ["TimeoutError"] * 2 + [None]
    # the workflow span agrees with the ledger: the timed-out inputs are spend
    assert totals.cost_usd == ledger.spent
    assert totals.hops == 1
    (workflow,) = [s for s in spans.get_finished_spans() if s.name.endswith(" w")]
    assert (workflow.attributes or {})["dispatch.cost_usd"] == float(ledger.spent)
    data = metrics.get_metrics_data()
    assert data is not None
    points = [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "dispatch.cost"
        for p in m.data.data_points
    ]
    by_error = {p.attributes.get("error.type"): p.value for p in points}
    assert by_error["TimeoutError"] == pytest.approx(float(2 * INPUT_COST))
    assert sum(by_error.values()) == pytest.approx(float(ledger.spent))
