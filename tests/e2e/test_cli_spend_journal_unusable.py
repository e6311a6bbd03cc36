"""A spend journal that cannot be used when a run starts: one ``error:`` line
naming the journal (exit 2) before anything runs, never a traceback, and
never a message that calls the journal the checkpoint store.

The journal is ``<checkpoints>.spend``; only runs with a hard or soft limit
use it. In-process through typer's runner, offline (simulated models).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from _cli import assert_one_error_line, cli

from dispatch.cli.spend_journal import journal_target

pytestmark = pytest.mark.usefixtures("store")  # tests/conftest.py


def another_sqlite_database(journal: Path) -> None:
    """A SQLite file whose tables are not the journal's."""
    with sqlite3.connect(journal) as conn:
        conn.execute("CREATE TABLE dispatch_budget_scopes (scope TEXT)")


def a_directory(journal: Path) -> None:
    journal.mkdir()


def junk(journal: Path) -> None:
    journal.write_bytes(b"not a database" * 512)


@pytest.mark.parametrize(
    "damage",
    [another_sqlite_database, a_directory, junk],
    ids=["another-database", "directory", "junk"],
)
def test_an_unusable_journal_stops_a_limited_run_before_it_starts(
    store: Path, damage: Callable[[Path], None]
) -> None:
    journal = journal_target(store)
    assert isinstance(journal, Path)
    journal.parent.mkdir(parents=True)
    damage(journal)

    code, out, err = cli("demo", "--budget", "0.05", "--budget-mode", "hard", "--json")
    assert_one_error_line(code, err, f"spend journal {journal}")
    assert f"checkpoint store {journal}" not in err
    data = json.loads(out)
    assert (data["status"], data["exit_code"]) == ("error", 2)
    # a run without a limit does not use the journal
    code, _, err = cli("demo")
    assert code == 0, err
