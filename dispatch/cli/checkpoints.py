"""The CLI's checkpoint store, SQLite or Postgres, opened for one thread's run.

``DISPATCH_CHECKPOINTS`` names the store (see `dispatch.cli.support.checkpoint_store`).
A run holds its thread's lock for its whole length, so two processes never run
the same thread at once: an ``flock`` beside a SQLite file (`dispatch.cli.store`),
a session-level advisory lock on Postgres, which the server drops when the
holder's connection ends, so a crashed worker never leaves a thread locked.

A SQLite store is checked when it is opened (`_check_sqlite`) and guarded
while the run uses it (`_guard`): a ``sqlite3`` error from the saver mid-run
(the disk full, an I/O error, the file damaged) becomes `CheckpointStoreFailed`,
one line naming the file and the failure.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from dispatch.cli.store import (
    CheckpointStoreFailed,
    ThreadBusy,
    describe_sqlite_error,
    prepare_store,
    thread_lock,
)
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
        CheckpointStoreFailed: (from the ``with`` body) the SQLite store
            failed while the saver read or wrote it (see `_guard`).
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
            _guard(saver, store, thread)
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


_GUARDED = ("aget_tuple", "aput", "aput_writes", "adelete_thread")
"""The saver's coroutine methods a run (or a resume) calls."""


def _guard(saver: Any, path: Path, thread: str) -> None:
    """Make a ``sqlite3`` error from `saver` a `CheckpointStoreFailed`.

    The saver's methods are wrapped on the instance, so LangGraph still gets
    the saver it checks for (a `BaseCheckpointSaver`), and only errors of the
    checkpoint store are named as such (another SQLite file a run uses, like
    the embedding cache, keeps its own handling).
    """
    for name in _GUARDED:
        setattr(saver, name, _guarded(getattr(saver, name), path, thread))
    listing = saver.alist

    async def alist(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        try:
            async for item in listing(*args, **kwargs):
                yield item
        except sqlite3.Error as exc:
            raise _failed(exc, path, thread) from None

    saver.alist = alist


def _guarded(
    method: Callable[..., Awaitable[Any]], path: Path, thread: str
) -> Callable[..., Awaitable[Any]]:
    """`method`, raising `CheckpointStoreFailed` where it raised ``sqlite3.Error``."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _failed(exc, path, thread) from None

    return call


def _failed(exc: sqlite3.Error, path: Path, thread: str) -> CheckpointStoreFailed:
    """`exc` as one line (see `describe_sqlite_error`)."""
    return CheckpointStoreFailed(path, thread, describe_sqlite_error(exc))


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
