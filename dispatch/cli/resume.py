"""``dispatch resume THREAD``: finish a run that was interrupted (``kill -9``, a
crash, a closed laptop) from its last checkpoint.

Runs are checkpointed with ``durability="sync"``, so every completed task (and
the money it cost) is in the checkpoint before the next step starts.
`dispatch.langgraph.aresume` continues the same workflow on a ledger opened
from the spend already settled, so finished tasks are not run again and the
budget's limit still holds across the interruption. The workflow id, budget
limit and mode and the synthesis tier come from the run's checkpoint metadata
(``dispatch_*`` keys), else from the checkpointed ``budget`` channel.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from dispatch.cli.outcome import ExitCode
from dispatch.cli.render import err, fail
from dispatch.cli.run import (
    RUN_KEY,
    busy_exit,
    interrupted_exit,
    on_hop,
    orchestrator,
    report_run,
    run_metadata,
    spent_by,
)
from dispatch.cli.spend_journal import is_journaled, journaled
from dispatch.cli.store import CheckpointStoreFailed, ThreadBusy
from dispatch.cli.support import Mode, checkpoint_store, dispatcher_from_env
from dispatch.cli.telemetry import telemetry_from_env
from dispatch.dispatcher import Dispatcher
from dispatch.errors import DispatchError
from dispatch.langgraph.context import budget_limits
from dispatch.langgraph.resume import checkpointed_spend

__all__ = ("resume_thread",)


def resume_thread(
    thread: str,
    *,
    json_: bool,
    mode: Mode,
    config: str,
    progress: bool | None = None,
) -> int:
    """Resume `thread`'s interrupted run, print it like ``dispatch run`` and
    return the exit code (0 with a notice when there is nothing to resume).

    The dispatcher is rebuilt from `config` and `mode` as given now, not as
    the run started: checkpoints hold the run's state and budget, not its
    credentials. A finished thread is not an error (status ``ok``,
    ``"resumed": false``), so a script can call resume unconditionally after
    a crash.

    Args:
        thread: the conversation id the run was started with (``--thread``).
        json_: print one JSON object (``"resumed": true``) instead of tables.
        mode: simulated or live models for the remaining hops.
        config: registry YAML path, or ``default``.
        progress: print hops on stderr as they complete; None: if a terminal.

    Returns:
        The run's exit code (`dispatch.cli.outcome`), 5 when another process
        holds the thread, 130 on Ctrl-C.

    Raises:
        typer.Exit: code 2, via `fail`, when there is no checkpoint store, no
            such thread, or the config is bad.
    """
    path = checkpoint_store()
    try:
        if isinstance(path, Path) and (not path.exists() or path.stat().st_size == 0):
            raise DispatchError(
                f"no runs yet (no checkpoints at {path}); nothing to resume"
            )
        dispatcher = dispatcher_from_env(config, mode)
        with telemetry_from_env() as tracing:
            dispatcher.tracing = tracing
            resumed = asyncio.run(_resume(dispatcher, thread, json_, progress))
    except ThreadBusy as exc:
        return busy_exit(exc, json_=json_)
    except DispatchError as exc:
        fail(exc, json_=json_)
    except KeyboardInterrupt:
        return interrupted_exit(thread, json_=json_)
    if resumed is None:
        return _nothing_to_resume(thread, json_)
    state, run = resumed
    limit = run.get("budget_usd")
    return report_run(
        dispatcher,
        state,
        thread=thread,
        workflow=str(run.get("workflow_id", "")),
        limit=None if limit is None else Decimal(limit),
        mode=str(run.get("budget_mode") or dispatcher.budget.mode),
        estimate=None,
        json_=json_,
        extra={"resumed": True},
        unrecorded=run["unrecorded"],
    )


async def _resume(
    dispatcher: Dispatcher, thread: str, json_: bool, progress: bool | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The final state and settings of the resumed run; None: nothing to resume.

    The thread's lock is held from the first read of its checkpoint to the
    end of the run, so a concurrent ``run --thread`` cannot fork the state
    between the check and the resume. "Nothing to resume" is decided by
    LangGraph: a snapshot with no ``next`` node has finished.

    Raises:
        DispatchError: `thread` has no checkpoint in the store.
        ThreadBusy: another process holds the thread's lock.
        CheckpointStoreFailed: the store failed mid-run (saying what the
            workflow had spent by then).
    """
    from dispatch.cli.checkpoints import open_run_store  # noqa: PLC0415
    from dispatch.cli.progress import StreamedGraph  # noqa: PLC0415
    from dispatch.langgraph import aresume  # noqa: PLC0415

    path = checkpoint_store()
    where = path if isinstance(path, Path) else "the Postgres checkpoint store"
    async with open_run_store(path, thread, create=False) as saver:
        probe: Any = {"configurable": {"thread_id": thread}}
        saved = await saver.aget_tuple(probe)
        if saved is None:
            raise DispatchError(f"no conversation {thread!r} in {where}")
        run = _run_settings(saved.metadata, saved.checkpoint["channel_values"])
        graph = orchestrator(dispatcher, saver, run["synthesis_tier"])
        snapshot = await graph.aget_state(probe)
        if not snapshot.next:
            return None
        configurable = {"thread_id": thread}
        for key in ("workflow_id", "budget_usd", "budget_mode"):
            if run[key] is not None:
                configurable[key] = run[key]
        workflow = str(run.get("workflow_id") or "")
        limit, mode = budget_limits({"configurable": configurable}, dispatcher.budget)
        recorded = bool(run["spend_journal"])
        # journaled from here on, whether or not the run was before
        run["spend_journal"] = is_journaled(limit, mode, workflow) or None
        run_config: Any = {
            "configurable": configurable,
            "metadata": run_metadata(run),
        }
        streamed = StreamedGraph(graph, on_hop(json_, progress))
        with (
            dispatcher.tracing.workflow(
                "orchestrator", conversation_id=thread, workflow_id=workflow
            ),
            journaled(
                dispatcher, path, workflow, limit, mode, recorded=recorded
            ) as before,
        ):
            # Spend the checkpoint lost (a node killed between paid calls) is
            # in the journal: the ledger opens from the larger of the two.
            checkpointed = checkpointed_spend(snapshot.values, workflow)
            unrecorded = max(Decimal(0), before - checkpointed)
            if unrecorded:
                dispatcher.ledgers.open(workflow, limit, mode, spent=before)
            try:
                state = await aresume(dispatcher, streamed, run_config)
            except CheckpointStoreFailed as exc:
                raise exc.after_spending(spent_by(dispatcher, workflow)) from None
    run["unrecorded"] = unrecorded
    return dict(state), run


