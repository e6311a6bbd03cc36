"""``dispatch demo`` / ``dispatch run``: plan, pre-flight, run with checkpoints and
telemetry, and print the hops, totals and budget (``dispatch resume`` prints
its run the same way, through `report_run`; the reports live in
`dispatch.cli.run_report` and are re-exported here).

`dispatch.cli.app` imports this module only inside the command bodies, so
``dispatch --help`` never loads LangGraph or the engine. The order of a run
is fixed because each step guards the next: flags and config are checked
first (exit 2, nothing ran); a hard budget's pre-flight estimate may refuse
the start (exit 3, nothing spent); only then is the thread locked and the
graph run on SQLite checkpoints, so a crash or Ctrl-C (exit 130) leaves
every completed step for ``dispatch resume``. Exit codes are those of
`dispatch.cli.outcome`.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dispatch.budget import budget_settings
from dispatch.cli.outcome import start_refusal
from dispatch.cli.progress import HopPrinter, OnHop, StreamedGraph
from dispatch.cli.render import err, fail
from dispatch.cli.run_report import (
    busy_exit,
    interrupted_exit,
    refused_start_exit,
    report_run,
)
from dispatch.cli.spend_journal import is_journaled, journaled
from dispatch.cli.store import CheckpointStoreFailed, ThreadBusy
from dispatch.cli.support import Mode, checkpoint_store, dispatcher_from_env
from dispatch.cli.telemetry import telemetry_from_env
from dispatch.dispatcher import Dispatcher
from dispatch.errors import DispatchError

__all__ = (
    "RUN_KEY",
    "run_metadata",
    "RunArgs",
    "busy_exit",
    "interrupted_exit",
    "on_hop",
    "orchestrator",
    "report_run",
    "run_workflow",
    "spent_by",
)

RUN_KEY = "dispatch_"
"""Prefix of the checkpoint metadata keys that record the run's workflow id,
budget, synthesis tier and whether its spend is journaled (LangGraph keeps
only flat, scalar metadata)."""


def run_metadata(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` as checkpoint metadata: prefixed keys, None values left out."""
    return {RUN_KEY + k: v for k, v in settings.items() if v is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunArgs:
    """What `demo` and `run` were asked to do, already checked by the CLI.

    The budget stays a float and its mode a string until `budget_settings`
    makes them the ledger's `Decimal` limit and `BudgetMode`.
    """

    request: str
    """The user's request, as the orchestrator's first message."""
    tasks: list[Any] | None
    """A ``--plan`` list of sub-tasks; None lets the planner decompose."""
    json_: bool
    """Print one JSON object on stdout instead of tables."""
    mode: Mode
    """Simulated or live models (`dispatch.types.Mode`)."""
    config: str
    """Registry YAML path, or ``default`` for the shipped one."""
    budget: float | None
    """``--budget`` in USD; None: the config's budget (or no limit)."""
    budget_mode: str | None
    """``--budget-mode``; None: the config's mode."""
    thread: str | None
    """Conversation to continue (its pins apply); None starts a new one."""
    allow_partial: bool
    """Start a hard-budget run even when the expected cost does not fit."""
    strict: bool = False
    """Refuse a hard-budget start unless the worst case fits."""
    progress: bool | None = None
    """Print each hop on stderr as it completes; None: when stderr is a terminal."""
    synthesis_tier: str | None = None
    """Tier hint for the final synthesis hop; None lets the router decide."""


def on_hop(json_: bool, progress: bool | None) -> OnHop | None:
    """The progress printer of a run: never with ``--json``; by default only
    when stderr is a terminal (a pipe or CI log gets the final table alone)."""
    if json_:
        return None
    if progress is None:
        progress = sys.stderr.isatty()
    return HopPrinter(err) if progress else None


def run_workflow(args: RunArgs) -> int:
    """Run the orchestrator as asked, print (or ``--json``) the outcome and
    return the exit code (see `dispatch.cli.outcome`).

    A fresh workflow id is drawn per call, so a continued ``--thread`` keeps
    its pins but starts a new budget and reports only this run's hops. The
    workflow id, budget and synthesis tier are written into the checkpoint
    metadata of every step (`run_metadata`), which is how ``dispatch resume``
    rebuilds the same graph and budget later.

    The tasks are planned once, here, and the graph runs exactly them (the
    pre-flight estimate prices what will run): without ``--plan`` the request
    is split into one task per sentence, a long request merged into at most
    32 tasks, so any request runs; a ``--plan`` of more tasks than that is
    refused (exit 2), since merging would break its ids and
    dependencies (`dispatch.graphs.plan_tasks`).

    Returns:
        The exit code: 3 when the pre-flight refuses the start, 5 when the
        thread is busy, 130 on Ctrl-C, else the run's `Outcome` code.

    Raises:
        typer.Exit: code 2, through `fail`, on a `DispatchError` (bad
            flags, config or plan), and when the checkpoint store fails
            mid-run (the line says what the run had spent by then).
    """
    from dispatch.agents import default_specialists  # noqa: PLC0415
    from dispatch.graphs import plan_tasks  # noqa: PLC0415
    from dispatch.graphs.estimate import estimate_plan  # noqa: PLC0415

    thread = args.thread or uuid.uuid4().hex[:12]
    graph_state = _Started()  # Ctrl-C before it starts: nothing checkpointed
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
        refusal = (
            None
            if estimate is None or limit is None
            else start_refusal(
                limit,
                expected=estimate.expected_cost_usd,
                worst=estimate.worst_case_cost_usd,
                mode=budget_mode,
                strict=args.strict,
                allow_partial=args.allow_partial,
            )
        )
        if refusal is not None and estimate is not None and limit is not None:
            return refused_start_exit(
                dispatcher,
                limit,
                estimate,
                refusal,
                hops=len(tasks) + 1,
                json_=args.json_,
            )
        workflow = uuid.uuid4().hex[:12]
        configurable: dict[str, Any] = {"thread_id": thread, "workflow_id": workflow}
        configurable["budget_mode"] = budget_mode
        if limit is not None:
            configurable["budget_usd"] = str(limit)
        # Checkpointed with every step: `dispatch resume` rebuilds the same graph
        # and budget even when the run died before its first node finished.
        metadata = run_metadata(
            {
                "workflow_id": workflow,
                "budget_usd": configurable.get("budget_usd"),
                "budget_mode": budget_mode,
                "synthesis_tier": args.synthesis_tier,
                # resuming it then needs the journal's record of the workflow
                "spend_journal": is_journaled(limit, budget_mode, workflow) or None,
            }
        )
        with telemetry_from_env() as tracing:
            dispatcher.tracing = tracing
            with (
                tracing.workflow(
                    "orchestrator", conversation_id=thread, workflow_id=workflow
                ),
                journaled(dispatcher, checkpoint_store(), workflow, limit, budget_mode),
            ):
                state = asyncio.run(
                    _invoke(
                        dispatcher,
                        args,
                        tasks,
                        {"configurable": configurable, "metadata": metadata},
                        graph_state,
                    )
                )
    except ThreadBusy as exc:
        return busy_exit(exc, json_=args.json_)
    except CheckpointStoreFailed as exc:
        fail(exc.after_spending(spent_by(dispatcher, workflow)), json_=args.json_)
    except DispatchError as exc:
        fail(exc, json_=args.json_)
    except KeyboardInterrupt:
        return interrupted_exit(thread, json_=args.json_, started=graph_state.started)
    return report_run(
        dispatcher,
        state,
        thread=thread,
        workflow=workflow,
        limit=limit,
        mode=budget_mode,
        estimate=estimate,
        json_=args.json_,
    )


def spent_by(dispatcher: Dispatcher, workflow: str) -> Decimal:
    """What `workflow` has spent in this process (its ledger's settled spend,
    which a resumed run opens with the spend checkpointed before): 0 when no
    hop of it ran."""
    ledger = dispatcher.ledgers.get(workflow)
    return Decimal(0) if ledger is None else ledger.spent


@dataclass(slots=True)
class _Started:
    """Whether the run's graph was entered (its first checkpoint is written as
    it starts), so a Ctrl-C can say whether there is anything to resume."""

    started: bool = False


async def _invoke(
    dispatcher: Dispatcher,
    args: RunArgs,
    tasks: list[Any],
    config: dict[str, Any],
    graph_state: _Started,
) -> dict[str, Any]:
    """Run the graph on the CLI's checkpoint store, holding the thread's lock.

    The lock is taken before the saver opens so two processes never append
    to one thread's checkpoints (`ThreadBusy` otherwise). ``durability="sync"``
    saves each step before the next starts: what `dispatch resume` relies on.
    `graph_state` is marked started just before the graph runs.
    """
    from dispatch.cli.checkpoints import open_run_store  # noqa: PLC0415

    thread = config["configurable"]["thread_id"]
    async with open_run_store(checkpoint_store(), thread) as saver:
        graph = orchestrator(dispatcher, saver, args.synthesis_tier)
        streamed = StreamedGraph(graph, on_hop(args.json_, args.progress))
        run_config: Any = config
        graph_state.started = True
        return await streamed.ainvoke(
            {"request": args.request, "tasks": tasks}, run_config, durability="sync"
        )


def orchestrator(dispatcher: Dispatcher, saver: Any, synthesis_tier: str | None) -> Any:
    """The orchestrator graph the CLI runs (and resumes) on `saver`'s checkpoints.

    One builder for both commands: a resumed checkpoint only replays onto the
    graph shape that wrote it.
    """
    from dispatch.graphs import build_orchestrator  # noqa: PLC0415

    return build_orchestrator(
        dispatcher, checkpointer=saver, synthesis_tier=synthesis_tier
    )
