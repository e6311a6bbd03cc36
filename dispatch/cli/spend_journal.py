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

A journaled run says so in its checkpoint metadata (the ``spend_journal``
key): resuming it then needs the journal's record of the workflow, and a
journal removed, emptied or replaced since the run was interrupted is refused
(`SpendJournalLost`) rather than restarted at $0, which would leave what the
interrupted run paid out of the limit. A run checkpointed by an older version
(no such key) resumes on a new journal. (On Postgres the journal shares the
checkpoints' database and is not checked this way.)

A journal that cannot record a settlement or a release mid-run keeps the
call's hold, its worst case, so it still counts the call; the run then stops
at its next reservation, or at its end, with `SpendJournalFailed`.

``dispatch report`` reads a workflow's totals with `journal_totals`, which
only reads: it creates no journal and no tables, and takes no write lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from dispatch.budget_scopes import (
    BudgetScope,
    ScopeTotals,
    is_postgres_url,
    open_budget_scope,
)
from dispatch.cli.store import describe_sqlite_error, prepare_store
from dispatch.dispatcher import Dispatcher
from dispatch.errors import DispatchError

__all__ = (
    "SpendJournalFailed",
    "SpendJournalLost",
    "is_journaled",
    "journal_target",
    "journal_totals",
    "journaled",
)

_ZERO = Decimal(0)
_ORIGIN = "it lives beside the checkpoint store, $DISPATCH_CHECKPOINTS"


class SpendJournalFailed(DispatchError):
    """The spend journal could not be written during a run (disk full, file
    removed): the run stops rather than spend money it cannot record."""


class SpendJournalLost(DispatchError):
    """A journaled run is resumed, but the journal has no record of it."""


def is_journaled(limit: Decimal | None, mode: str, workflow: str) -> bool:
    """Whether a run of `workflow` with `limit` and `mode` is journaled: a
    ``hard`` or ``soft`` limit (``warn`` refuses nothing)."""
    return limit is not None and mode != "warn" and bool(workflow)


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
    *,
    recorded: bool = False,
) -> Iterator[Decimal]:
    """Journal `workflow`'s calls for the ``with`` block; yields what the
    workflow had already spent in earlier processes (0 for a new run).

    `recorded`: the run's checkpoint says it was journaled, so the journal
    must hold the workflow (a resume).

    Raises:
        DispatchError: the journal cannot be created or opened (named in
            the message).
        SpendJournalLost: `recorded`, and the journal has no record of
            `workflow`.
        SpendJournalFailed: (on leaving the block) the journal could not
            record a settlement or release during the block.
    """
    if not is_journaled(limit, mode, workflow):
        yield _ZERO
        return
    name = f"workflow:{workflow}"
    target = journal_target(checkpoints)
    if isinstance(target, Path):
        # 0600 in a 0700 folder, as the checkpoints
        prepare_store(target, kind="spend journal", origin=_ORIGIN)
        holds = _sqlite_journal_holds(target, name)  # also: is it a journal at all
        if recorded and not holds:
            raise SpendJournalLost(
                f"the spend journal {target} has no record of workflow "
                f"{workflow} (removed or replaced since the run was "
                "interrupted): what the run paid for its unfinished tasks is "
                "unknown, so the run is not resumed: put the journal back, or "
                "start the run again"
            )
    scope = _opened(target, lambda: open_budget_scope(target, name, limit_usd=limit))
    guarded = _Guarded(scope, target)
    try:
        totals = _opened(target, scope.totals)
    except BaseException:
        scope.close()
        raise
    before = totals.spent_usd + totals.reserved_usd
    previous = dispatcher.ledgers.shared
    dispatcher.ledgers.shared = guarded
    try:
        yield before
    finally:
        dispatcher.ledgers.shared = previous
        scope.close()
    if guarded.failure is not None:
        raise guarded.failure


def journal_totals(checkpoints: Path | str, workflow: str) -> ScopeTotals | None:
    """`workflow`'s totals in the journal of the runs checkpointed in
    `checkpoints`, read without writing anything; None when there is no
    journal, or it has no record of `workflow`.

    A SQLite journal is opened read-only (SQLite may add its ``-wal`` and
    ``-shm`` companions to read it) and closed after one query; a Postgres one
    is read in a read-only transaction.

    Raises:
        DispatchError: the journal exists but cannot be read (named in the
            message).
    """
    name = f"workflow:{workflow}"
    target = journal_target(checkpoints)
    if isinstance(target, Path):
        row = _sqlite_totals_row(target, name)
    else:
        row = _postgres_totals_row(target, name)
    if row is None:
        return None
    try:
        limit, spent, reserved, holds = (Decimal(str(v)) for v in row)
        return ScopeTotals(
            scope=name,
            limit_usd=limit,
            spent_usd=spent,
            reserved_usd=reserved,
            holds=int(holds),
        )
    except (ArithmeticError, ValueError):
        where = target if isinstance(target, Path) else "in the Postgres database"
        raise DispatchError(
            f"cannot read the spend journal {where}: the totals of workflow "
            f"{workflow} are not amounts"
        ) from None


_TOTALS = (
    "SELECT limit_usd, spent_usd, reserved_usd, (SELECT count(*) FROM "
    "dispatch_budget_holds h WHERE h.scope = s.scope) "
    "FROM dispatch_budget_scopes s WHERE scope = {}"
)


