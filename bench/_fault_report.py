"""Judging the fault bench's workflows, and the per-rate figures (pure, no I/O).

`check_workflow` turns one run's final state and ledger totals into a
`WorkflowOutcome`; `summarize` folds the outcomes of one fault rate into the
`RateReport` that ``python -m bench.faults --json`` prints, one row per rate.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from dispatch import hop_records
from dispatch.types import HopRecord

__all__ = (
    "RateReport",
    "WorkflowOutcome",
    "as_json",
    "check_workflow",
    "summarize",
)

FAILED_ANSWER = {
    "[synthesis failed": "synthesis failed",
    "[budget exhausted": "budget exhausted",
}
"""Placeholders the synthesize node writes instead of an answer, by prefix."""

COMPLETED = "completed"
TIMED_OUT = "timed out"
NO_ANSWER = "empty answer"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowOutcome:
    """What one workflow run did, checked against its own ledger."""

    outcome: str
    """``completed``, or why not: ``timed out`` (the bench cancelled it),
    ``synthesis failed``, ``budget exhausted``, ``empty answer``."""
    tasks_failed: int
    """Sub-tasks whose specialist failed (the answer may still be produced)."""
    hops: int
    failures: tuple[str, ...]
    """Error type of every hop attempt that raised or was refused."""
    negative_cost_hops: int
    cost_usd: Decimal
    """The ledger's settled spend."""
    ledger_exact: bool
    """Ledger spend == sum of hop costs == checkpointed spend (False when
    there is no final state to compare with)."""
    overspent: bool
    """Settled spend above the hard limit."""
    released: bool
    """Nothing is left reserved once the run ended (finished or cancelled)."""
    seconds: float
    records: tuple[HopRecord, ...] = ()
    """The run's hop records (for `bench._fault_breakdown`); empty when cancelled."""

    @property
    def completed(self) -> bool:
        """A final answer that is neither empty nor a failure placeholder."""
        return self.outcome == COMPLETED

    @property
    def timed_out(self) -> bool:
        """The bench cancelled the run: there is no final state."""
        return self.outcome == TIMED_OUT


@dataclass(frozen=True, slots=True, kw_only=True)
class RateReport:
    """The figures of one fault rate (the ``--json`` row)."""

    fault_rate: float
    workflows: int
    completed: int
    """Workflows with a final answer that is not a failure placeholder."""
    clean: int
    """Completed with every sub-task succeeding."""
    timed_out: int
    """Workflows cancelled by the bench's timeout (a hung call held them)."""
    not_completed: dict[str, int]
    """Why the others did not complete, by reason."""
    hops: int
    hops_failed: int
    """Hop attempts that raised or were refused."""
    hop_failures: dict[str, int]
    """`hops_failed` by error type."""
    negative_cost_hops: int
    ledger_checked: int
    """Workflows with a final state to check the ledger against."""
    ledger_exact: int
    """Workflows whose ledger was verified exact."""
    overspent: int
    """Workflows whose settled spend passed their hard limit."""
    unreleased: int
    """Workflows that left money reserved."""
    mean_cost_usd: float | None
    """Mean ledger spend of a completed workflow."""
    extra_cost_ratio: float | None
    """`mean_cost_usd` / the fault-free run's; None without completions."""
    p50_s: float
    p99_s: float
    max_s: float
    injected: dict[str, int] = field(default_factory=dict)
    """How often each fault was injected."""
    extra_cost_by_cause: dict[str, float] = field(default_factory=dict)
    """Mean extra USD per completed workflow against the fault-free run, by cause
    (`bench._fault_breakdown.extra_cost_by_cause`)."""


def _outcome(state: Mapping[str, Any] | None) -> str:
    if state is None:
        return TIMED_OUT
    answer = state.get("answer")
    text = answer if isinstance(answer, str) else ""
    for prefix, reason in FAILED_ANSWER.items():
        if text.startswith(prefix):
            return reason
    return COMPLETED if text.strip() else NO_ANSWER


def check_workflow(
    state: Mapping[str, Any] | None,
    *,
    spent: Decimal,
    reserved: Decimal,
    limit: Decimal,
    seconds: float,
) -> WorkflowOutcome:
    """Judge one run from its final state (None: cancelled) and ledger totals."""
    records = hop_records(state) if state is not None else []
    hop_sum = sum((r.cost_usd for r in records), Decimal(0))
    saved = (state or {}).get("budget") or {}
    exact = state is not None and (
        hop_sum == spent == Decimal(saved.get("spent_usd", "NaN"))
    )
    results = (state or {}).get("results") or {}
    return WorkflowOutcome(
        outcome=_outcome(state),
        tasks_failed=sum(not r["ok"] for r in results.values()),
        hops=len(records),
        failures=tuple(
            r.error_type or "unknown" for r in records if r.error is not None
        ),
        negative_cost_hops=sum(r.cost_usd < 0 for r in records),
        cost_usd=spent,
        ledger_exact=exact,
        overspent=spent > limit,
        released=reserved == 0,
        seconds=seconds,
        records=tuple(records),
    )


def _percentile(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _counts(items: Counter[str]) -> dict[str, int]:
    return dict(sorted(items.items()))


def summarize(
    rate: float,
    outcomes: Sequence[WorkflowOutcome],
    *,
    baseline_cost: float | None,
    injected: Mapping[str, int] | None = None,
) -> RateReport:
    """Fold the outcomes of one rate; `baseline_cost` is the fault-free run's
    mean cost of a completed workflow (None: unknown, no ratio)."""
    done = [o for o in outcomes if o.completed]
    mean = (
        float(sum((o.cost_usd for o in done), Decimal(0)) / len(done)) if done else None
    )
    ratio = mean / baseline_cost if mean is not None and baseline_cost else None
    seconds = [o.seconds for o in outcomes]
    return RateReport(
        fault_rate=rate,
        workflows=len(outcomes),
        completed=len(done),
        clean=sum(o.completed and not o.tasks_failed for o in outcomes),
        timed_out=sum(o.timed_out for o in outcomes),
        not_completed=_counts(Counter(o.outcome for o in outcomes if not o.completed)),
        hops=sum(o.hops for o in outcomes),
        hops_failed=sum(len(o.failures) for o in outcomes),
        hop_failures=_counts(Counter(f for o in outcomes for f in o.failures)),
        negative_cost_hops=sum(o.negative_cost_hops for o in outcomes),
        ledger_checked=sum(not o.timed_out for o in outcomes),
        ledger_exact=sum(o.ledger_exact for o in outcomes),
        overspent=sum(o.overspent for o in outcomes),
        unreleased=sum(not o.released for o in outcomes),
        mean_cost_usd=mean,
        extra_cost_ratio=ratio,
        p50_s=_percentile(seconds, 50),
        p99_s=_percentile(seconds, 99),
        max_s=max(seconds, default=0.0),
        injected=dict(sorted((injected or {}).items())),
    )


def as_json(reports: Sequence[RateReport]) -> dict[str, Any]:
    """The ``--json`` document: ``{"rates": [row, ...]}``."""
    return {"rates": [asdict(r) for r in reports]}
