"""The CLI's checkpoint store on disk: private files, and one run per thread.

The SQLite checkpoint database holds every prompt, answer and hop of every
conversation, so it is created readable by its owner only (0600, in a 0700
directory when the CLI creates the directory). SQLite gives its ``-wal`` and
``-shm`` files the database's mode.

Two processes running the same thread at once would both read the thread's
last checkpoint and both write their own successors: one run's hops, pins and
spend vanish from the thread. `thread_lock` takes an exclusive, non-blocking
``flock`` per (store, thread) for the whole run; the kernel releases it when
the process exits or dies, so a crash never leaves a thread locked.

A store that fails while a run writes to it (a full disk, an I/O error, a
file replaced under the run) ends the run with `CheckpointStoreFailed`, one
line naming the file, what failed and what the run had spent.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from dispatch._redact import redact
from dispatch.errors import DispatchError

__all__ = (
    "CheckpointStoreFailed",
    "ThreadBusy",
    "describe_sqlite_error",
    "lock_path",
    "prepare_store",
    "thread_lock",
)


class ThreadBusy(DispatchError):
    """Another process is running the same thread on the same store."""

    def __init__(self, thread: str, holder: int | None, lock: Path | str) -> None:
        by = f"process {holder}" if holder else "another process"
        super().__init__(
            f"thread {thread!r} is already running in {by} (lock {lock}); "
            "wait for it to finish, or continue another thread"
        )
        self.thread = thread
        self.holder = holder


class CheckpointStoreFailed(DispatchError):
    """The SQLite checkpoint store failed while a run was using it.

    Raised by the CLI's guarded checkpointer (`dispatch.cli.checkpoints`) in
    place of the ``sqlite3`` error, so the run ends with one line, not a
    traceback from inside LangGraph. `what` is a fixed description of the
    failure (see `dispatch.cli.checkpoints`), never SQLite's raw text.
    """

    def __init__(
        self, path: Path, thread: str, what: str, *, spent: Decimal | None = None
    ) -> None:
        cost = "" if spent is None else f"; the run had spent ${spent:.6f} by then"
        super().__init__(
            f"the checkpoint store {path} failed during the run ({what}){cost}; "
            f"the steps saved before it can be finished with `dispatch resume "
            f"{thread}` once the store is usable again"
        )
        self.path = path
        self.thread = thread
        self.what = what
        self.spent = spent

    def after_spending(self, spent: Decimal) -> CheckpointStoreFailed:
        """The same failure, saying the run had spent `spent` (its ledger's
        settled spend) when the store failed."""
        return CheckpointStoreFailed(self.path, self.thread, self.what, spent=spent)


_STORE_ORIGIN = "the store is $DISPATCH_CHECKPOINTS, else under $XDG_STATE_HOME"


def prepare_store(
    path: Path, *, kind: str = "checkpoint store", origin: str = _STORE_ORIGIN
) -> None:
    """Create the checkpoint database file (0600) and its directory (0700) if
    absent, before SQLite opens it; an existing file keeps its mode.

    `kind` and `origin` name the file in the error: the spend journal
    beside the checkpoints is prepared the same way.

    Raises:
        DispatchError: the directory or the file cannot be created (e.g.
            ``$XDG_STATE_HOME`` names a file), naming the path and the reason.
    """
    parent = path.parent
    try:
        if not parent.exists():
            parent.mkdir(parents=True, mode=0o700)
            parent.chmod(0o700)  # mkdir's mode is filtered by the umask
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise _store_error(path, exc, kind, origin) from None
    os.close(fd)


def _store_error(path: Path, exc: OSError, kind: str, origin: str) -> DispatchError:
    """`exc`, met creating or opening the store at `path`, as a one-line error
    naming the path that failed, the OS's reason, and where the path comes
    from (a path under a regular file fails with "Not a directory")."""
    failed = "" if exc.filename in (None, str(path)) else f"{exc.filename}: "
    return DispatchError(
        f"cannot create the {kind} {path}: {failed}{exc.strerror or exc} ({origin})"
    )


_SQLITE_FAILURES = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "a disk I/O error",
    sqlite3.SQLITE_READONLY: "it can no longer be written",
    sqlite3.SQLITE_PERM: "permission denied",
    sqlite3.SQLITE_CANTOPEN: "it, or its directory, can no longer be opened",
    sqlite3.SQLITE_CORRUPT: "the file is damaged",
    sqlite3.SQLITE_NOTADB: "the file is no longer a SQLite database",
    sqlite3.SQLITE_BUSY: "another process holds it locked",
    sqlite3.SQLITE_LOCKED: "another connection holds it locked",
}
"""What a failure means, by SQLite's primary result code."""


def describe_sqlite_error(exc: sqlite3.Error) -> str:
    """`exc` for a one-line error: a fixed description and SQLite's error
    name when the result code is known, else the class and the `redact`-ed
    text (SQLite's text may quote a statement's values)."""
    code = getattr(exc, "sqlite_errorcode", None)
    known = None if code is None else _SQLITE_FAILURES.get(code & 0xFF)
    if known is not None:
        return f"{known}, {exc.sqlite_errorname}"
    return f"{type(exc).__name__}: {redact(' '.join(str(exc).split()))}"


def lock_path(store: Path, thread: str) -> Path:
    """``<store>.<sha1(thread)>.lock``: any thread id makes a safe file name."""
    digest = hashlib.sha1(thread.encode("utf-8", "surrogateescape")).hexdigest()
    return store.with_name(f"{store.name}.{digest}.lock")


@contextlib.contextmanager
def thread_lock(store: Path, thread: str) -> Iterator[Path]:
    """Hold `thread`'s run lock on `store` for the ``with`` block.

    The lock file records the holder's pid (for the refusal message) and is
    removed on release.

    Raises:
        ThreadBusy: another process holds the lock; nothing was run.
    """
    path = lock_path(store, thread)
    fd = _acquire(path, thread)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        # Unlink while still locked: a process that opened the old file finds
        # it gone after locking it and retries on a fresh one (see `_acquire`).
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def _acquire(path: Path, thread: str) -> int:
    """Lock `path` without waiting and return its descriptor.

    A holder unlinks the lock file on release, so a lock taken on a file
    that is no longer at `path` guards nothing: the loop retries until the
    locked file is the one on disk.

    Raises:
        ThreadBusy: another process holds the lock (with its pid, if known).
        DispatchError: the lock file cannot be created, or locked for any
            other reason.
    """
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise DispatchError(
                f"cannot create the thread's lock file {path}: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ThreadBusy(thread, holder, path) from None
            raise DispatchError(f"cannot lock {path}: {exc}") from exc
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (
            mine.st_ino,
            mine.st_dev,
        ):
            return fd
        os.close(fd)  # locked a file its holder just removed: take the new one


def _holder(fd: int) -> int | None:
    """The pid the holder wrote into the lock file; None while unwritten."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
