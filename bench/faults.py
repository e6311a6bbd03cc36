"""Fault-injection benchmark: the demo workflow under injected provider faults.

Each fault rate runs the real orchestrator graph (`build_orchestrator`, the demo
plan) over many workflows, each with its own hard budget, on models built by
`dispatch.testing_faults.faulty_factory`: on that share of calls a model
raises (unclassified error, 429 with ``Retry-After``, 503, connection reset,
client timeout), hangs until cancelled, or answers with missing, malformed,
negative or absurd usage, empty content, an unknown tool or invalid tool
arguments. One `Dispatcher` serves every workflow of a rate, as one process
serves many users, so per-model state (a circuit breaker, rate-limit headroom)
is shared as it would be in production.

Per rate it reports: workflows; completed (a final answer that is not a failure
placeholder); hops failed; ledger exact (the run's ledger spend == the sum of
the hop costs in the final state == the checkpointed ``budget.spent_usd``);
overspent (spend above the hard limit); extra cost (mean cost of a completed
workflow against the fault-free run, measured in the same process); and p50 /
p99 wall time per workflow. Rate 0 is always run: it is the baseline.

Hung calls are bounded by the bench itself: every workflow runs under
``asyncio.wait_for`` and one that outlives `--timeout` counts as not completed
(and its ledger as unverified). Each model call is bounded by its per-call
timeout (`--call-timeout`), so a workflow outlives `--timeout` only when its
retries, ``Retry-After`` waits and timed-out calls add up to more than that (at
60 % faults a sequential chain of hops can), or when the per-call timeout is
longer than the workflow's.

Settings the `Dispatcher` grows later (per-call timeouts, retries, breakers)
go to its constructor unchanged through ``--dispatcher-option NAME=VALUE``
(``dispatcher_options=`` in `run_bench`), e.g. ``--dispatcher-option
max_failovers=4``; a name the constructor does not take is refused up front.

Workflows of a rate run concurrently (at most `--concurrency` at once), so wall
times include queueing for the 2 cores; compare them between rates of one run.
Fault draws are seeded, but concurrent branches draw in scheduling order, so
counts vary slightly between runs.

Run: ``python -m bench.faults [--json] [--workflows N] [--rates 0,0.1,0.3,0.6]``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from bench._fault_breakdown import extra_cost_by_cause
from bench._fault_options import dispatcher_option, positive
from bench._fault_options import rates as parse_rates
from bench._fault_report import (
    RateReport,
    WorkflowOutcome,
    as_json,
    check_workflow,
    summarize,
)
from dispatch import DispatchContext, Dispatcher, Registry
from dispatch.graphs import (
    DEMO_PLAN,
    DEMO_REQUEST,
    DEMO_SYNTHESIS_TIER,
    build_orchestrator,
)
from dispatch.records import HopRecord
from dispatch.testing_faults import faulty_factory

DEFAULT_RATES = (0.0, 0.1, 0.3, 0.6)


async def _one_workflow(
    graph: Any, dispatcher: Dispatcher, *, budget_usd: Decimal, timeout_s: float
) -> WorkflowOutcome:
    context = DispatchContext(budget_usd=str(budget_usd), budget_mode="hard")
    request = {"request": DEMO_REQUEST, "tasks": list(DEMO_PLAN)}
    started = time.perf_counter()
    state: Mapping[str, Any] | None
    try:
        state = await asyncio.wait_for(
            graph.ainvoke(request, context=context), timeout_s
        )
    except TimeoutError:
        state = None
    seconds = time.perf_counter() - started
    ledger = dispatcher.ledgers.get(context.run_id)
    return check_workflow(
        state,
        spent=ledger.spent if ledger else Decimal(0),
        reserved=ledger.reserved if ledger else Decimal(0),
        limit=budget_usd,
        seconds=seconds,
    )


def _with_call_timeout(registry: Registry, seconds: float) -> Registry:
    """`registry` with every model's per-call timeout set to `seconds` (the
    shipped default, 120 s, is for real providers; the bench's hung calls would
    otherwise only end at the workflow's own timeout)."""
    return Registry(
        [replace(m, timeout_s=seconds) for m in registry],
        tiers=[(t, registry.bar(t)) for t in registry.tiers],
        capabilities=registry.capabilities,
        baseline_model=registry.baseline.id,
        max_output_tokens=registry.max_output_tokens,
        expected_input_tokens=registry.expected_input_tokens,
    )


