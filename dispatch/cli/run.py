"""``dispatch demo`` / ``dispatch run``: plan, pre-flight, run with checkpoints and
telemetry, and print the hops, totals and budget."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.panel import Panel
from rich.text import Text

from dispatch.budget import budget_settings
from dispatch.cli.outcome import Outcome, refused_start, run_outcome
from dispatch.cli.render import (
    budget_json,
    budget_line,
    err,
    fail,
    hop_table,
    out,
    run_json,
    status_line,
    totals,
)
from dispatch.cli.support import Mode, checkpoint_path, dispatcher_from_env, summarize
from dispatch.cli.telemetry import telemetry_from_env
from dispatch.dispatcher import Dispatcher
from dispatch.errors import DispatchError
from dispatch.langgraph.state import hop_records
from dispatch.preflight import Estimate

__all__ = ("RunArgs", "run_workflow")

_SIM_NOTICE = (
    "SIMULATED RUN: no API key found, so responses come from the offline simulator "
    "(sim: stand-ins). Token counts are derived from the prompts and each task's "
    "declared output length; costs use the real models' list prices. Tools ran for real."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunArgs:
    """What `demo` and `run` were asked to do."""

    request: str
    tasks: list[Any] | None
    json_: bool
    mode: Mode
    config: str
    budget: float | None
    budget_mode: str | None
    thread: str | None
    allow_partial: bool
    synthesis_tier: str | None = None


def run_workflow(args: RunArgs) -> int:
    """Run the orchestrator as asked, print (or ``--json``) the outcome and
    return the exit code (see `dispatch.cli.outcome`)."""
    from dispatch.agents import default_specialists  # noqa: PLC0415
    from dispatch.graphs import plan_tasks  # noqa: PLC0415
    from dispatch.graphs.estimate import estimate_plan  # noqa: PLC0415

    try:
        dispatcher = dispatcher_from_env(args.config, args.mode)
        limit, budget_mode = budget_settings(
            {
                k: v
                for k, v in {
                    "budget_usd": args.budget,
                    "budget_mode": args.budget_mode,
                }.items()
                if v is not None
            },
            dispatcher.budget,
        )
        specialists = default_specialists()
        tasks = plan_tasks(args.request, args.tasks, dispatcher, specialists)
        estimate = None
        if limit is not None:
            estimate = estimate_plan(
                args.request,
                tasks,
                dispatcher,
                specialists,
                synthesis_tier=args.synthesis_tier,
            )
        if (
            estimate is not None
            and limit is not None
            and budget_mode == "hard"
            and not args.allow_partial
            and estimate.worst_case_cost_usd > limit
        ):
            return _refuse_start(args, dispatcher, limit, estimate, hops=len(tasks) + 1)
        thread = args.thread or uuid.uuid4().hex[:12]
        workflow = uuid.uuid4().hex[:12]
        configurable: dict[str, Any] = {"thread_id": thread, "workflow_id": workflow}
        configurable["budget_mode"] = budget_mode
        if limit is not None:
            configurable["budget_usd"] = str(limit)
        with telemetry_from_env() as tracing:
            dispatcher.tracing = tracing
            with tracing.workflow(
                "orchestrator", conversation_id=thread, workflow_id=workflow
            ):
                state = asyncio.run(
                    _invoke(dispatcher, args, tasks, {"configurable": configurable})
                )
    except DispatchError as exc:
        fail(exc, json_=args.json_)
    records = [r for r in hop_records(state) if r.workflow == workflow]
    summary = summarize(records, dispatcher.registry)
    budget_out = budget_json(
        state.get("budget"), limit=limit, mode=budget_mode, preflight=estimate
    )
    outcome = run_outcome(state.get("tasks", []), state.get("results", {}), records)
    if args.json_:
        result = run_json(dispatcher, records, summary, state.get("answer", ""))
        print(
            json.dumps(
                {
                    **outcome.as_json(),
                    **result,
                    "thread": thread,
                    "workflow": workflow,
                    "budget": budget_out,
                }
            )
        )
        return outcome.exit_code
    if dispatcher.simulate:
        out.print(Panel(_SIM_NOTICE, style="yellow", title="simulated"))
    out.print(hop_table(records))
    out.print(totals(summary))
    out.print(budget_line(budget_out))
    out.print(f"thread [bold]{thread}[/] (continue it with --thread {thread})")
    if state.get("answer"):
        title = "answer (simulated)" if dispatcher.simulate else "answer"
        out.print(Panel(Text(state["answer"]), title=title))
    _report(outcome)
    return outcome.exit_code


def _report(outcome: Outcome) -> None:
    if outcome.exit_code:
        err.print(status_line(outcome))


async def _invoke(
    dispatcher: Dispatcher, args: RunArgs, tasks: list[Any], config: dict[str, Any]
) -> dict[str, Any]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: PLC0415

    from dispatch.graphs import build_orchestrator  # noqa: PLC0415

    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        graph = build_orchestrator(
            dispatcher, checkpointer=saver, synthesis_tier=args.synthesis_tier
        )
        state = await graph.ainvoke(
            {"request": args.request, "tasks": tasks}, config, durability="sync"
        )
    return dict(state)


def _refuse_start(
    args: RunArgs,
    dispatcher: Dispatcher,
    limit: Decimal,
    estimate: Estimate,
    hops: int,
) -> int:
    message = (
        f"refused to start: the worst case ${estimate.worst_case_cost_usd:.6f} exceeds the "
        f"hard budget ${limit:.6f} (expected ${estimate.expected_cost_usd:.6f}); "
        "--allow-partial starts anyway and refuses hops as money runs out"
    )
    if args.json_:
        outcome = refused_start(message)
        print(
            json.dumps(
                {
                    **outcome.as_json(),
                    "simulated": dispatcher.simulate,
                    "hops": [],
                    "total_cost_usd": 0.0,
                    "baseline_cost_usd": 0.0,
                    "refused": message,
                    "budget": budget_json(
                        None,
                        limit=limit,
                        mode="hard",
                        preflight=estimate,
                        refused_before_start=hops,
                    ),
                }
            )
        )
        return outcome.exit_code
    err.print(f"[bold red]budget:[/] {message}")
    return refused_start(message).exit_code
