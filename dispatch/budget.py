"""Per-workflow budgets: a ledger of reservations and settled spend, in exact Decimal.

Before each model call the dispatcher `reserve`s the call's worst case (input
tokens plus the call's output cap, at the model's price); after it, `settle`
replaces the reservation by the actual cost; on failure, `release` drops it.
One `threading.Lock` guards the arithmetic, so parallel `Send` branches —
asyncio tasks or threads — share one ledger safely (nothing awaits inside it).

Modes:

* ``hard``: a reservation that does not fit in what is left raises
  `BudgetExceeded`; settled + reserved never exceeds the limit as long as no
  call costs more than its reservation. A call that does (a provider that
  ignored the output cap) is an overrun: it is recorded, and the ledger refuses
  every later reservation at once, so one bad call cannot become several.
* ``soft``: the policy moves to cheaper tiers as money runs out (see
  `dispatch.policy.select`); a call that still does not fit is refused.
* ``warn``: nothing is refused; the ledger records that the limit was exceeded.

A ledger may also charge a `SharedBudget`: a budget scope that many workflows
and worker processes share (a team's daily budget, kept in Postgres by
`dispatch.budget_scopes`). The workflow's own check runs first; then the scope
must admit the same amount, else the local hold is undone and the scope's
`BudgetExceeded` (naming the scope) is raised. The scope is always hard: it
refuses in every mode. Its I/O runs outside the ledger's lock.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from dispatch.budget_state import BudgetDict, BudgetSpec, budget_settings, merge_budget
from dispatch.errors import BudgetExceeded
from dispatch.types import BUDGET_MODES, BudgetMode

__all__ = (
    "BudgetDict",
    "BudgetMode",
    "BudgetSpec",
    "Ledger",
    "Ledgers",
    "Reservation",
    "SharedBudget",
    "budget_settings",
    "merge_budget",
)

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money held for one call until it is settled or released."""

    id: int
    amount: Decimal
    hop: str


class SharedBudget(Protocol):
    """A budget scope shared by many ledgers, possibly in other processes.

    Each method is one atomic step of the store (one SQL transaction in
    `dispatch.budget_scopes`); `reserve` returns an opaque hold that `settle` or
    `release` later consumes exactly once.
    """

    def reserve(self, amount: Decimal, *, workflow: str, hop: str) -> object:
        """Hold `amount`; raise `BudgetExceeded` (naming the scope) if it does not fit."""
        ...

    def settle(self, hold: object, actual: Decimal) -> None:
        """Replace `hold` by the call's `actual` cost."""
        ...

    def release(self, hold: object) -> None:
        """Drop `hold` (the call failed)."""
        ...

    def charge(self, amount: Decimal, *, workflow: str) -> None:
        """Add spend that was not reserved beforehand."""
        ...


