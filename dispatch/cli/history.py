"""Reading past runs back from the CLI's checkpoint store (``pins``, ``report``).

Reading never writes: a missing store is "no runs yet", not a new empty
database and directory left behind. The store is opened read-only.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from dispatch.cli.support import checkpoint_path, checkpoint_store
from dispatch.errors import DispatchError

__all__ = ("run_journaling", "saved_state")


def saved_state(
    thread: str | None, path: Path | None = None
) -> tuple[str, dict[str, Any]]:
    """The latest checkpointed state of `thread` (default: the latest thread).

    "Latest thread" is the thread of the newest checkpoint id (LangGraph's
    ids sort by time), so ``dispatch pins`` with no ``--thread`` shows the
    conversation that ran last.

    Args:
        thread: the conversation id; None for the one that ran last.
        path: the checkpoint store; default `checkpoint_path()`.

    Returns:
        The thread id (resolved when `thread` was None) and its channel
        values (``hops``, ``pins``, ``budget``, ...).

    Raises:
        DispatchError: no store yet, no such thread, or an unreadable store.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415

    if path is None:
        store = checkpoint_store()
        if isinstance(store, str):
            return _saved_state_postgres(thread, store)
    path = checkpoint_path() if path is None else path
    if not path.exists() or path.stat().st_size == 0:
        raise DispatchError(
            f"no runs yet (no checkpoints at {path}); run `dispatch demo` first"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DispatchError(f"cannot open the checkpoint store {path}: {exc}") from exc
    with closing(conn):
        saver = SqliteSaver(conn)
        try:
            if thread is None:
                row = conn.execute(
                    "SELECT thread_id FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    raise DispatchError(f"no runs yet (no conversation in {path})")
                thread = str(row[0])
            saved = saver.get_tuple({"configurable": {"thread_id": thread}})
        except sqlite3.Error as exc:
            raise DispatchError(
                f"cannot read the checkpoint store {path}: {exc}"
            ) from exc
    if saved is None:
        raise DispatchError(f"no conversation {thread!r} in {path}")
    return thread, dict(saved.checkpoint["channel_values"])


def _saved_state_postgres(thread: str | None, url: str) -> tuple[str, dict[str, Any]]:
    """`saved_state` on the Postgres checkpoint store at `url`."""
    import psycopg  # noqa: PLC0415

    from dispatch.langgraph.checkpoints import open_checkpointer  # noqa: PLC0415

    where = "the Postgres checkpoint store"
    try:
        with open_checkpointer(url, pool_size=1) as saver:
            if thread is None:
                with psycopg.connect(url) as conn:
                    row = conn.execute(
                        "SELECT thread_id FROM checkpoints "
                        "ORDER BY checkpoint_id DESC LIMIT 1"
                    ).fetchone()
                if row is None:
                    raise DispatchError(f"no runs yet (no conversation in {where})")
                thread = str(row[0])
            saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    except psycopg.Error as exc:
        raise DispatchError(f"cannot read {where}: {exc}") from exc
    if saved is None:
        raise DispatchError(f"no conversation {thread!r} in {where}")
    return thread, dict(saved.checkpoint["channel_values"])


def run_journaling(thread: str, path: Path | None = None) -> dict[str, bool]:
    """The workflows the CLI ran on `thread`, in the order they started, each
    with whether its spend was journaled (`dispatch.cli.spend_journal`), as
    the runs recorded them in their checkpoints' metadata. A run checkpointed
    before the CLI recorded them is not listed.

    Args:
        thread: the conversation id (of a thread `saved_state` found).
        path: the checkpoint store; default `checkpoint_store()`.

    Raises:
        DispatchError: the store cannot be read.
    """
    from dispatch.cli.run import RUN_KEY  # noqa: PLC0415

    store = checkpoint_store() if path is None else path
    if isinstance(store, str):
        rows = _metadata_postgres(thread, store)
    else:
        rows = _metadata_sqlite(thread, store)
    runs: dict[str, bool] = {}
    for metadata in rows:
        workflow = metadata.get(RUN_KEY + "workflow_id")
        if workflow:
            journaled = bool(metadata.get(RUN_KEY + "spend_journal"))
            runs[str(workflow)] = runs.get(str(workflow), False) or journaled
    return runs


_METADATA = (
    "SELECT metadata FROM checkpoints WHERE thread_id = {} "
    "AND checkpoint_ns = '' ORDER BY checkpoint_id"
)


def _metadata_sqlite(thread: str, path: Path) -> list[dict[str, Any]]:
    """The metadata of `thread`'s checkpoints in the SQLite store at `path`,
    oldest first (the store opened read-only)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        with closing(conn):
            rows = conn.execute(_METADATA.format("?"), (thread,)).fetchall()
    except sqlite3.Error as exc:
        raise DispatchError(f"cannot read the checkpoint store {path}: {exc}") from exc
    return [_metadata(raw) for (raw,) in rows]


def _metadata_postgres(thread: str, url: str) -> list[dict[str, Any]]:
    """`_metadata_sqlite` on the Postgres checkpoint store at `url` (a
    read-only transaction)."""
    import psycopg  # noqa: PLC0415

    try:
        with psycopg.connect(url) as conn:
            conn.read_only = True
            rows = conn.execute(_METADATA.format("%s"), (thread,)).fetchall()
    except psycopg.Error as exc:
        raise DispatchError(
            f"cannot read the Postgres checkpoint store ({type(exc).__name__})"
        ) from None
    return [_metadata(raw) for (raw,) in rows]


def _metadata(raw: Any) -> dict[str, Any]:
    """A checkpoint's metadata: JSON text in SQLite, already a dict from
    Postgres; {} for anything else."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}