def _run_settings(metadata: Any, values: Any) -> dict[str, Any]:
    """The interrupted run's workflow id, budget, synthesis tier and whether
    its spend was journaled: as the CLI recorded them in the checkpoint
    metadata, else from the ``budget`` channel (a run started by an older
    version)."""
    keys = ("workflow_id", "budget_usd", "budget_mode", "synthesis_tier")
    recorded = {k: (metadata or {}).get(RUN_KEY + k) for k in (*keys, "spend_journal")}
    if recorded["workflow_id"]:
        return recorded
    budget = (values or {}).get("budget") or {}
    return {
        "workflow_id": budget.get("workflow"),
        "budget_usd": budget.get("limit_usd"),
        "budget_mode": budget.get("mode"),
        "synthesis_tier": None,
        "spend_journal": None,
    }


def _nothing_to_resume(thread: str, json_: bool) -> int:
    """Say the thread is finished (stderr, or the ``--json`` object); exit 0."""
    message = f"thread {thread!r} has nothing to resume: its last run finished"
    if json_:
        print(
            json.dumps(
                {
                    "status": "ok",
                    "exit_code": int(ExitCode.OK),
                    "reason": message,
                    "thread": thread,
                    "resumed": False,
                }
            )
        )
    else:
        err.print(message, markup=False, highlight=False)
    return int(ExitCode.OK)
