"""The budget object and line of a run, how a refused hop is shown, and the
routing metrics table."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from dispatch.budget import BudgetDict
from dispatch.cli.render import budget_json, budget_line, hop_table, metrics_table
from dispatch.records import HopRecord
from dispatch.report import routing_report
from dispatch.types import PinChange


def budget(spent: str, refused: int) -> BudgetDict:
    return BudgetDict(
        workflow="w",
        limit_usd="0.01",
        mode="hard",
        spent_usd=spent,
        reserved_usd="0",
        refused=refused,
        exceeded=refused > 0,  # what the ledger sets on a refusal
    )


def test_a_hard_budget_that_refused_hops_is_not_called_exceeded() -> None:
    b = budget_json(budget("0.004", 2), limit=Decimal("0.01"), mode="hard")
    assert (b["spent_usd"], b["limit_usd"], b["refused"]) == (0.004, 0.01, 2)
    assert b["exceeded"] is False
    line = budget_line(b)
    assert "refused 2 hop(s)" in line and "exceeded" not in line


def test_spend_above_the_limit_is_exceeded() -> None:
    b = budget_json(budget("0.012", 0), limit=Decimal("0.01"), mode="soft")
    assert b["exceeded"] is True and b["refused"] == 0
    assert "exceeded" in budget_line(b)


def test_a_budget_within_its_limit_says_so() -> None:
    b = budget_json(budget("0.004", 0), limit=Decimal("0.01"), mode="hard")
    assert "within" in budget_line(b)


def test_a_refused_start_counts_every_hop_as_refused() -> None:
    b = budget_json(None, limit=Decimal("0.01"), mode="hard", refused_before_start=7)
    assert (b["refused"], b["exceeded"], b["spent_usd"]) == (7, False, 0.0)


def test_a_refused_hop_is_never_shown_as_a_re_pin() -> None:
    refused = HopRecord(
        step="t1",
        specialist="coding",
        capability="coding",
        tier="large",
        model="big:model",
        input_tokens=0,
        output_tokens=0,
        cost_usd=Decimal(0),
        baseline_cost_usd=Decimal(0),
        pin_change=PinChange.ESCALATED,
        repinned_from="small:model",  # as older records of a refusal carried it
        router="rules",
        confidence=1.0,
        reason="r",
        duration_ms=0.0,
        error="refused: budget",
        refused=True,
    )
    console = Console(width=200, record=True)
    console.print(hop_table([refused]))
    text = console.export_text()
    assert "refused: budget" in text
    assert "re-pin" not in text


def test_the_metrics_table_counts_refused_hops_beside_the_called_ones() -> None:
    def record(step: str, *, refused: bool) -> HopRecord:
        return HopRecord(
            step=step,
            specialist="coding",
            capability="coding",
            tier="small",
            model="small:model",
            input_tokens=0 if refused else 10,
            output_tokens=0 if refused else 5,
            cost_usd=Decimal(0) if refused else Decimal("0.001"),
            baseline_cost_usd=Decimal(0) if refused else Decimal("0.01"),
            pin_change=PinChange.NEW,
            repinned_from=None,
            router="rules",
            confidence=1.0,
            reason="r",
            duration_ms=1.0,
            error="refused: budget" if refused else None,
            refused=refused,
        )

    records = [record("a", refused=False), record("b", refused=False)]
    records.append(record("c", refused=True))
    console = Console(width=200, record=True)
    console.print(metrics_table(routing_report(records)))
    text = console.export_text()
    assert "hops called (successful) / refused" in text
    assert "2 (2) / 1" in text
