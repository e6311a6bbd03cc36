"""Reading past runs back from the CLI's checkpoint store (``pins``, ``report``).

Reading never writes: a missing store is "no runs yet", not a new empty
database and directory left behind. The store is opened read-only.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from dispatch.cli.support import checkpoint_path
from dispatch.errors import DispatchError

__all__ = ("saved_state",)


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
