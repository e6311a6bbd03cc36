"""``python -m bench.faults`` on a tiny configuration: its JSON shape, its ledger
checks, and the pure judging of one workflow."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from bench._fault_report import as_json, check_workflow, summarize
from bench.faults import main, run_bench
from dispatch.types import HopRecord, PinChange

REQUIRED = {
    "fault_rate": float,
    "workflows": int,
    "completed": int,
    "ledger_exact": int,
    "overspent": int,
    "p99_s": float,
}


def hop(cost: str, error: str | None = None) -> dict[str, Any]:
    return dict(
        HopRecord(
            step="t1",
            specialist="general",
            capability="general",
            tier="small",
            model="tiny:model",
            input_tokens=1,
            output_tokens=1,
            cost_usd=Decimal(cost),
            baseline_cost_usd=Decimal(cost),
            pin_change=PinChange.NEW,
            router="rules",
            confidence=1.0,
            reason="test",
            duration_ms=1.0,
            error=error,
        ).as_dict()
    )


def final_state(answer: str, costs: list[str], saved: str) -> dict[str, Any]:
    return {
        "answer": answer,
        "hops": [hop(c) for c in costs],
        "results": {"t1": {"ok": True}},
        "budget": {"spent_usd": saved},
    }


def test_a_tiny_run_reports_every_rate_with_an_exact_never_overspent_ledger() -> None:
    reports = asyncio.run(
        run_bench(
            [0.3],
            workflows=3,
            timeout_s=60.0,
            # a loaded 2-core runner can take over the default 1 s per call
            call_timeout_s=30.0,
            dispatcher_options={"max_failovers": 2},
            # hangs end as client timeouts: every workflow returns a state
            fault_options={"hang_s": 0.2, "retry_after_s": 0},
        )
    )
    doc = json.loads(json.dumps(as_json(reports)))
    rows = doc["rates"]
    assert [row["fault_rate"] for row in rows] == [0.0, 0.3]  # the baseline is added
    for row in rows:
        assert row["timed_out"] == 0, row
        for key, kind in REQUIRED.items():
            assert isinstance(row[key], kind), key
        assert row["workflows"] == 3
        # every workflow that returned a state has an exact ledger
        assert row["ledger_exact"] == row["ledger_checked"] == 3, row
        assert row["overspent"] == 0
        assert row["unreleased"] == 0
        assert row["negative_cost_hops"] == 0
    clean, faulty = rows
    assert clean["completed"] == 3 and clean["hops_failed"] == 0, clean
    assert clean["extra_cost_ratio"] == 1.0 and clean["injected"] == {}
    assert sum(faulty["injected"].values()) > 0


def test_the_cli_prints_only_json_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--json", "--workflows", "1", "--rates", "0", "--timeout", "60"]
    assert main(argv) == 0
    (row,) = json.loads(capsys.readouterr().out)["rates"]
    assert (row["fault_rate"], row["workflows"], row["completed"]) == (0.0, 1, 1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rates", "0,1.5"], "within 0..1"),
        (["--rates", "ten"], "comma-separated numbers"),
        (["--workflows", "0"], "positive"),
        (["--dispatcher-option", "max_failovers"], "NAME=VALUE"),
        (["--dispatcher-option", "no_such_option=1"], "no_such_option"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_workflow_is_exact_only_when_ledger_hops_and_checkpoint_agree() -> None:
    good = check_workflow(
        final_state("done", ["0.1", "0.2"], "0.3"),
        spent=Decimal("0.3"),
        reserved=Decimal(0),
        limit=Decimal(5),
        seconds=1.0,
    )
    assert good.completed and good.ledger_exact and not good.overspent
    off_checkpoint = check_workflow(
        final_state("done", ["0.1", "0.2"], "0.2"),
        spent=Decimal("0.3"),
        reserved=Decimal(0),
        limit=Decimal(5),
        seconds=1.0,
    )
    assert not off_checkpoint.ledger_exact
    off_ledger = check_workflow(
        final_state("done", ["0.1", "0.2"], "0.3"),
        spent=Decimal("0.4"),
        reserved=Decimal("0.1"),
        limit=Decimal("0.35"),
        seconds=1.0,
    )
    assert not off_ledger.ledger_exact
    assert off_ledger.overspent and not off_ledger.released


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("  ", "empty answer"),
        ("[synthesis failed: x]", "synthesis failed"),
        ("[budget exhausted before synthesis; ...]", "budget exhausted"),
    ],
)
def test_failure_placeholders_do_not_count_as_completed(
    answer: str, reason: str
) -> None:
    outcome = check_workflow(
        final_state(answer, ["0.1"], "0.1"),
        spent=Decimal("0.1"),
        reserved=Decimal(0),
        limit=Decimal(5),
        seconds=1.0,
    )
    assert outcome.outcome == reason
    assert not outcome.completed and outcome.ledger_exact


def test_a_cancelled_workflow_is_neither_completed_nor_verified() -> None:
    outcome = check_workflow(
        None, spent=Decimal(0), reserved=Decimal(0), limit=Decimal(5), seconds=9.0
    )
    assert outcome.timed_out and not outcome.completed and not outcome.ledger_exact


def test_extra_cost_is_the_mean_completed_cost_against_the_baseline() -> None:
    def done(cost: str, completed: bool = True) -> Any:
        answer = "ok" if completed else "[synthesis failed: x]"
        return check_workflow(
            final_state(answer, [cost], cost),
            spent=Decimal(cost),
            reserved=Decimal(0),
            limit=Decimal(5),
            seconds=float(cost),
        )

    report = summarize(
        0.3, [done("1"), done("2"), done("9", completed=False)], baseline_cost=1.0
    )
    assert report.completed == 2
    assert report.not_completed == {"synthesis failed": 1}
    assert report.mean_cost_usd == 1.5
    assert report.extra_cost_ratio == 1.5
    assert report.p99_s <= report.max_s == 9.0
    assert summarize(0.3, [done("1")], baseline_cost=None).extra_cost_ratio is None


def test_failed_hops_are_counted_by_error_type() -> None:
    state = final_state("ok", ["0.1"], "0.1")
    state["hops"] += [hop("0", error="rate limited"), hop("0", error="503")]
    state["hops"][1]["error_type"] = "RateLimitError"
    outcome = check_workflow(
        state, spent=Decimal("0.1"), reserved=Decimal(0), limit=Decimal(5), seconds=1
    )
    report = summarize(0.3, [outcome], baseline_cost=0.1)
    assert report.hops == 3 and report.hops_failed == 2
    assert report.hop_failures == {"RateLimitError": 1, "unknown": 1}


def test_a_faulted_rate_says_where_its_extra_cost_went() -> None:
    reports = asyncio.run(
        run_bench(
            [0.6],
            workflows=4,
            timeout_s=60.0,
            call_timeout_s=30.0,
            fault_options={"hang_s": 0.2, "retry_after_s": 0},
        )
    )
    clean, faulty = reports
    assert clean.extra_cost_by_cause == {}
    assert faulty.extra_cost_by_cause  # 60 % faults always cost something
    assert clean.mean_cost_usd and faulty.mean_cost_usd
    assert sum(faulty.extra_cost_by_cause.values()) == pytest.approx(
        faulty.mean_cost_usd - clean.mean_cost_usd, rel=1e-6, abs=1e-12
    )
