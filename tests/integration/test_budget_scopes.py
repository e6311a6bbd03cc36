"""Shared budget scopes: 8 real processes race on one scope and never overspend it;
a workflow's ledger charges the scope and is refused by it, naming the scope.

Run on Postgres (a real server from a wheel) and on SQLite (the default store).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from multiprocessing.context import ForkServerContext
from multiprocessing.pool import Pool
from pathlib import Path

import pytest
from _scope_workers import race
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch import Ledger
from dispatch.budget_scopes import BudgetScope, open_budget_scope
from dispatch.errors import BudgetExceeded, DispatchError

WORKERS = 8


@pytest.fixture(params=["postgres", "sqlite"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path_factory.mktemp("scopes") / "budgets.sqlite")


@pytest.fixture(scope="module")
def pool(worker_processes: ForkServerContext) -> Iterator[Pool]:
    with worker_processes.Pool(WORKERS) as workers:
        yield workers


def new_scope(store: str, limit: str) -> BudgetScope:
    return open_budget_scope(
        store, f"team-{uuid.uuid4().hex[:8]}", limit_usd=Decimal(limit)
    )


calls = st.lists(
    st.tuples(
        st.decimals(Decimal("0.01"), Decimal("0.60"), places=2).map(str),
        st.sampled_from(["0", "0.25", "0.5", "1"]),
    ),
    min_size=5,
    max_size=25,
)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    limit=st.decimals(Decimal("0.50"), Decimal("4.00"), places=2),
    work=st.lists(calls, min_size=WORKERS, max_size=WORKERS),
)
def test_eight_processes_racing_on_one_scope_never_overspend_it(
    store: str, pool: Pool, limit: Decimal, work: list[list[tuple[str, str]]]
) -> None:
    scope = new_scope(store, str(limit))
    with scope:
        running = pool.starmap_async(race, [(store, scope.scope, w) for w in work])
        while not running.ready():  # watch the invariant while they race
            seen = scope.totals()
            assert seen.spent_usd + seen.reserved_usd <= limit
            time.sleep(0.005)
        results = running.get(timeout=120)
        totals = scope.totals()
    settled = sum((Decimal(s) for s, _, _ in results), Decimal(0))
    assert totals.spent_usd == settled
    assert totals.spent_usd <= limit
    assert (totals.reserved_usd, totals.holds) == (0, 0)
    assert sum(a + r for _, a, r in results) == sum(len(w) for w in work)


def test_a_crowd_that_wants_more_than_the_limit_is_refused_at_the_limit(
    store: str, pool: Pool
) -> None:
    # 8 workers each settle 40 calls of $0.01 in full against a $1.00 scope.
    with new_scope(store, "1.00") as scope:
        results = pool.starmap(race, [(store, scope.scope, [("0.01", "1")] * 40)] * 8)
        totals = scope.totals()
    assert totals.spent_usd == Decimal("1.00")
    assert sum(a for _, a, _ in results) == 100
    assert sum(r for _, _, r in results) == 8 * 40 - 100


def test_a_refusal_names_the_scope_and_what_was_left(store: str) -> None:
    with new_scope(store, "1") as scope:
        held = scope.reserve(Decimal("0.7"), workflow="wf-1", hop="plan")
        with pytest.raises(
            BudgetExceeded, match=re.escape(f"shared budget scope {scope.scope!r}")
        ) as info:
            scope.reserve(Decimal("0.5"), workflow="wf-2", hop="write")
        assert (info.value.scope, info.value.workflow) == (scope.scope, "wf-2")
        assert info.value.remaining_usd == Decimal("0.3")
        scope.settle(held, Decimal("0.2"))
        with pytest.raises(ValueError, match="not held"):
            scope.settle(held, Decimal("0.2"))
        totals = scope.totals()
    assert (totals.spent_usd, totals.reserved_usd, totals.remaining_usd) == (
        Decimal("0.2"),
        0,
        Decimal("0.8"),
    )


def test_a_workflow_ledger_charges_the_shared_scope(store: str) -> None:
    with new_scope(store, "1") as scope:
        # The workflow's own budget is larger, and warn mode refuses nothing:
        # the team's scope still does.
        ledger = Ledger(Decimal(10), "warn", workflow="wf", shared=scope)
        first = ledger.reserve(Decimal("0.6"), hop="a")
        with pytest.raises(BudgetExceeded, match=re.escape(repr(scope.scope))):
            ledger.reserve(Decimal("0.6"), hop="b")
        assert (ledger.reserved, ledger.refused) == (Decimal("0.6"), 1)
        ledger.settle(first, Decimal("0.25"))
        second = ledger.reserve(Decimal("0.6"), hop="c")
        ledger.release(second)
        ledger.charge(Decimal("0.05"))
        totals = scope.totals()
    assert ledger.spent == totals.spent_usd == Decimal("0.30")
    assert (totals.reserved_usd, totals.holds) == (0, 0)


def test_holds_of_a_dead_worker_are_given_back(store: str) -> None:
    with new_scope(store, "1") as scope:
        scope.reserve(Decimal("0.9"))
        assert scope.release_stale(timedelta(hours=1)) == 0
        time.sleep(0.05)
        assert scope.release_stale(timedelta(milliseconds=10)) == 1
        assert scope.totals().remaining_usd == Decimal("1")


def test_a_scope_that_was_never_created_is_a_clear_error(store: str) -> None:
    with pytest.raises(DispatchError, match="no budget scope 'nobody'.*limit_usd"):
        open_budget_scope(store, "nobody")


def test_bad_limits_and_amounts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="limit must be a number >= 0"):
        open_budget_scope(tmp_path / "b.sqlite", "t", limit_usd=Decimal(-1))
    with open_budget_scope(tmp_path / "b.sqlite", "t", limit_usd=Decimal(1)) as scope:
        with pytest.raises(ValueError, match="negative"):
            scope.reserve(Decimal("-0.1"))
