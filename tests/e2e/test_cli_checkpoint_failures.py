"""A checkpoint store that fails *while* a run writes to it: one ``error:`` line
naming the file, what failed and what the run had spent by then (exit 2, and
``{"status": "error", ...}`` with ``--json``), never a traceback from inside
LangGraph; the steps saved before the failure can still be resumed.

The store opens fine; the failure is injected at the first checkpoint written
after a task has spent money. A full disk is real: the write runs under a file
size limit of 0 bytes (``RLIMIT_FSIZE``; root obeys it too), so SQLite's own
write fails. A damaged file raises the ``sqlite3.DatabaseError`` that SQLite
really raises on one, from the saver. (Damaging the file on disk mid-run, or
removing its directory, does not reach the run: the open connection writes
through its WAL and cached pages, and the open-time check names such a file
on the next command; see ``test_cli_state_dirs``.)

In-process through typer's runner, offline (simulated models).
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import signal
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _cli import assert_one_error_line, cli

import dispatch.cli.checkpoints

REQUEST = "Summarise our SLO. List the three biggest risks. Draft a status update."


pytestmark = pytest.mark.usefixtures("store")  # tests/conftest.py


Write = Callable[[], Awaitable[Any]]
"""The saver's real write of the checkpoint (or task writes) at hand."""
Fault = Callable[[Write], Awaitable[Any]]
"""What happens in its place: `Write` it under some condition, or raise."""


class Spent:
    """The hops (and their cost) in the checkpoint the fault was injected into."""

    cost = Decimal(-1)
    hops = 0


def fail_first_costly_checkpoint(
    monkeypatch: pytest.MonkeyPatch, fault: Fault, *, method: str = "aput"
) -> Spent:
    """Run `fault` in place of the saver's `method` on the first checkpoint
    that holds a hop which cost money (and only that once)."""
    seen = Spent()
    real = dispatch.cli.checkpoints.aopen_checkpointer

    @contextlib.asynccontextmanager
    async def opened(target: Any) -> AsyncIterator[Any]:
        async with real(target) as saver:
            put = getattr(saver, method)

            async def faulty(*args: Any, **kwargs: Any) -> Any:
                hops = [h for h in _hops(method, args[1]) if Decimal(h["cost_usd"]) > 0]
                if seen.hops or not hops:
                    return await put(*args, **kwargs)
                seen.hops = len(hops)
                seen.cost = sum((Decimal(h["cost_usd"]) for h in hops), Decimal(0))
                return await fault(lambda: put(*args, **kwargs))

            setattr(saver, method, faulty)
            yield saver

    monkeypatch.setattr(dispatch.cli.checkpoints, "aopen_checkpointer", opened)
    return seen


def _hops(method: str, written: Any) -> list[dict[str, Any]]:
    """The hop records in what `method` was given to write: a checkpoint's
    ``hops`` channel (``aput``), or a task's writes to it (``aput_writes``)."""
    if method == "aput":
        return list(written["channel_values"].get("hops", ()))
    return [hop for channel, value in written if channel == "hops" for hop in value]


@contextlib.contextmanager
def no_room_for_files() -> Iterator[None]:
    """Every write to a regular file past byte 0 fails (EFBIG), as on a full
    disk; SIGXFSZ ignored so the process survives it."""
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)


async def on_a_full_disk(write: Write) -> Any:
    with no_room_for_files():
        return await write()


def not_a_database(tmp_path: Path) -> Fault:
    """A fault raising the error SQLite really raises reading a file that is
    not a database (with its result code, SQLITE_NOTADB)."""
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 512)

    async def raise_it(write: Write) -> Any:
        with contextlib.closing(sqlite3.connect(junk)) as conn:
            conn.execute("SELECT * FROM sqlite_master")
        raise AssertionError("SQLite read a junk file")

    return raise_it


def to_the_micro_dollar(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.000001"))


def spent_in(reason: str) -> Decimal:
    match = re.search(r"the run had spent \$([0-9.]+) by then", reason)
    assert match, reason
    return Decimal(match.group(1))


def test_a_disk_that_fills_mid_run_ends_it_with_one_line_naming_the_store(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spent = fail_first_costly_checkpoint(monkeypatch, on_a_full_disk)
    code, out, err = cli("run", REQUEST, "--thread", "t1", "--json")
    assert_one_error_line(
        code, err, f"checkpoint store {store} failed during the run", "SQLITE_IOERR"
    )
    data = json.loads(out)
    assert data["status"] == "error" and data["exit_code"] == 2
    assert str(store) in data["reason"]
    # what the hops had cost when their checkpoint could not be written
    assert spent.hops > 0 and spent.cost > 0
    assert spent_in(data["reason"]) == to_the_micro_dollar(spent.cost)


def test_the_steps_saved_before_the_failure_can_be_resumed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fail_first_costly_checkpoint(monkeypatch, on_a_full_disk)
    code, _, err = cli("run", REQUEST, "--thread", "t1")
    assert_one_error_line(code, err, "dispatch resume t1")
    # the fault struck once: the disk has room again
    code, out, err = cli("resume", "t1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "ok" and data["resumed"] is True


def test_a_store_damaged_mid_run_is_named_without_sqlite_text(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_first_costly_checkpoint(
        monkeypatch, not_a_database(tmp_path), method="aput_writes"
    )
    code, out, err = cli("run", REQUEST)
    assert_one_error_line(
        code,
        err,
        str(store),
        "the file is no longer a SQLite database, SQLITE_NOTADB",
        "the run had spent $",
    )
    assert "file is not a database" not in err  # SQLite's own words, replaced


def test_sqlite_text_of_an_unknown_failure_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-live-0123456789abcdefghij0123456789"

    async def leaky(write: Write) -> Any:
        raise sqlite3.OperationalError(f"no such function: lookup(api_key={secret})")

    fail_first_costly_checkpoint(monkeypatch, leaky)
    code, out, err = cli("run", REQUEST, "--json")
    assert_one_error_line(code, err, "OperationalError: no such function")
    assert secret not in err and secret not in out
    assert json.loads(out)["status"] == "error"


def test_a_disk_that_fills_during_a_resume_says_what_the_workflow_had_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = fail_first_costly_checkpoint(monkeypatch, on_a_full_disk)
    code, _, err = cli("run", REQUEST, "--thread", "t1")
    assert code == 2, err

    spent = fail_first_costly_checkpoint(monkeypatch, on_a_full_disk)
    code, out, err = cli("resume", "t1", "--json")
    assert_one_error_line(code, err, "failed during the run", "dispatch resume t1")
    reason = json.loads(out)["reason"]
    assert first.cost > 0 and spent.cost > 0
    assert spent_in(reason) == to_the_micro_dollar(spent.cost)
