from __future__ import annotations

import asyncio
import random
import re
import threading
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import BudgetExceeded, ConfigError, Ledger
from dispatch.budget import BudgetSpec, Reservation, budget_settings, merge_budget

D = Decimal


def test_hard_mode_refuses_with_the_numbers() -> None:
    ledger = Ledger(D("0.01"), "hard", workflow="wf-1")
    held = ledger.reserve(D("0.006"), hop="a")
    message = (
        "budget exceeded for hop 'b' in workflow 'wf-1': requested $0.005000, "
        "remaining $0.004000 of $0.010000"
    )
    with pytest.raises(BudgetExceeded, match=re.escape(message)) as info:
        ledger.reserve(D("0.005"), hop="b")
    err = info.value
    assert (err.requested_usd, err.remaining_usd, err.limit_usd, err.workflow) == (
        D("0.005"),
        D("0.004"),
        D("0.01"),
        "wf-1",
    )
    ledger.settle(held, D("0.004"))
    assert (ledger.spent, ledger.reserved, ledger.remaining) == (
        D("0.004"),
        0,
        D("0.006"),
    )
    assert ledger.refused == 1 and ledger.exceeded


def test_release_returns_the_money_and_double_settle_is_an_error() -> None:
    ledger = Ledger(D("1"), "hard")
    held = ledger.reserve(D("0.5"))
    ledger.release(held)
    assert (ledger.spent, ledger.reserved) == (0, 0)
    with pytest.raises(ValueError, match="not held"):
        ledger.settle(held, D("0.1"))


def test_warn_mode_never_refuses_but_records() -> None:
    ledger = Ledger(D("0.001"), "warn")
    held = ledger.reserve(D("0.5"))
    ledger.settle(held, D("0.4"))
    assert ledger.exceeded and ledger.refused == 0 and ledger.spent == D("0.4")


def test_without_limit_everything_fits_and_spend_is_tracked() -> None:
    ledger = Ledger(None)
    ledger.settle(ledger.reserve(D("123")), D("100"))
    assert ledger.remaining is None and ledger.spent == 100 and not ledger.exceeded


def test_overrun_is_recorded_not_hidden() -> None:
    ledger = Ledger(D("1"), "hard")
    ledger.settle(ledger.reserve(D("0.1")), D("0.15"))
    assert ledger.overrun == D("0.05")


def test_a_resumed_ledger_starts_from_its_settled_spend() -> None:
    ledger = Ledger(D("0.01"), "hard", spent=D("0.008"))
    with pytest.raises(BudgetExceeded):
        ledger.reserve(D("0.003"))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        Ledger(D(1), "strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        Ledger(D(-1))
    with pytest.raises(ValueError, match="negative"):
        Ledger(D(1)).reserve(D(-1))


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"budget_usd": "-1"}, "invalid budget"),
        ({"budget_usd": "lots"}, "invalid budget"),
        ({"budget_usd": float("nan")}, "invalid budget"),
        ({"budget_mode": "yolo"}, "budget mode"),
    ],
)
def test_run_budget_settings_are_validated(
    conf: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        budget_settings(conf, BudgetSpec())


def test_run_budget_settings_fall_back_to_the_default() -> None:
    assert budget_settings({}, BudgetSpec(D("2"), "soft")) == (D("2"), "soft")
    assert budget_settings({"budget_usd": 0.5}, BudgetSpec()) == (D("0.5"), "hard")


def test_merge_budget_adds_deltas_and_a_new_workflow_starts_afresh() -> None:
    first = Ledger(D("1"), "hard", workflow="a").snapshot()
    delta = {**first, "spent_usd": "0.2", "refused": 1}
    merged = merge_budget(merge_budget(first, delta), delta)  # type: ignore[arg-type]
    assert merged is not None
    assert (merged["spent_usd"], merged["refused"]) == ("0.4", 2)
    other = Ledger(D("5"), "soft", workflow="b").snapshot()
    assert merge_budget(merged, other) == other
    assert merge_budget(merged, None) == merged


amounts = st.decimals(min_value=0, max_value=D("0.01"), places=6)
ops = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "settle", "release"]), amounts, st.integers(0, 50)
    ),
    max_size=60,
)


@given(limit=st.decimals(min_value=0, max_value=D("0.05"), places=6), script=ops)
def test_hard_mode_never_lets_settled_plus_reserved_exceed_the_limit(
    limit: Decimal, script: list[tuple[str, Decimal, int]]
) -> None:
    ledger = Ledger(limit, "hard")
    held: list[tuple[Reservation, Decimal]] = []
    for op, amount, pick in script:
        if op == "reserve":
            try:
                held.append((ledger.reserve(amount), amount))
            except BudgetExceeded:
                pass
        elif held:
            reservation, reserved = held.pop(pick % len(held))
            if op == "settle":
                ledger.settle(
                    reservation, min(amount, reserved)
                )  # usage within the cap
            else:
                ledger.release(reservation)
        assert ledger.spent + ledger.reserved <= limit
        assert ledger.reserved >= 0
    for reservation, _ in held:
        ledger.release(reservation)
    assert ledger.reserved == 0


@settings(max_examples=25, deadline=None)
@given(
    limit=st.decimals(min_value=D("0.001"), max_value=D("0.05"), places=6),
    seed=st.integers(0, 2**32),
)
def test_concurrent_threads_share_one_ledger_exactly(limit: Decimal, seed: int) -> None:
    ledger = Ledger(limit, "hard")
    settled: list[Decimal] = []
    peak: list[Decimal] = []
    lock = threading.Lock()

    def branch(n: int) -> None:
        rng = random.Random(seed + n)
        for _ in range(30):
            amount = D(rng.randint(0, 3000)) / D(1_000_000)
            try:
                reservation = ledger.reserve(amount)
            except BudgetExceeded:
                continue
            peak.append(ledger.spent + ledger.reserved)
            if rng.random() < 0.2:
                ledger.release(reservation)
                continue
            actual = amount * D(rng.randint(0, 100)) / 100
            ledger.settle(reservation, actual)
            with lock:
                settled.append(actual)

    threads = [threading.Thread(target=branch, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.reserved == 0
    assert ledger.spent == sum(settled, D(0))
    assert ledger.spent <= limit
    assert all(p <= limit for p in peak)


def test_64_asyncio_branches_interleaving_at_every_await() -> None:
    ledger = Ledger(D("0.05"), "hard")

    async def branch(n: int) -> Decimal:
        spent = D(0)
        for i in range(20):
            amount = D((n * 7 + i) % 13) / D(10_000)
            try:
                reservation = ledger.reserve(amount)
            except BudgetExceeded:
                await asyncio.sleep(0)
                continue
            await asyncio.sleep(0)  # the model call
            assert ledger.spent + ledger.reserved <= ledger.limit  # type: ignore[operator]
            ledger.settle(reservation, amount / 2)
            spent += amount / 2
        return spent

    async def main() -> list[Decimal]:
        return await asyncio.gather(*(branch(n) for n in range(64)))

    per_branch = asyncio.run(main())
    assert ledger.spent == sum(per_branch, D(0))
    assert ledger.reserved == 0
    assert ledger.refused > 0
