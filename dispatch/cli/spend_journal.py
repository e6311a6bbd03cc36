"""A CLI run's spend, journaled call by call outside the checkpoint.

The checkpoint holds the spend of the nodes that *finished*: a node's hops
reach the ``budget`` channel with the node's writes. A run killed while a node
was between paid calls loses those calls from the checkpoint; ``dispatch
resume`` runs the node again from its start, and a ledger opened from the
checkpoint alone would not count what the lost calls cost, so a hard limit
could be passed by them.

So a run with a ``hard`` or ``soft`` limit also charges a budget scope named
for its workflow (`dispatch.budget_scopes`, a scope of its own, never shared):
every reservation, settlement and release is one transaction in a small SQLite
file beside the checkpoints (``<checkpoints>.spend``; on Postgres, the same
database). `journaled` attaches it for the run; on resume it says what the
workflow had spent in every process before, settled or still held by a call in
flight when the process died (that call's cost is unknown, so its reservation,
the call's worst case, stays counted), and the resumed ledger opens from that
amount when it is more than the checkpoint's. ``warn`` budgets refuse nothing
and runs without a limit have nothing to protect: neither is journaled.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from dispatch.budget_scopes import BudgetScope, is_postgres_url, open_budget_scope
from dispatch.cli.store import prepare_store
from dispatch.dispatcher import Dispatcher
from dispatch.errors import DispatchError

__all__ = ("SpendJournalFailed", "journal_target", "journaled")

_ZERO = Decimal(0)


class SpendJournalFailed(DispatchError):
    """The spend journal could not be written during a run (disk full, file
    removed): the run stops rather than spend money it cannot record."""


def journal_target(checkpoints: Path | str) -> Path | str:
    """Where the journal of a run checkpointed in `checkpoints` lives: the same
    Postgres database, else a SQLite file beside the checkpoint file."""
    if is_postgres_url(checkpoints):
        return checkpoints
    path = Path(checkpoints)
    return path.with_name(path.name + ".spend")


@contextmanager
def journaled(
    dispatcher: Dispatcher,
    checkpoints: Path | str,
    workflow: str,
    limit: Decimal | None,
    mode: str,
) -> Iterator[Decimal]:
    """Journal `workflow`'s calls for the ``with`` block; yields what the
    workflow had already spent in earlier processes (0 for a new run).

    Raises:
        DispatchError: the journal cannot be opened (named in the message).
    """
    if limit is None or mode == "warn" or not workflow:
        yield _ZERO
        return
    target = journal_target(checkpoints)
    if isinstance(target, Path):
        prepare_store(target)  # 0600 in a 0700 folder, as the checkpoints
    scope = open_budget_scope(target, f"workflow:{workflow}", limit_usd=limit)
    guarded = _Guarded(scope, target)
    totals = scope.totals()
    before = totals.spent_usd + totals.reserved_usd
    previous = dispatcher.ledgers.shared
    dispatcher.ledgers.shared = guarded
    try:
        yield before
    finally:
        dispatcher.ledgers.shared = previous
        scope.close()


class _Guarded:
    """`scope` whose store errors (``sqlite3``, ``psycopg``) become one
    `SpendJournalFailed` naming the journal, not a traceback from a node."""

    def __init__(self, scope: BudgetScope, where: Path | str) -> None:
        self._scope = scope
        self._where = where if isinstance(where, Path) else "the Postgres database"

    def reserve(self, amount: Decimal, *, workflow: str = "", hop: str = "") -> Any:
        return self._call(self._scope.reserve, amount, workflow=workflow, hop=hop)

    def settle(self, hold: object, actual: Decimal) -> None:
        self._call(self._scope.settle, hold, actual)

    def release(self, hold: object) -> None:
        self._call(self._scope.release, hold)

    def charge(self, amount: Decimal, *, workflow: str = "") -> None:
        self._call(self._scope.charge, amount, workflow=workflow)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            raise SpendJournalFailed(
                f"the spend journal {self._where} failed during the run "
                f"({type(exc).__name__}); the run stopped before spending what "
                "it could not record"
            ) from None
        except DispatchError:
            raise
        except Exception as exc:  # psycopg's errors, without importing it
            if type(exc).__module__.split(".")[0] != "psycopg":
                raise
            raise SpendJournalFailed(
                f"the spend journal in {self._where} failed during the run "
                f"({type(exc).__name__})"
            ) from None
