"""The CLI's checkpoint store, SQLite or Postgres, opened for one thread's run.

``DISPATCH_CHECKPOINTS`` names the store (see `dispatch.cli.support.checkpoint_store`).
A run holds its thread's lock for its whole length, so two processes never run
the same thread at once: an ``flock`` beside a SQLite file (`dispatch.cli.store`),
a session-level advisory lock on Postgres, which the server drops when the
holder's connection ends, so a crashed worker never leaves a thread locked.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from dispatch.cli.store import ThreadBusy, prepare_store, thread_lock
from dispatch.errors import DispatchError
from dispatch.langgraph.checkpoints import aopen_checkpointer

__all__ = ("open_run_store", "postgres_thread_lock")


@contextlib.asynccontextmanager
async def open_run_store(
    store: Path | str, thread: str, *, create: bool = True
) -> AsyncIterator[Any]:
    """The checkpointer on `store` with `thread`'s run lock held.

    Raises:
        ThreadBusy: another process is running `thread` on `store`.
        DispatchError: the SQLite store cannot be created, or is not a
            usable SQLite database (see `_check_sqlite`).
    """
    if isinstance(store, str):
        with postgres_thread_lock(store, thread):
            async with aopen_checkpointer(store) as saver:
                yield saver
        return
    if create:
        prepare_store(store)
    with thread_lock(store, thread):
        async with aopen_checkpointer(store) as saver:
            await _check_sqlite(saver, store, thread)
            yield saver


async def _check_sqlite(saver: Any, path: Path, thread: str) -> None:
    """Set the saver up and read `thread`'s latest checkpoint, before anything runs.

    LangGraph's SQLite saver sets itself up on first use, inside the graph's
    first step: a file that is not a SQLite database (or a damaged one, or
    one that cannot be written) would surface as a traceback from deep in
    LangGraph. Here it is one error naming the file, before a step ran or a
    cent was spent. The read is the one the graph starts with, so it costs
    one indexed lookup.

    Raises:
        DispatchError: the file is not a usable SQLite database.
    """
    try:
        await saver.setup()
        await saver.aget_tuple({"configurable": {"thread_id": thread}})
    except sqlite3.OperationalError as exc:  # locked, read-only, unopenable
        raise DispatchError(f"cannot use the checkpoint store {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
        raise DispatchError(
            f"the checkpoint store {path} is not a usable SQLite database "
            f"({exc}); move it aside, or point $DISPATCH_CHECKPOINTS at another file"
        ) from None


@contextlib.contextmanager
def postgres_thread_lock(url: str, thread: str) -> Iterator[None]:
    """Hold `thread`'s advisory lock on the Postgres store at `url`.

    Raises:
        ThreadBusy: another session holds it.
        DispatchError: Postgres cannot be reached.
    """
    import psycopg  # noqa: PLC0415

    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise DispatchError(f"cannot reach the checkpoint store: {exc}") from exc
    with conn:
        key = "graph-dispatch thread " + thread
        row = conn.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)
        ).fetchone()
        if not (row and row[0]):
            raise ThreadBusy(thread, None, "held in Postgres")
        yield  # closing the connection ends the session, and with it the lock