def _sqlite_totals_row(path: Path, scope: str) -> tuple[Any, ...] | None:
    """`scope`'s totals row in the SQLite journal at `path`, opened read-only;
    None when the file is missing or empty, or holds no journal or no `scope`.

    Raises:
        DispatchError: `path` exists but is not a readable journal.
    """
    try:
        if not path.exists() or (path.is_file() and path.stat().st_size == 0):
            return None
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        with contextlib.closing(conn):
            return _sqlite_scope_row(conn, _TOTALS.format("?"), scope)
    except sqlite3.Error as exc:
        raise DispatchError(
            f"cannot read the spend journal {path} ({describe_sqlite_error(exc)})"
        ) from None
    except OSError as exc:
        raise DispatchError(
            f"cannot read the spend journal {path} "
            f"({exc.strerror or type(exc).__name__})"
        ) from None


def _sqlite_scope_row(
    conn: sqlite3.Connection, query: str, scope: str
) -> tuple[Any, ...] | None:
    """`query`'s row for `scope` in a SQLite journal; None when the database
    has no journal table or no `scope`. Store errors propagate."""
    tables = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' "
        "AND name = 'dispatch_budget_scopes'"
    ).fetchone()
    if tables is None:
        return None
    row = conn.execute(query, (scope,)).fetchone()
    return None if row is None else tuple(row)


def _postgres_totals_row(url: str, scope: str) -> tuple[Any, ...] | None:
    """`scope`'s totals row in the Postgres journal at `url`, in a read-only
    transaction; None when the database has no journal tables or no `scope`.

    Raises:
        DispatchError: the database cannot be read (the message names the
            error's type only: psycopg's text may quote the URL).
    """
    import psycopg  # noqa: PLC0415

    try:
        with psycopg.connect(url) as conn:
            conn.read_only = True
            tables = conn.execute(
                "SELECT to_regclass('dispatch_budget_scopes') IS NOT NULL "
                "AND to_regclass('dispatch_budget_holds') IS NOT NULL"
            ).fetchone()
            if tables is None or not tables[0]:
                return None
            row = conn.execute(_TOTALS.format("%s"), (scope,)).fetchone()
    except psycopg.Error as exc:
        raise DispatchError(
            "cannot read the spend journal in the Postgres database "
            f"({type(exc).__name__})"
        ) from None
    return None if row is None else tuple(row)


def _sqlite_journal_holds(path: Path, scope: str) -> bool:
    """Whether the SQLite journal at `path` holds `scope` (False for an empty
    file, or a SQLite database without the journal's table).

    Raises:
        DispatchError: `path` is not a usable SQLite database.
    """
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=60)) as conn:
            query = "SELECT 1 FROM dispatch_budget_scopes WHERE scope = ?"
            return _sqlite_scope_row(conn, query, scope) is not None
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from None


def _opened(target: Path | str, open_: Callable[[], Any]) -> Any:
    """`open_()`, with a store error met opening the journal (creating its
    tables, reading its totals) as one error naming it."""
    try:
        return open_()
    except sqlite3.Error as exc:
        raise _unusable(target, exc) from None
    except DispatchError:
        raise
    except Exception as exc:
        if not _from_psycopg(exc):
            raise
        raise DispatchError(
            f"cannot use the spend journal in the Postgres database "
            f"({type(exc).__name__})"
        ) from None


def _from_psycopg(exc: Exception) -> bool:
    """Whether `exc` is one of psycopg's (the Postgres journal's store
    errors), told without importing psycopg."""
    return type(exc).__module__.split(".")[0] == "psycopg"


def _unusable(target: Path | str, exc: sqlite3.Error) -> DispatchError:
    return DispatchError(
        f"cannot use the spend journal {target} ({describe_sqlite_error(exc)}); "
        "if no interrupted run needs it, move it aside"
    )


class _Guarded:
    """`scope` whose store errors (``sqlite3``, ``psycopg``) become one
    `SpendJournalFailed` naming the journal, not a traceback from a node.

    A reservation or charge that fails raises it. A settlement or release that
    fails is remembered instead (`failure`): the ledger has already let go of
    the call, and an error there would surface as the ledger's own; the
    journal keeps the call's hold, its worst case, and the next reservation
    raises the failure.
    """

    def __init__(self, scope: BudgetScope, where: Path | str) -> None:
        self._scope = scope
        self._where = where if isinstance(where, Path) else "the Postgres database"
        self.failure: SpendJournalFailed | None = None
        """The first failure to record a settlement or release, if any."""

    def reserve(self, amount: Decimal, *, workflow: str = "", hop: str = "") -> Any:
        if self.failure is not None:
            raise self.failure
        return self._call(self._scope.reserve, amount, workflow=workflow, hop=hop)

    def settle(self, hold: object, actual: Decimal) -> None:
        self._remembered(self._scope.settle, hold, actual)

    def release(self, hold: object) -> None:
        self._remembered(self._scope.release, hold)

    def charge(self, amount: Decimal, *, workflow: str = "") -> None:
        self._call(self._scope.charge, amount, workflow=workflow)

    def _remembered(self, method: Any, *args: Any) -> None:
        try:
            self._call(method, *args)
        except SpendJournalFailed as exc:
            self.failure = self.failure or exc

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise self._failed(describe_sqlite_error(exc)) from None
        except OSError as exc:
            raise self._failed(exc.strerror or type(exc).__name__) from None
        except DispatchError:
            raise
        except Exception as exc:
            if not _from_psycopg(exc):
                raise
            raise self._failed(type(exc).__name__) from None

    def _failed(self, what: str) -> SpendJournalFailed:
        return SpendJournalFailed(
            f"the spend journal {self._where} failed during the run ({what}); "
            "the run stopped before spending what it could not record"
        )
