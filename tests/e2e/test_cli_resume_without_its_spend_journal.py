"""A killed run whose spend journal is gone by the time it is resumed.

The journal (``<checkpoints>.spend``) is the only record of what the killed
run paid for tasks that had not finished, and of the calls in flight at the
kill. A resume that found it removed, emptied or replaced by another file
used to start a fresh journal at $0 and continue: the lost spend was silently
left out of the hard limit. It is now one ``error:`` line naming the journal
and the workflow (exit 2), and nothing runs.

The kill is real (``kill -9`` of a forked ``dispatch demo``); the resume runs
in-process through typer's runner, offline (simulated models).
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from _cli import assert_one_error_line, cli
from test_cli_resume import start_demo, wait_for_first_hop

from dispatch.budget_scopes import open_budget_scope
from dispatch.cli.spend_journal import journal_target

pytestmark = pytest.mark.usefixtures("store")  # tests/conftest.py


def kill_mid_run(thread: str) -> None:
    """A hard-budget demo on `thread`, killed once its first task finished."""
    proc = start_demo("--thread", thread, "--budget", "0.05", "--budget-mode", "hard")
    wait_for_first_hop(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def remove(journal: Path) -> None:
    for path in journal.parent.glob(journal.name + "*"):
        path.unlink()


def empty(journal: Path) -> None:
    remove(journal)
    journal.touch()


def replace_with_another_journal(journal: Path) -> None:
    """A real journal, of another store: it holds another workflow only."""
    remove(journal)
    with open_budget_scope(journal, "workflow:someone-else", limit_usd=Decimal(1)):
        pass


@pytest.mark.parametrize(
    "damage",
    [remove, empty, replace_with_another_journal],
    ids=["removed", "emptied", "replaced"],
)
def test_a_resume_without_the_runs_journal_refuses_rather_than_forget_its_spend(
    store: Path, damage: Callable[[Path], None]
) -> None:
    kill_mid_run("lost-1")
    journal = journal_target(store)
    assert isinstance(journal, Path)
    damage(journal)

    code, out, err = cli("resume", "lost-1", "--json")
    assert_one_error_line(code, err, str(journal), "no record of workflow")
    data = json.loads(out)
    assert (data["status"], data["exit_code"]) == ("error", 2)
    # nothing ran: the thread can still be resumed once the journal is back
    code, out, _ = cli("report", "lost-1", "--json", "--workflow", "all")
    assert code == 0
    assert json.loads(out)["hops"] < 12


def test_a_run_from_before_the_journal_still_resumes(store: Path) -> None:
    """A checkpoint that does not say its run was journaled (an older
    version wrote it) resumes on a new journal, as it did."""
    kill_mid_run("old-1")
    with sqlite3.connect(store) as conn:
        rows = conn.execute(
            "SELECT rowid, metadata FROM checkpoints WHERE thread_id = 'old-1'"
        ).fetchall()
        for rowid, metadata in rows:
            meta = json.loads(metadata)
            meta.pop("dispatch_spend_journal", None)
            conn.execute(
                "UPDATE checkpoints SET metadata = ? WHERE rowid = ?",
                (json.dumps(meta).encode(), rowid),
            )
    remove(journal_target(store))  # type: ignore[arg-type]

    code, out, err = cli("resume", "old-1", "--json")
    assert code == 0, err
    assert json.loads(out)["resumed"] is True
