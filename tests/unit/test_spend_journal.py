"""The CLI's spend journal: every call of a limited run is also recorded
outside the checkpoint, so a resume counts what the checkpoint lost."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from dispatch import Dispatcher, Registry
from dispatch.cli.spend_journal import SpendJournalFailed, journal_target, journaled
from dispatch.errors import BudgetExceeded

D = Decimal


def dispatcher() -> Dispatcher:
    return Dispatcher(Registry.from_config(), simulate=True)


def test_a_run_without_a_limit_or_in_warn_mode_is_not_journaled(tmp_path: Path) -> None:
    store = tmp_path / "checkpoints.sqlite"
    d = dispatcher()
    for limit, mode in ((None, "hard"), (D("1"), "warn")):
        with journaled(d, store, "wf", limit, mode) as before:
            assert before == 0 and d.ledgers.shared is None
    assert not journal_target(store).exists()


def test_what_a_killed_run_paid_or_held_is_counted_on_resume(tmp_path: Path) -> None:
    store = tmp_path / "state" / "checkpoints.sqlite"
    first = dispatcher()
    with journaled(first, store, "wf", D("0.01"), "hard") as before:
        assert before == 0
        ledger = first.ledgers.open("wf", D("0.01"), "hard")
        paid = ledger.reserve(D("0.004"))
        ledger.settle(paid, D("0.003"))  # paid, then the node was killed
        ledger.reserve(D("0.002"))  # in flight at the kill: never settled
    assert journal_target(store).stat().st_mode & 0o777 == 0o600

    resumed = dispatcher()
    with journaled(resumed, store, "wf", D("0.01"), "hard") as before:
        assert before == D("0.005")  # settled 0.003 + held 0.002 (worst case)
        ledger = resumed.ledgers.open("wf", D("0.01"), "hard", spent=before)
        ledger.settle(ledger.reserve(D("0.004")), D("0.004"))
        with pytest.raises(BudgetExceeded):
            ledger.reserve(D("0.002"))  # 0.009 spent or held: 0.002 does not fit
    assert resumed.ledgers.shared is None  # detached after the run


def test_a_journal_that_fails_mid_run_stops_the_run_with_one_error(
    tmp_path: Path,
) -> None:
    store = tmp_path / "checkpoints.sqlite"
    d = dispatcher()
    with journaled(d, store, "wf", D("1"), "hard"):
        ledger = d.ledgers.open("wf", D("1"), "hard")
        shared = d.ledgers.shared
        assert shared is not None
        shared._scope.close()  # type: ignore[attr-defined]  # the store went away
        with pytest.raises(SpendJournalFailed, match=r"spend journal .*\.spend failed"):
            ledger.reserve(D("0.1"))
    assert ledger.reserved == 0  # the refused reservation was not kept
