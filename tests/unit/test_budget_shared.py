"""A workflow's ledger charging a shared budget scope (the `SharedBudget` hook)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from dispatch.budget import Ledger, Ledgers
from dispatch.errors import BudgetExceeded


class FakeScope:
    """An in-memory shared scope that records what the ledger asked of it."""

    def __init__(self, limit: str, *, down: bool = False) -> None:
        self.limit = Decimal(limit)
        self.spent = self.reserved = Decimal(0)
        self.holds: dict[int, Decimal] = {}
        self.calls: list[str] = []
        self.down = down

    def reserve(self, amount: Decimal, *, workflow: str, hop: str) -> object:
        self.calls.append(f"reserve {amount} {workflow}/{hop}")
        if self.down:
            raise ConnectionError("store unreachable")
        if self.spent + self.reserved + amount > self.limit:
            raise BudgetExceeded(
                requested_usd=amount,
                remaining_usd=self.limit - self.spent - self.reserved,
                limit_usd=self.limit,
                workflow=workflow,
                hop=hop,
                scope="team",
            )
        self.holds[len(self.calls)] = amount
        self.reserved += amount
        return len(self.calls)

    def settle(self, hold: object, actual: Decimal) -> None:
        assert isinstance(hold, int)
        self.calls.append(f"settle {actual}")
        self.reserved -= self.holds.pop(hold)
        self.spent += actual

    def release(self, hold: object) -> None:
        assert isinstance(hold, int)
        self.calls.append("release")
        self.reserved -= self.holds.pop(hold)

    def charge(self, amount: Decimal, *, workflow: str) -> None:
        self.calls.append(f"charge {amount}")
        self.spent += amount


def test_every_step_of_the_ledger_is_mirrored_on_the_scope() -> None:
    scope = FakeScope("1")
    ledger = Ledger(Decimal(5), "hard", workflow="wf", shared=scope)
    first = ledger.reserve(Decimal("0.4"), hop="a")
    second = ledger.reserve(Decimal("0.3"), hop="b")
    ledger.settle(first, Decimal("0.1"))
    ledger.release(second)
    ledger.charge(Decimal("0.02"))
    assert scope.calls == [
        "reserve 0.4 wf/a",
        "reserve 0.3 wf/b",
        "settle 0.1",
        "release",
        "charge 0.02",
    ]
    assert (scope.spent, scope.reserved) == (ledger.spent, ledger.reserved)


def test_a_scope_refusal_undoes_the_local_hold_and_names_the_scope() -> None:
    scope = FakeScope("0.5")
    ledger = Ledger(Decimal(5), "warn", workflow="wf", shared=scope)
    ledger.reserve(Decimal("0.4"))
    with pytest.raises(BudgetExceeded, match=re.escape("shared budget scope 'team'")):
        ledger.reserve(Decimal("0.2"), hop="b")
    assert (ledger.reserved, ledger.refused, ledger.exceeded) == (
        Decimal("0.4"),
        1,
        True,
    )


def test_the_workflow_refuses_first_and_the_scope_is_not_asked() -> None:
    scope = FakeScope("10")
    ledger = Ledger(Decimal("0.1"), "hard", workflow="wf", shared=scope)
    with pytest.raises(BudgetExceeded, match="in workflow 'wf'"):
        ledger.reserve(Decimal("0.2"))
    assert scope.calls == []


def test_an_unreachable_store_undoes_the_local_hold_and_is_not_a_refusal() -> None:
    ledger = Ledger(Decimal(5), "hard", workflow="wf", shared=FakeScope("1", down=True))
    with pytest.raises(ConnectionError):
        ledger.reserve(Decimal("0.2"))
    assert (ledger.reserved, ledger.refused) == (Decimal(0), 0)


def test_every_ledger_a_ledgers_opens_charges_its_shared_scope() -> None:
    scope = FakeScope("1")
    ledgers = Ledgers(shared=scope)
    for workflow in ("run-1", "run-2"):
        ledger = ledgers.open(workflow, None, "hard")
        ledger.settle(ledger.reserve(Decimal("0.3")), Decimal("0.3"))
    with pytest.raises(BudgetExceeded):
        ledgers.open("run-3", None, "hard").reserve(Decimal("0.5"))
    assert scope.spent == Decimal("0.6")
