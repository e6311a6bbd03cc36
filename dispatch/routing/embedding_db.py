"""The SQLite file behind `CachedEncoder`'s disk cache: schema, rows, size, remedies.

One table, ``embeddings``, keyed by encoder id and the text's SHA-256, holds
raw float32 bytes (no pickle, nothing executable) and when each row was last
used, by which `CachedEncoder` evicts the least recently used rows. This module
opens (and upgrades) the file, turns a stored row back into a vector, measures
the pages in use, and says what to do when the file cannot be used; the
queries, the lock and the eviction stay with `CachedEncoder`
(`dispatch.routing.encoder`).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ("live_bytes", "open_db", "remedy", "stored_vector")


def open_db(path: Path) -> sqlite3.Connection:
    """Open (or create) the disk cache, upgrading a file from before the bound."""
    db = sqlite3.connect(path, check_same_thread=False)
    try:
        # A cache, not a record: every row can be recomputed. In WAL mode
        # with synchronous=NORMAL a commit does not wait for the disk (only
        # checkpoints do), so storing a new prompt's vector on the live
        # hop costs ~0.2 ms instead of two flushes (~11 ms per new prompt
        # measured here with the default rollback journal). A power loss
        # can drop the last rows; the file stays consistent.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings ("
            "encoder TEXT, key TEXT, dim INTEGER, vector BLOB, "
            "used INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (encoder, key))"
        )
        columns = {row[1] for row in db.execute("PRAGMA table_info(embeddings)")}
        if (
            "used" not in columns
        ):  # a file from before the bound: its rows count as oldest
            db.execute(
                "ALTER TABLE embeddings ADD COLUMN used INTEGER NOT NULL DEFAULT 0"
            )
        db.execute("CREATE INDEX IF NOT EXISTS embeddings_used ON embeddings (used)")
        db.commit()
    except BaseException:
        db.close()
        raise
    return db


def stored_vector(dim: object, blob: object) -> npt.NDArray[np.float32]:
    """The stored row as a vector: `dim` float32 values in `blob`.

    Raises:
        sqlite3.DatabaseError: the row holds no such vector (the file was
            written over, or edited), so the disk cache is dropped like a
            damaged file.
    """
    if not (
        isinstance(dim, int)
        and dim > 0
        and isinstance(blob, bytes)
        and len(blob) == 4 * dim
    ):
        size = len(blob) if isinstance(blob, bytes | str) else 0
        raise sqlite3.DatabaseError(
            f"a stored vector is damaged (width {dim!r}, "
            f"{type(blob).__name__} of {size} bytes)"
        )
    return np.frombuffer(blob, dtype=np.float32)


_NO_ROOM = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)
"""SQLite's primary result codes for a write the disk refused."""


def remedy(exc: sqlite3.Error | OSError, path: Path | None) -> tuple[str, str]:
    """What went wrong with the disk cache at `path`, and what to do about it."""
    directory = path.parent if path is not None else None
    if isinstance(exc, OSError):
        what = f"{exc.strerror or exc}: {exc.filename or path}"
    else:
        what = str(exc)
    read_only = (
        directory is not None
        and directory.is_dir()
        and not os.access(directory, os.W_OK | os.X_OK)
    )
    if read_only:
        what = f"{what}; {directory} is read-only"
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, OSError) or read_only:
        fix = "Point $DISPATCH_CACHE_DIR at a writable directory"
    elif code is not None and (code & 0xFF) in _NO_ROOM:
        fix = "Free disk space, or point $DISPATCH_CACHE_DIR at another directory"
    else:
        fix = "`dispatch cache clear --only embeddings` deletes the file"
    return what, fix


def live_bytes(db: sqlite3.Connection) -> int:
    """Bytes in the database's pages that hold data (freed pages excluded)."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)
