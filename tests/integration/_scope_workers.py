"""Worker processes for the shared-budget race (imported by spawned children)."""

from __future__ import annotations

from decimal import Decimal

from dispatch.budget_scopes import open_budget_scope
from dispatch.errors import BudgetExceeded


def race(target: str, scope: str, calls: list[tuple[str, str]]) -> tuple[str, int, int]:
    """Reserve each ``(amount, actual share)`` on `scope`; settle the admitted
    ones at ``amount * share`` (a share of 0 releases). Returns the sum settled,
    the calls admitted and the calls refused."""
    settled, admitted, refused = Decimal(0), 0, 0
    with open_budget_scope(target, scope) as shared:
        for amount, share in calls:
            try:
                hold = shared.reserve(Decimal(amount), workflow="race", hop="h")
            except BudgetExceeded:
                refused += 1
                continue
            admitted += 1
            actual = (Decimal(amount) * Decimal(share)).quantize(Decimal("0.000001"))
            if actual:
                shared.settle(hold, actual)
                settled += actual
            else:
                shared.release(hold)
    return str(settled), admitted, refused
