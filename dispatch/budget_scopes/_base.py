"""The backend-independent half of a shared budget scope: validation, errors,
the hold and totals values."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from dispatch.errors import BudgetExceeded, DispatchError

__all__ = ("BudgetScope", "ScopeHold", "ScopeTotals", "check_limit", "is_postgres_url")

_ZERO = Decimal(0)
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: str | Path) -> bool:
    """True when `target` is a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(target, str) and target.startswith(_POSTGRES_SCHEMES)


@dataclass(frozen=True, slots=True)
class ScopeHold:
    """Money a scope holds for one call until it is settled or released."""

    id: int
    """Row id of the hold in the store."""
    amount: Decimal
    """The amount held."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeTotals:
    """A scope's stored totals, read in one statement."""

    scope: str
    """The scope's name."""
    limit_usd: Decimal
    """What the scope may spend."""
    spent_usd: Decimal
    """Settled spend."""
    reserved_usd: Decimal
    """Money held by calls in flight."""
    holds: int
    """Number of calls in flight."""

    @property
    def remaining_usd(self) -> Decimal:
        """What is left for new reservations."""
        return max(_ZERO, self.limit_usd - self.spent_usd - self.reserved_usd)


class BudgetScope(ABC):
    """A named budget in a database, shared by every ledger that charges it.

    Implements `dispatch.budget.SharedBudget`. Use
    `dispatch.budget_scopes.open_budget_scope` to get the backend for a URL or path.
    """

    def __init__(self, scope: str, where: str) -> None:
        if not scope:
            raise ValueError("a budget scope needs a non-empty name")
        self.scope = scope
        """The scope's name (its key in the store)."""
        self._where = where

    # -- the SharedBudget protocol --------------------------------------------------

    def reserve(
        self, amount: Decimal, *, workflow: str = "", hop: str = ""
    ) -> ScopeHold:
        """Hold `amount` if it fits in what is left, in one transaction.

        Raises:
            BudgetExceeded: it does not fit (the error names the scope).
            DispatchError: the scope does not exist in the store.
        """
        if amount < 0:
            raise ValueError(f"cannot reserve a negative amount ({amount})")
        hold_id = self._reserve(amount, workflow, hop)
        if hold_id is not None:
            return ScopeHold(hold_id, amount)
        totals = self.totals()
        raise BudgetExceeded(
            requested_usd=amount,
            remaining_usd=totals.remaining_usd,
            limit_usd=totals.limit_usd,
            workflow=workflow,
            hop=hop,
            scope=self.scope,
        )

    def settle(self, hold: object, actual: Decimal) -> None:
        """Replace `hold` by the call's `actual` cost, in one transaction.

        Raises:
            ValueError: `hold` was already settled or released.
        """
        if actual < 0:
            raise ValueError(f"cannot settle a negative cost ({actual})")
        if not self._settle(_hold_id(hold), actual):
            raise ValueError(
                f"hold {_hold_id(hold)} is not held in budget scope {self.scope!r} "
                "(settled twice, or released as stale?)"
            )

    def release(self, hold: object) -> None:
        """Drop `hold` (the call failed before costing anything known)."""
        self.settle(hold, _ZERO)

    def charge(self, amount: Decimal, *, workflow: str = "") -> None:
        """Add spend that was not reserved beforehand (priced after the fact)."""
        if amount < 0:
            raise ValueError(f"cannot charge a negative amount ({amount})")
        self._charge(amount)

    # -- administration -------------------------------------------------------------

    def totals(self) -> ScopeTotals:
        """The scope's stored totals.

        Raises:
            DispatchError: the scope does not exist in the store.
        """
        row = self._totals()
        if row is None:
            raise DispatchError(
                f"no budget scope {self.scope!r} in {self._where}; "
                "open it with a limit_usd to create it"
            )
        limit, spent, reserved, holds = row
        return ScopeTotals(
            scope=self.scope,
            limit_usd=Decimal(limit),
            spent_usd=Decimal(spent),
            reserved_usd=Decimal(reserved),
            holds=int(holds),
        )

    def release_stale(self, older_than: timedelta) -> int:
        """Give back the holds older than `older_than` (their worker died
        mid-call, or never settled); returns how many were released."""
        return self._release_stale(older_than)

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> BudgetScope:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one transaction each, per backend --------------------------------------------

    @abstractmethod
    def _reserve(self, amount: Decimal, workflow: str, hop: str) -> int | None: ...

    @abstractmethod
    def _settle(self, hold_id: int, actual: Decimal) -> bool: ...

    @abstractmethod
    def _charge(self, amount: Decimal) -> None: ...

    @abstractmethod
    def _totals(self) -> tuple[Any, Any, Any, Any] | None: ...

    @abstractmethod
    def _release_stale(self, older_than: timedelta) -> int: ...


def _hold_id(hold: object) -> int:
    if not isinstance(hold, ScopeHold):
        raise TypeError(f"expected a ScopeHold from reserve(), got {hold!r}")
    return hold.id


def check_limit(limit_usd: Decimal | None) -> None:
    if limit_usd is not None and (not limit_usd.is_finite() or limit_usd < 0):
        raise ValueError(f"budget scope limit must be a number >= 0, got {limit_usd}")
