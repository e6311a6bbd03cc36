"""A spend journal that fails while a run writes to it.

A run with a hard or soft limit records every reservation and settlement in
its spend journal (``<checkpoints>.spend``). When the journal cannot record a
settlement (the disk filled after a paid call), the run must end the way a
failing checkpoint store ends it: one ``error:`` line naming the journal
(exit 2), not a traceback. The call's reservation, its worst case, stays in
the journal, so a resume still counts it.

A full disk is real: the settlement runs under a file size limit of 0 bytes
(``RLIMIT_FSIZE``; root obeys it too), so SQLite's own write fails. In-process
through typer's runner, offline (simulated models).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _cli import assert_one_error_line, cli
from test_cli_checkpoint_failures import REQUEST, no_room_for_files

from dispatch.budget_scopes import SqliteBudgetScope, open_budget_scope
from dispatch.cli.spend_journal import journal_target

pytestmark = pytest.mark.usefixtures("store")  # tests/conftest.py


def fill_the_disk_at_first_paid_settlement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal's first settlement of a call that cost money runs on a
    full disk (only that once)."""
    real = SqliteBudgetScope._settle
    struck: list[Decimal] = []

    def settle(self: SqliteBudgetScope, hold_id: int, actual: Decimal) -> Any:
        if struck or not actual:
            return real(self, hold_id, actual)
        struck.append(actual)
        with no_room_for_files():
            return real(self, hold_id, actual)

    monkeypatch.setattr(SqliteBudgetScope, "_settle", settle)


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_a_settlement_the_journal_cannot_write_ends_the_run_with_one_line(
    store: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    fill_the_disk_at_first_paid_settlement(monkeypatch)
    code, out, err = cli(
        "run", REQUEST, "--thread", "t1", "--budget", "1", "--budget-mode", mode,
        "--json",
    )  # fmt: skip
    journal = journal_target(store)
    assert_one_error_line(
        code, err, f"spend journal {journal} failed during the run", "SQLITE_"
    )
    data = json.loads(out)
    assert (data["status"], data["exit_code"]) == ("error", 2)


def test_the_call_it_could_not_settle_is_counted_on_resume(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_the_disk_at_first_paid_settlement(monkeypatch)
    code, _, err = cli(
        "run", REQUEST, "--thread", "t1", "--budget", "1", "--budget-mode", "hard"
    )
    assert code == 2, err
    code, out, err = cli("resume", "t1", "--json")  # the disk has room again
    assert code == 0, err
    run = json.loads(out)
    assert run["status"] == "ok" and run["resumed"] is True
    with open_budget_scope(
        journal_target(store), f"workflow:{run['workflow']}"
    ) as journal:
        totals = journal.totals()
    # the unsettled call is still held at its worst case, and the resumed
    # budget counts everything the journal holds
    assert totals.holds >= 1 and totals.reserved_usd > 0
    assert run["budget"]["spent_usd"] == pytest.approx(
        float(totals.spent_usd + totals.reserved_usd)
    )
