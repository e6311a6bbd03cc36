"""The demo orchestrator on models that fail 30 % of their calls in every way a
provider can: whatever is injected, the graph returns, the ledger is exact and
hard, nothing stays reserved and no hop is paid negatively."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from dispatch import DispatchContext, Dispatcher, Registry, hop_records
from dispatch.graphs import (
    DEMO_PLAN,
    DEMO_REQUEST,
    DEMO_SYNTHESIS_TIER,
    build_orchestrator,
)
from dispatch.testing_faults import Fault, faulty_factory

RATE = 0.3
SEEDS = range(10)
LIMITS = ("5", "0.01")
"""A roomy budget and one below the demo's fault-free cost ($0.0135), so that
refusals happen beside the injected faults."""


def demo_input() -> dict[str, Any]:
    return {"request": DEMO_REQUEST, "tasks": list(DEMO_PLAN)}


async def faulty_run(seed: int, limit: str) -> tuple[dict[str, Any], Any, Any]:
    # hangs end after 0.2 s as a client timeout would; cancellation is tested below
    factory = faulty_factory(RATE, seed=seed, hang_s=0.2, retry_after_s=0)
    dispatcher = Dispatcher(Registry.from_config(), model_factory=factory)
    graph = build_orchestrator(dispatcher, synthesis_tier=DEMO_SYNTHESIS_TIER)
    context = DispatchContext(budget_usd=limit, budget_mode="hard")
    state = await graph.ainvoke(demo_input(), context=context)
    return state, dispatcher.ledgers.get(context.run_id), factory


@pytest.mark.parametrize("limit", LIMITS)
def test_thirty_percent_faults_keep_the_ledger_exact_and_hard(limit: str) -> None:
    async def all_runs() -> list[Any]:
        runs = (faulty_run(s, limit) for s in SEEDS)
        return list(await asyncio.gather(*runs))

    injected: set[Fault] = set()
    for state, ledger, factory in asyncio.run(all_runs()):  # nothing escapes
        injected.update(factory.injected())
        records = hop_records(state)
        assert ledger is not None
        assert ledger.reserved == 0
        hop_sum = sum((r.cost_usd for r in records), Decimal(0))
        assert hop_sum == ledger.spent == Decimal(state["budget"]["spent_usd"])
        # a provider reporting more output than the hop's cap (huge usage, clamped
        # to the model's limit) is real spend: it may pass the limit once, and
        # then the ledger refuses everything
        assert ledger.spent - ledger.overrun <= Decimal(limit)
        if ledger.overrun == 0:
            assert ledger.spent <= Decimal(limit)
        assert all(r.cost_usd >= 0 for r in records)
        assert state["answer"]  # synthesis always writes something
    # the runs really met the faults this test is about
    assert len(injected) >= 8


def test_a_hung_workflow_cancelled_from_outside_gives_its_reservations_back() -> None:
    """Nothing stays reserved; each call cancelled in flight is charged the
    input it sent (the provider had the request), never its output worst case."""
    factory = faulty_factory(1.0, faults=[Fault.HANG])
    dispatcher = Dispatcher(Registry.from_config(), model_factory=factory)
    graph = build_orchestrator(dispatcher)
    context = DispatchContext(budget_usd="5", budget_mode="hard")

    async def run() -> None:
        await asyncio.wait_for(graph.ainvoke(demo_input(), context=context), 0.5)

    with pytest.raises(TimeoutError):
        asyncio.run(run())
    ledger = dispatcher.ledgers.get(context.run_id)
    assert ledger is not None
    assert factory.injected()[Fault.HANG] >= 2  # parallel branches were all held
    assert ledger.reserved == 0
    assert 0 < ledger.spent < Decimal("0.001")  # inputs only: cents of output are not
    assert not ledger.exceeded


def test_a_fault_free_faulty_model_honours_the_output_cap() -> None:
    dispatcher = Dispatcher(Registry.from_config(), model_factory=faulty_factory(0))
    graph = build_orchestrator(dispatcher, synthesis_tier=DEMO_SYNTHESIS_TIER)
    context = DispatchContext(budget_usd="5", budget_mode="hard")
    state = asyncio.run(graph.ainvoke(demo_input(), context=context))
    ledger = dispatcher.ledgers.get(context.run_id)
    assert ledger is not None
    assert ledger.overrun == 0
    assert all(r.error is None for r in hop_records(state))