async def run_rate(
    rate: float,
    *,
    workflows: int,
    seed: int = 0,
    budget_usd: Decimal = Decimal(5),
    timeout_s: float = 8.0,
    concurrency: int = 32,
    baseline_cost: float | None = None,
    call_timeout_s: float = 1.0,
    dispatcher_options: Mapping[str, Any] | None = None,
    fault_options: Mapping[str, Any] | None = None,
) -> RateReport:
    """Run `workflows` demo workflows at fault `rate` and aggregate them.

    `dispatcher_options` go to ``Dispatcher(...)`` unchanged, so resilience
    settings added later (timeouts, retries, breakers) can be benchmarked
    without changing this function. `fault_options` go to `faulty_factory`
    (``hang_s``, ``retry_after_s``, ``faults``).
    """
    report, _ = await _run_rate(
        rate,
        workflows=workflows,
        seed=seed,
        budget_usd=budget_usd,
        timeout_s=timeout_s,
        concurrency=concurrency,
        baseline_cost=baseline_cost,
        call_timeout_s=call_timeout_s,
        dispatcher_options=dispatcher_options,
        fault_options=fault_options,
    )
    return report


async def _run_rate(
    rate: float,
    *,
    workflows: int,
    seed: int,
    budget_usd: Decimal,
    timeout_s: float,
    concurrency: int,
    baseline_cost: float | None,
    call_timeout_s: float,
    dispatcher_options: Mapping[str, Any] | None,
    fault_options: Mapping[str, Any] | None,
) -> tuple[RateReport, list[WorkflowOutcome]]:
    factory = faulty_factory(rate, seed=seed, **(fault_options or {}))
    dispatcher = Dispatcher(
        _with_call_timeout(Registry.from_config(), call_timeout_s),
        model_factory=factory,
        **(dispatcher_options or {}),
    )
    graph = build_orchestrator(dispatcher, synthesis_tier=DEMO_SYNTHESIS_TIER)
    gate = asyncio.Semaphore(concurrency)

    async def gated() -> WorkflowOutcome:
        async with gate:
            return await _one_workflow(
                graph, dispatcher, budget_usd=budget_usd, timeout_s=timeout_s
            )

    outcomes = await asyncio.gather(*(gated() for _ in range(workflows)))
    injected = {str(k): v for k, v in factory.injected().items()}
    report = summarize(rate, outcomes, baseline_cost=baseline_cost, injected=injected)
    return report, list(outcomes)


async def run_bench(
    rates: Sequence[float] = DEFAULT_RATES,
    *,
    workflows: int = 100,
    seed: int = 0,
    budget_usd: Decimal = Decimal(5),
    timeout_s: float = 8.0,
    concurrency: int = 32,
    call_timeout_s: float = 1.0,
    dispatcher_options: Mapping[str, Any] | None = None,
    fault_options: Mapping[str, Any] | None = None,
) -> list[RateReport]:
    """Every rate in `rates` (rate 0 first, added if missing: the baseline)."""
    ordered = sorted({0.0, *rates})
    reports: list[RateReport] = []
    baseline: float | None = None
    baseline_records: list[tuple[HopRecord, ...]] = []
    for rate in ordered:
        report, outcomes = await _run_rate(
            rate,
            workflows=workflows,
            seed=seed,
            budget_usd=budget_usd,
            timeout_s=timeout_s,
            concurrency=concurrency,
            baseline_cost=baseline,
            call_timeout_s=call_timeout_s,
            dispatcher_options=dispatcher_options,
            fault_options=fault_options,
        )
        done = [o.records for o in outcomes if o.completed]
        if rate == 0.0:  # the baseline compares with itself
            baseline = report.mean_cost_usd
            baseline_records = done
            report = replace(report, extra_cost_ratio=1.0 if baseline else None)
        else:
            report = replace(
                report, extra_cost_by_cause=extra_cost_by_cause(baseline_records, done)
            )
        reports.append(report)
    return reports


