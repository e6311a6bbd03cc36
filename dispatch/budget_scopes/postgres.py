"""A shared budget scope in Postgres (the ``postgres`` extra: psycopg 3)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dispatch.budget_scopes._base import BudgetScope, check_limit
from dispatch.errors import DispatchError

if TYPE_CHECKING:
    import psycopg

__all__ = ("PostgresBudgetScope",)

# Any constant works: it names the lock that serialises schema creation.
_SCHEMA_LOCK = 0x64697370

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS dispatch_budget_scopes (
    scope TEXT PRIMARY KEY,
    limit_usd NUMERIC NOT NULL CHECK (limit_usd >= 0),
    spent_usd NUMERIC NOT NULL DEFAULT 0,
    reserved_usd NUMERIC NOT NULL DEFAULT 0 CHECK (reserved_usd >= 0)
);
CREATE TABLE IF NOT EXISTS dispatch_budget_holds (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL REFERENCES dispatch_budget_scopes (scope) ON DELETE CASCADE,
    amount_usd NUMERIC NOT NULL CHECK (amount_usd >= 0),
    workflow TEXT NOT NULL,
    hop TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

_PG_RESERVE = """
WITH s AS (
    UPDATE dispatch_budget_scopes SET reserved_usd = reserved_usd + %(amount)s
    WHERE scope = %(scope)s AND spent_usd + reserved_usd + %(amount)s <= limit_usd
    RETURNING scope
)
INSERT INTO dispatch_budget_holds (scope, amount_usd, workflow, hop)
SELECT scope, %(amount)s, %(workflow)s, %(hop)s FROM s RETURNING id
"""

_PG_SETTLE = """
WITH h AS (
    DELETE FROM dispatch_budget_holds WHERE id = %(id)s AND scope = %(scope)s
    RETURNING scope, amount_usd
)
UPDATE dispatch_budget_scopes AS s
SET reserved_usd = s.reserved_usd - h.amount_usd, spent_usd = s.spent_usd + %(actual)s
FROM h WHERE s.scope = h.scope RETURNING s.scope
"""

_PG_RELEASE_STALE = """
WITH h AS (
    DELETE FROM dispatch_budget_holds
    WHERE scope = %(scope)s AND created_at < now() - %(age)s
    RETURNING amount_usd
), t AS (SELECT coalesce(sum(amount_usd), 0) AS total, count(*) AS n FROM h)
UPDATE dispatch_budget_scopes SET reserved_usd = reserved_usd - t.total
FROM t WHERE scope = %(scope)s RETURNING t.n
"""

_PG_TOTALS = """
SELECT limit_usd, spent_usd, reserved_usd,
       (SELECT count(*) FROM dispatch_budget_holds h WHERE h.scope = s.scope)
FROM dispatch_budget_scopes s WHERE scope = %(scope)s
"""


class PostgresBudgetScope(BudgetScope):
    """A budget scope in Postgres: each step is one statement in autocommit
    mode, so one transaction; concurrent reservations serialise on the scope's
    row lock and re-check the limit against the committed totals."""

    def __init__(
        self, url: str, scope: str, *, limit_usd: Decimal | None = None
    ) -> None:
        check_limit(limit_usd)
        try:
            import psycopg  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise DispatchError(
                "a Postgres budget scope needs psycopg: "
                "pip install 'graph-dispatch[postgres]'"
            ) from exc
        super().__init__(scope, "Postgres")
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise DispatchError(
                f"cannot connect to Postgres for budget scope {scope!r}: {exc}"
            ) from exc
        try:
            self._define(limit_usd)
            self.totals()  # a missing scope is an error now, not at the first hop
        except BaseException:
            self._conn.close()
            raise

    def _define(self, limit_usd: Decimal | None) -> None:
        with self._conn.transaction():
            # Workers starting together would race on CREATE TABLE IF NOT EXISTS.
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            self._conn.execute(_PG_SCHEMA)
            if limit_usd is not None:
                self._conn.execute(
                    "INSERT INTO dispatch_budget_scopes (scope, limit_usd) "
                    "VALUES (%s, %s) ON CONFLICT (scope) DO UPDATE "
                    "SET limit_usd = EXCLUDED.limit_usd",
                    (self.scope, limit_usd),
                )

    def _reserve(self, amount: Decimal, workflow: str, hop: str) -> int | None:
        row = self._conn.execute(
            _PG_RESERVE,
            {"amount": amount, "scope": self.scope, "workflow": workflow, "hop": hop},
        ).fetchone()
        return None if row is None else int(row[0])

    def _settle(self, hold_id: int, actual: Decimal) -> bool:
        args = {"id": hold_id, "scope": self.scope, "actual": actual}
        return self._conn.execute(_PG_SETTLE, args).fetchone() is not None

    def _charge(self, amount: Decimal) -> None:
        self._conn.execute(
            "UPDATE dispatch_budget_scopes SET spent_usd = spent_usd + %s "
            "WHERE scope = %s",
            (amount, self.scope),
        )

    def _totals(self) -> tuple[Any, Any, Any, Any] | None:
        row = self._conn.execute(_PG_TOTALS, {"scope": self.scope}).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def _release_stale(self, older_than: timedelta) -> int:
        args = {"scope": self.scope, "age": older_than}
        row = self._conn.execute(_PG_RELEASE_STALE, args).fetchone()
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
