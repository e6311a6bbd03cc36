"""Where a graph's checkpoints (and so its pins and spend) live: SQLite or Postgres.

One setting picks the store: a ``postgresql://`` URL selects LangGraph's
Postgres saver, which many worker processes on many machines share; anything
else is a SQLite file, the default for one machine. The CLI reads it from
``DISPATCH_CHECKPOINTS``; library code passes the same value to
`open_checkpointer` / `aopen_checkpointer`.

The Postgres saver is opened on a small connection pool, so the concurrent runs
of one worker do not queue on a single connection; its tables are created (or
migrated) once, under an advisory lock, so that workers starting together do
not race on the migrations.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from dispatch.budget_scopes import is_postgres_url
from dispatch.errors import DispatchError

__all__ = ("aopen_checkpointer", "is_postgres_url", "open_checkpointer")

# Any constant works: it names the lock that serialises the saver's migrations.
_SETUP_LOCK = 0x63687074
_POOL_SIZE = 8
_INSTALL = "pip install 'graph-dispatch[postgres]'"


@contextlib.contextmanager
def open_checkpointer(
    target: str | Path, *, pool_size: int = _POOL_SIZE
) -> Iterator[BaseCheckpointSaver[Any]]:
    """A checkpointer on `target` (``postgresql://`` URL or SQLite path), set
    up and closed with the ``with`` block; thread-safe for concurrent runs.

    Raises:
        DispatchError: the ``postgres`` extra is missing, or the store cannot
            be reached.
    """
    if not is_postgres_url(target):
        path = Path(target)
        with contextlib.closing(sqlite3.connect(path, check_same_thread=False)) as conn:
            from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415

            yield SqliteSaver(conn)
        return
    url = str(target)
    try:
        from langgraph.checkpoint.postgres import PostgresSaver  # noqa: PLC0415
        from psycopg.rows import dict_row  # noqa: PLC0415
        from psycopg_pool import ConnectionPool  # noqa: PLC0415
    except ImportError as exc:
        raise DispatchError(f"a Postgres checkpoint store needs {_INSTALL}") from exc
    _setup_postgres(url)
    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=1, max_size=pool_size, kwargs=_PG_KWARGS | {"row_factory": dict_row},
        open=False,
    )  # fmt: skip
    _open(pool.open, url)
    with pool:
        yield PostgresSaver(pool)


@contextlib.asynccontextmanager
async def aopen_checkpointer(
    target: str | Path, *, pool_size: int = _POOL_SIZE
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The async twin of `open_checkpointer` (for ``ainvoke``/``astream``).

    Raises:
        DispatchError: the ``postgres`` extra is missing, or the store cannot
            be reached.
    """
    if not is_postgres_url(target):
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: PLC0415

        async with AsyncSqliteSaver.from_conn_string(str(target)) as saver:
            yield saver
        return
    url = str(target)
    try:
        from langgraph.checkpoint.postgres.aio import (  # noqa: PLC0415
            AsyncPostgresSaver,
        )
        from psycopg.rows import dict_row  # noqa: PLC0415
        from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415
    except ImportError as exc:
        raise DispatchError(f"a Postgres checkpoint store needs {_INSTALL}") from exc
    _setup_postgres(url)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=pool_size, kwargs=_PG_KWARGS | {"row_factory": dict_row},
        open=False,
    )  # fmt: skip
    try:
        await pool.open(wait=True, timeout=30)
    except Exception as exc:
        raise DispatchError(
            f"cannot reach the checkpoint store {_safe(url)}: {exc}"
        ) from exc
    async with pool:
        yield AsyncPostgresSaver(pool)


# What LangGraph's Postgres saver expects of its connections.
_PG_KWARGS: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}


def _open(open_pool: Any, url: str) -> None:
    try:
        open_pool(wait=True, timeout=30)
    except Exception as exc:
        raise DispatchError(
            f"cannot reach the checkpoint store {_safe(url)}: {exc}"
        ) from exc


def _setup_postgres(url: str) -> None:
    """Create or migrate the saver's tables once, whoever starts first.

    The migrations build indexes ``CONCURRENTLY``, which waits for every open
    transaction in the database to end, so a worker must not wait for the
    setup lock *inside* a statement (that is an open transaction, and the two
    would wait for each other for ever): it polls ``pg_try_advisory_lock``
    instead, and skips the lock altogether once the tables are current.
    """
    import psycopg  # noqa: PLC0415
    from langgraph.checkpoint.postgres import PostgresSaver  # noqa: PLC0415
    from psycopg.rows import dict_row  # noqa: PLC0415

    latest = len(PostgresSaver.MIGRATIONS) - 1
    try:
        with psycopg.connect(url, autocommit=True) as lock_conn:
            if _migrated(lock_conn) == latest:
                return
            while not _fetch(lock_conn, "SELECT pg_try_advisory_lock(%s)", _SETUP_LOCK):
                time.sleep(0.05)
            try:
                with psycopg.connect(url, row_factory=dict_row, **_PG_KWARGS) as conn:
                    PostgresSaver(conn).setup()
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
    except psycopg.Error as exc:
        raise DispatchError(
            f"cannot set up the checkpoint store {_safe(url)}: {exc}"
        ) from exc


def _migrated(conn: Any) -> int:
    """The saver's latest applied migration (-1: none yet)."""
    if not _fetch(conn, "SELECT to_regclass(%s) IS NOT NULL", "checkpoint_migrations"):
        return -1
    version = _fetch(conn, "SELECT max(v) FROM checkpoint_migrations")
    return -1 if version is None else int(version)


def _fetch(conn: Any, query: str, *args: object) -> Any:
    row = conn.execute(query, args or None).fetchone()
    return None if row is None else row[0]


def _safe(url: str) -> str:
    """`url` without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.partition(":")[0]
    return f"{scheme}{sep}{user}@{host}"