def _print_table(reports: Sequence[RateReport], timeout_s: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Demo workflows under injected faults (hard budget each)")
    for name in (
        "fault rate",
        "runs",
        "completed",
        "clean",
        "timed out",
        "hops failed",
        "ledger exact",
        "overspent",
        "left held",
        "extra cost",
        "p50 s",
        "p99 s",
    ):
        table.add_column(name, justify="right")
    for r in reports:
        ratio = "-" if r.extra_cost_ratio is None else f"{r.extra_cost_ratio:.2f}x"
        table.add_row(
            f"{r.fault_rate:.0%}",
            str(r.workflows),
            str(r.completed),
            str(r.clean),
            str(r.timed_out),
            f"{r.hops_failed}/{r.hops}",
            f"{r.ledger_exact}/{r.ledger_checked}",
            str(r.overspent),
            str(r.unreleased),
            ratio,
            f"{r.p50_s:.2f}",
            f"{r.p99_s:.2f}",
        )
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=140)
    console.print(table)
    for r in reports:
        if r.not_completed or r.hop_failures:
            console.print(
                f"{r.fault_rate:.0%}: not completed {_listed(r.not_completed)}; "
                f"failed hops {_listed(r.hop_failures)}"
            )
    for r in reports:
        if r.extra_cost_by_cause and r.mean_cost_usd and r.extra_cost_ratio:
            base = r.mean_cost_usd / r.extra_cost_ratio
            console.print(
                f"{r.fault_rate:.0%}: extra cost by cause (share of the fault-free "
                "cost): "
                + ", ".join(
                    f"{cause} {usd / base:+.0%}"
                    for cause, usd in r.extra_cost_by_cause.items()
                )
            )
    hung = sum(r.timed_out for r in reports)
    if hung:
        console.print(
            f"{hung} workflow(s) outlived the bench's {timeout_s:g} s timeout and were "
            "cancelled (their ledgers are not counted as checked): a hung call held "
            "them past it (no per-call timeout, or a longer one: see --call-timeout), "
            "or their retries, waits and timed-out calls added up to more."
        )


def _listed(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or ``--json``); exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument(
        "--workflows", type=positive(int), default=100, help="workflows per rate"
    )
    parser.add_argument(
        "--rates",
        type=parse_rates,
        default=list(DEFAULT_RATES),
        help="comma-separated fault rates within 0..1 (0 is always run)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--budget", type=positive(float), default=5.0, help="hard USD per workflow"
    )
    parser.add_argument(
        "--timeout",
        type=positive(float),
        default=8.0,
        help="seconds a workflow may take before the bench cancels it",
    )
    parser.add_argument(
        "--concurrency", type=positive(int), default=32, help="workflows at once"
    )
    parser.add_argument(
        "--call-timeout",
        type=positive(float),
        default=1.0,
        help="every model's per-call timeout (registry timeout_s) in seconds",
    )
    parser.add_argument(
        "--dispatcher-option",
        type=dispatcher_option,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="passed to Dispatcher(...) as is (VALUE read as JSON, else text); "
        "repeatable",
    )
    args = parser.parse_args(argv)
    options = dict(args.dispatcher_option)
    try:
        inspect.signature(Dispatcher).bind(None, **options)
    except TypeError as exc:
        parser.error(f"--dispatcher-option: Dispatcher(...) refuses it: {exc}")
    reports = asyncio.run(
        run_bench(
            args.rates,
            workflows=args.workflows,
            seed=args.seed,
            budget_usd=Decimal(str(args.budget)),
            timeout_s=args.timeout,
            concurrency=args.concurrency,
            call_timeout_s=args.call_timeout,
            dispatcher_options=options,
        )
    )
    if args.json:
        print(json.dumps(as_json(reports)))
    else:
        _print_table(reports, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
