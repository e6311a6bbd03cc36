"""``dispatch report`` after a killed run shows what the spend journal knows.

The checkpoint holds the spend of the nodes that finished. A run with a hard
or soft limit also journals every paid call (``<checkpoints>.spend``), so
after a ``kill -9`` the journal holds more than the checkpoint: calls of a
node that never finished, paid or in flight at the kill. ``report`` only read
the checkpoint and under-reported; it now reads the journal too, read-only,
and shows the difference as ``unrecorded_usd`` (``--json``) and one
``journal:`` line. Runs that were not journaled, or whose journal agrees with
the checkpoint, report as before; a journal removed since the kill is a
warning, an unreadable one an error naming it.

The kill is real (``kill -9`` of a forked ``dispatch demo``); the reports run
in-process through typer's runner, offline (simulated models).
"""

from __future__ import annotations

import json
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _cli import assert_one_error_line, cli, flat
from test_cli_resume import start_demo, wait_for_first_hop

from dispatch.budget_scopes import open_budget_scope
from dispatch.cli.spend_journal import journal_target

pytestmark = pytest.mark.usefixtures("store")  # tests/conftest.py

HARD = ("--budget", "0.05", "--budget-mode", "hard")


def kill_mid_run(thread: str, *budget: str) -> None:
    """A demo on `thread` with `budget`'s flags, killed once its first call
    was paid (a task still running)."""
    proc = start_demo("--thread", thread, *budget)
    wait_for_first_hop(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def journal_of(store: Path) -> Path:
    journal = journal_target(store)
    assert isinstance(journal, Path)
    return journal


def journal_files(store: Path) -> list[Path]:
    """The journal and its SQLite companions (-wal, -shm)."""
    journal = journal_of(store)
    return sorted(journal.parent.glob(journal.name + "*"))


def journal_holds(store: Path, workflow: str) -> Decimal:
    """What the journal counts for `workflow`: settled, plus calls in flight."""
    with open_budget_scope(journal_of(store), f"workflow:{workflow}") as scope:
        totals = scope.totals()
    return totals.spent_usd + totals.reserved_usd


def report_json(*args: str) -> dict[str, Any]:
    code, out, err = cli("report", *args, "--json")
    assert code == 0, err
    assert "warning" not in err, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_a_killed_runs_report_counts_what_its_unfinished_calls_spent(
    store: Path,
) -> None:
    kill_mid_run("k-1", *HARD)

    report = report_json("k-1")
    (workflow,) = report["workflows"]  # the killed run, listed with or without hops
    held = float(journal_holds(store, workflow))
    checkpointed = report["total_cost_usd"]
    assert report["unrecorded_usd"] > 0
    assert report["unrecorded_usd"] == pytest.approx(held - checkpointed)
    assert report["journal"] == {
        workflow: {
            "journal_usd": pytest.approx(held),
            "checkpoint_usd": pytest.approx(checkpointed),
            "unrecorded_usd": pytest.approx(report["unrecorded_usd"]),
        }
    }
    code, out, err = cli("report", "k-1")
    assert code == 0, err
    assert (
        f"journal: ${report['unrecorded_usd']:.6f} more than the checkpoint "
        "records, spent by calls whose node did not finish (a resume of the "
        "run counts it in its budget)"
    ) in flat(out)
    # the resume counts the very amount the report showed
    code, out, err = cli("resume", "k-1", "--json")
    assert code == 0, err
    budget = json.loads(out)["budget"]
    assert budget["unrecorded_usd"] == pytest.approx(report["unrecorded_usd"])


def test_a_later_run_on_the_thread_does_not_hide_the_killed_one(store: Path) -> None:
    kill_mid_run("k-2", *HARD)
    killed = report_json("k-2")["workflows"][-1]
    code, out, err = cli("demo", "--thread", "k-2", *HARD, "--json")
    assert code == 0, err
    later = json.loads(out)["workflow"]

    last = report_json("k-2")  # the later run finished: its journal agrees
    assert last["workflows"] == [killed, later]
    assert "unrecorded_usd" not in last and "journal" not in last
    every = report_json("k-2", "--workflow", "all")
    assert list(every["journal"]) == [killed]
    assert every["unrecorded_usd"] == pytest.approx(
        every["journal"][killed]["unrecorded_usd"]
    )
    assert report_json("k-2", "--workflow", killed)["unrecorded_usd"] > 0


@pytest.mark.parametrize(
    "budget",
    [(), ("--budget", "0.05", "--budget-mode", "warn")],
    ids=["no-limit", "warn"],
)
def test_a_run_that_was_not_journaled_reports_as_before(
    store: Path, budget: tuple[str, ...]
) -> None:
    kill_mid_run("k-3", *budget)
    assert journal_files(store) == []

    report = report_json("k-3", "--workflow", "all")
    assert "unrecorded_usd" not in report and "journal" not in report
    code, out, _ = cli("report", "k-3")
    assert code == 0 and "journal:" not in out
    # reading created no journal
    assert journal_files(store) == []


def test_a_journal_removed_since_the_kill_is_a_warning_and_stays_removed(
    store: Path,
) -> None:
    kill_mid_run("k-4", *HARD)
    for path in journal_files(store):
        path.unlink()
    journal = journal_of(store)

    for args in (("--json",), ()):
        code, out, err = cli("report", "k-4", *args)
        assert code == 0, err
        assert err.startswith("warning:") and len(err.strip().splitlines()) == 1, err
        assert f"spend journal {journal} has no record of workflow" in err
        assert "journal:" not in out
    report = json.loads(cli("report", "k-4", "--json")[1])
    assert "unrecorded_usd" not in report
    assert report["workflows"][0] in err
    assert journal_files(store) == []


def test_an_unreadable_journal_is_an_error_naming_it(store: Path) -> None:
    kill_mid_run("k-5", *HARD)
    for path in journal_files(store):
        path.unlink()
    journal = journal_of(store)
    journal.write_bytes(b"not a database" * 512)

    code, out, err = cli("report", "k-5", "--json")
    assert_one_error_line(code, err, f"cannot read the spend journal {journal}")
    assert json.loads(out)["status"] == "error"
    assert journal.read_bytes() == b"not a database" * 512
