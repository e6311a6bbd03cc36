"""Shared budget scopes: one budget that many workflows and worker processes charge.

A workflow's `Ledger` lives in one process. A team's daily budget spans many
workflows on many workers, so it must live in a database that every worker
reaches, and every step on it must be one atomic transaction:

* `reserve`: ``UPDATE ... SET reserved = reserved + x WHERE spent + reserved + x
  <= limit`` and the insert of a *hold* row, in one statement (Postgres) or one
  ``BEGIN IMMEDIATE`` transaction (SQLite). Two workers racing for the last
  dollar serialise on the scope's row; the second sees the first's hold.
* `settle`: delete the hold and move its amount from ``reserved`` to the
  actual cost in ``spent``, in one statement. A hold settles exactly once.
* `release`: the same with an actual cost of zero.

Money is ``NUMERIC`` in Postgres and decimal text in SQLite (whose ``NUMERIC``
would round through float); Python sees `Decimal` only. Holds are rows, so the
money held by a worker that died mid-call is visible and can be given back
with `release_stale`.

Attach a scope to a dispatcher with ``dispatcher.ledgers = Ledgers(shared=scope)``:
every workflow's ledger then also charges the scope (see `dispatch.budget`).
Postgres needs the ``postgres`` extra (``psycopg``); SQLite is the default for
one machine.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from dispatch.budget_scopes._base import (
    BudgetScope,
    ScopeHold,
    ScopeTotals,
    is_postgres_url,
)
from dispatch.budget_scopes.postgres import PostgresBudgetScope
from dispatch.budget_scopes.sqlite import SqliteBudgetScope

__all__ = (
    "BudgetScope",
    "PostgresBudgetScope",
    "ScopeHold",
    "ScopeTotals",
    "SqliteBudgetScope",
    "is_postgres_url",
    "open_budget_scope",
)


def open_budget_scope(
    target: str | Path, scope: str, *, limit_usd: Decimal | None = None
) -> BudgetScope:
    """The budget scope `scope` in the store at `target`: a ``postgresql://``
    URL, else a SQLite file path.

    With `limit_usd` the scope is created if missing and its limit set to
    `limit_usd` (the configuration is the source of truth); without it the
    scope must already exist.

    Raises:
        DispatchError: the store cannot be reached, or the scope does not exist.
    """
    if is_postgres_url(target):
        return PostgresBudgetScope(str(target), scope, limit_usd=limit_usd)
    return SqliteBudgetScope(Path(target), scope, limit_usd=limit_usd)
