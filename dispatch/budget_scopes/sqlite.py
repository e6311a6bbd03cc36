"""A shared budget scope in a SQLite file: the workers of one machine."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from dispatch.budget_scopes._base import BudgetScope, check_limit
from dispatch.errors import DispatchError

__all__ = ("SqliteBudgetScope",)

_ZERO = Decimal(0)

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS dispatch_budget_scopes (
    scope TEXT PRIMARY KEY, limit_usd TEXT NOT NULL,
    spent_usd TEXT NOT NULL DEFAULT '0', reserved_usd TEXT NOT NULL DEFAULT '0'
);
CREATE TABLE IF NOT EXISTS dispatch_budget_holds (
    id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, amount_usd TEXT NOT NULL,
    workflow TEXT NOT NULL, hop TEXT NOT NULL, created_at REAL NOT NULL
);
"""


class SqliteBudgetScope(BudgetScope):
    """A budget scope in a SQLite file, for the workers of one machine.

    SQLite has no decimal type, so money is stored as decimal text and added
    up in Python inside a ``BEGIN IMMEDIATE`` transaction: the write lock is
    taken before the totals are read, so no other process can slip in between.
    """

    def __init__(
        self, path: Path, scope: str, *, limit_usd: Decimal | None = None
    ) -> None:
        check_limit(limit_usd)
        super().__init__(scope, str(path))
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=60
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise DispatchError(f"cannot open the budget store {path}: {exc}") from exc
        self._lock = threading.Lock()
        try:
            self._define(limit_usd)
            self.totals()  # a missing scope is an error now, not at the first hop
        except BaseException:
            self._conn.close()
            raise

    def _define(self, limit_usd: Decimal | None) -> None:
        with self._transaction() as cur:
            for statement in _SQLITE_SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            if limit_usd is not None:
                cur.execute(
                    "INSERT INTO dispatch_budget_scopes (scope, limit_usd) VALUES (?, ?) "
                    "ON CONFLICT (scope) DO UPDATE SET limit_usd = excluded.limit_usd",
                    (self.scope, str(limit_usd)),
                )

    def _transaction(self) -> _SqliteTransaction:
        return _SqliteTransaction(self._conn, self._lock)

    def _reserve(self, amount: Decimal, workflow: str, hop: str) -> int | None:
        with self._transaction() as cur:
            row = cur.execute(
                "SELECT limit_usd, spent_usd, reserved_usd FROM dispatch_budget_scopes "
                "WHERE scope = ?",
                (self.scope,),
            ).fetchone()
            if row is None:
                return None
            limit, spent, reserved = (Decimal(v) for v in row)
            if spent + reserved + amount > limit:
                return None
            cur.execute(
                "UPDATE dispatch_budget_scopes SET reserved_usd = ? WHERE scope = ?",
                (str(reserved + amount), self.scope),
            )
            cur.execute(
                "INSERT INTO dispatch_budget_holds "
                "(scope, amount_usd, workflow, hop, created_at) VALUES (?, ?, ?, ?, ?)",
                (self.scope, str(amount), workflow, hop, time.time()),
            )
            return cur.lastrowid

    def _settle(self, hold_id: int, actual: Decimal) -> bool:
        with self._transaction() as cur:
            row = cur.execute(
                "DELETE FROM dispatch_budget_holds WHERE id = ? AND scope = ? "
                "RETURNING amount_usd",
                (hold_id, self.scope),
            ).fetchone()
            if row is None:
                return False
            self._add(cur, spent=actual, reserved=-Decimal(row[0]))
            return True

    def _charge(self, amount: Decimal) -> None:
        with self._transaction() as cur:
            self._add(cur, spent=amount, reserved=_ZERO)

    def _add(self, cur: sqlite3.Cursor, *, spent: Decimal, reserved: Decimal) -> None:
        row = cur.execute(
            "SELECT spent_usd, reserved_usd FROM dispatch_budget_scopes WHERE scope = ?",
            (self.scope,),
        ).fetchone()
        cur.execute(
            "UPDATE dispatch_budget_scopes SET spent_usd = ?, reserved_usd = ? "
            "WHERE scope = ?",
            (str(Decimal(row[0]) + spent), str(Decimal(row[1]) + reserved), self.scope),
        )

    def _totals(self) -> tuple[Any, Any, Any, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT limit_usd, spent_usd, reserved_usd, (SELECT count(*) FROM "
                "dispatch_budget_holds h WHERE h.scope = s.scope) "
                "FROM dispatch_budget_scopes s WHERE scope = ?",
                (self.scope,),
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def _release_stale(self, older_than: timedelta) -> int:
        with self._transaction() as cur:
            rows = cur.execute(
                "DELETE FROM dispatch_budget_holds WHERE scope = ? AND created_at < ? "
                "RETURNING amount_usd",
                (self.scope, time.time() - older_than.total_seconds()),
            ).fetchall()
            total = sum((Decimal(r[0]) for r in rows), _ZERO)
            self._add(cur, spent=_ZERO, reserved=-total)
            return len(rows)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class _SqliteTransaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) under the
    connection's thread lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Cursor:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._conn.cursor()

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