class Ledger:
    """The budget of one workflow run.

    Args:
        limit: USD the workflow may spend; None for no limit (everything fits).
        mode: ``hard``, ``soft`` or ``warn``.
        workflow: id of the workflow, carried by `BudgetExceeded`.
        spent: spend already settled (a resumed workflow starts from its checkpoint).
        shared: a scope every reservation must also fit in (see the module docstring).
    """

    def __init__(
        self,
        limit: Decimal | None = None,
        mode: BudgetMode = "hard",
        *,
        workflow: str = "",
        spent: Decimal = _ZERO,
        shared: SharedBudget | None = None,
    ) -> None:
        if mode not in BUDGET_MODES:
            raise ValueError(f"budget mode {mode!r}: expected one of {BUDGET_MODES}")
        if limit is not None and limit < 0:
            raise ValueError(f"budget limit must be >= 0, got {limit}")
        self.limit = limit
        self.mode: BudgetMode = mode
        self.workflow = workflow
        self.shared = shared
        """The shared scope this ledger also charges, if any."""
        self._shared_holds: dict[int, object] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._held: dict[int, Reservation] = {}
        self._reserved = _ZERO
        self._spent = spent
        self._refused = 0
        self._overrun = _ZERO
        self._exceeded = limit is not None and spent > limit

    # -- reads ------------------------------------------------------------------------

    @property
    def spent(self) -> Decimal:
        """Settled spend."""
        return self._spent

    @property
    def reserved(self) -> Decimal:
        """Money held by calls in flight."""
        return self._reserved

    @property
    def remaining(self) -> Decimal | None:
        """What is left for new reservations (None without a limit)."""
        if self.limit is None:
            return None
        return max(_ZERO, self.limit - self._spent - self._reserved)

    @property
    def refused(self) -> int:
        """Reservations refused so far."""
        return self._refused

    @property
    def exceeded(self) -> bool:
        """True once spend (or, in warn mode, a reservation) went past the limit,
        or a call was refused."""
        return self._exceeded

    @property
    def overrun(self) -> Decimal:
        """Total by which settled calls cost more than they had reserved; once
        non-zero, a ``hard`` ledger refuses every new reservation."""
        return self._overrun

    # -- writes -----------------------------------------------------------------------

    def reserve(self, amount: Decimal, *, hop: str = "") -> Reservation:
        """Hold `amount` for a call.

        Raises:
            BudgetExceeded: in ``hard``/``soft`` mode, when `amount` does not fit;
                in any mode, when it does not fit the shared scope.
        """
        if amount < 0:
            raise ValueError(f"cannot reserve a negative amount ({amount})")
        reservation = self._reserve_local(amount, hop)
        if self.shared is None:
            return reservation
        try:
            hold = self.shared.reserve(amount, workflow=self.workflow, hop=hop)
        except BaseException as exc:
            with self._lock:
                self._drop(reservation)
                if isinstance(exc, BudgetExceeded):
                    self._refused += 1
                    self._exceeded = True
            raise
        with self._lock:
            self._shared_holds[reservation.id] = hold
        return reservation

    def _reserve_local(self, amount: Decimal, hop: str) -> Reservation:
        with self._lock:
            if self.limit is not None:
                remaining = self.limit - self._spent - self._reserved
                closed = self.mode == "hard" and self._overrun > 0
                if amount > remaining or closed:
                    if self.mode != "warn":
                        self._refused += 1
                        self._exceeded = True
                        raise BudgetExceeded(
                            requested_usd=amount,
                            remaining_usd=_ZERO if closed else max(_ZERO, remaining),
                            limit_usd=self.limit,
                            workflow=self.workflow,
                            hop=hop,
                            overrun_usd=self._overrun,
                        )
                    self._exceeded = True
            reservation = Reservation(next(self._ids), amount, hop)
            self._held[reservation.id] = reservation
            self._reserved += amount
            return reservation

    def settle(self, reservation: Reservation, actual: Decimal) -> None:
        """Replace `reservation` by the call's `actual` cost."""
        with self._lock:
            self._drop(reservation)
            self._spent += actual
            if actual > reservation.amount:
                self._overrun += actual - reservation.amount
            if self.limit is not None and self._spent > self.limit:
                self._exceeded = True
            hold = self._shared_holds.pop(reservation.id, None)
        if self.shared is not None and hold is not None:
            self.shared.settle(hold, actual)

    def charge(self, amount: Decimal) -> None:
        """Add spend that was not reserved beforehand (a verifier's model calls,
        priced after the fact); what it takes past the limit counts as overrun."""
        if amount < 0:
            raise ValueError(f"cannot charge a negative amount ({amount})")
        with self._lock:
            before = self._spent
            self._spent += amount
            if self.limit is not None and self._spent > self.limit:
                self._overrun += self._spent - max(before, self.limit)
                self._exceeded = True
        if self.shared is not None and amount:
            self.shared.charge(amount, workflow=self.workflow)

    def release(self, reservation: Reservation) -> None:
        """Drop `reservation` (the call failed before costing anything known)."""
        with self._lock:
            self._drop(reservation)
            hold = self._shared_holds.pop(reservation.id, None)
        if self.shared is not None and hold is not None:
            self.shared.release(hold)

    def _drop(self, reservation: Reservation) -> None:
        held = self._held.pop(reservation.id, None)
        if held is None:
            raise ValueError(
                f"reservation {reservation.id} is not held (settled twice?)"
            )
        self._reserved -= held.amount

    def snapshot(self) -> BudgetDict:
        """JSON-safe totals, as stored in the state's ``budget`` channel."""
        with self._lock:
            return BudgetDict(
                workflow=self.workflow,
                limit_usd=None if self.limit is None else str(self.limit),
                mode=self.mode,
                spent_usd=str(self._spent),
                reserved_usd=str(self._reserved),
                refused=self._refused,
                exceeded=self._exceeded,
            )


class Ledgers:
    """The ledgers of live workflows and named budget scopes, by id.

    A workflow's ledger is opened by its first hop and shared by all its
    branches; a new run gets a new workflow id (see `dispatch.langgraph`), so
    runs never share a ledger unless the user names a shared scope. Only the
    `capacity` most recently used are kept: a workflow idle that long resumes
    from its checkpointed spend.
    """

    def __init__(
        self, capacity: int = 4096, *, shared: SharedBudget | None = None
    ) -> None:
        self._by_id: OrderedDict[str, Ledger] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity
        self.shared = shared
        """A scope every ledger opened here also charges (e.g. a team's budget)."""

    def open(
        self,
        workflow: str,
        limit: Decimal | None,
        mode: BudgetMode,
        *,
        spent: Decimal = _ZERO,
    ) -> Ledger:
        """The ledger of `workflow`, created with `limit`, `mode` and the settled
        `spent` (from a checkpoint) if this process has none yet."""
        with self._lock:
            ledger = self._by_id.get(workflow)
            if ledger is None:
                ledger = Ledger(
                    limit, mode, workflow=workflow, spent=spent, shared=self.shared
                )
                self._by_id[workflow] = ledger
                while len(self._by_id) > self._capacity:
                    self._by_id.popitem(last=False)
            else:
                self._by_id.move_to_end(workflow)
            return ledger

    def get(self, workflow: str) -> Ledger | None:
        """The ledger of `workflow` if this process holds one."""
        with self._lock:
            return self._by_id.get(workflow)

    def __len__(self) -> int:
        return len(self._by_id)
