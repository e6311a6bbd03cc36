"""How a CLI run ends on the terminal: the hops, totals, budget and answer of
a finished run (or its ``--json`` object), and the one-line reports of a
run that did not start or did not finish (busy thread, Ctrl-C, a start the
hard budget refused).

`dispatch.cli.run` and `dispatch.cli.resume` both report through here, so a
resumed run prints exactly as a fresh one. Each function returns the exit
code it reported (`dispatch.cli.outcome`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from dispatch.cli.outcome import (
    Outcome,
    busy,
    interrupted,
    refused_start,
    run_outcome,
)
from dispatch.cli.render import (
    budget_json,
    budget_line,
    err,
    hop_table,
    out,
    run_json,
    status_line,
    totals,
)
from dispatch.cli.store import ThreadBusy
from dispatch.cli.support import summarize
from dispatch.dispatcher import Dispatcher
from dispatch.langgraph.state import hop_records
from dispatch.preflight import Estimate

__all__ = ("busy_exit", "interrupted_exit", "refused_start_exit", "report_run")

_SIM_NOTICE = (
    "SIMULATED RUN: no API key found, so responses come from the offline simulator "
    "(sim: stand-ins). Token counts are derived from the prompts and each task's "
    "declared output length; costs use the real models' list prices. Tools ran for real."
)


def report_run(
    dispatcher: Dispatcher,
    state: dict[str, Any],
    *,
    thread: str,
    workflow: str,
    limit: Decimal | None,
    mode: str,
    estimate: Estimate | None,
    json_: bool,
    extra: dict[str, Any] | None = None,
    unrecorded: Decimal = Decimal(0),
) -> int:
    """Print workflow `workflow`'s hops, totals, budget and answer from the final
    `state` (or the ``--json`` object) and return the exit code.

    Hops are filtered by `workflow` because a thread's state accumulates the
    records of every run on it; the report (and the exit code) must describe
    this run only.

    Args:
        dispatcher: supplies the registry (for the baseline cost) and whether
            the run was simulated.
        state: the graph's final state values.
        thread: the conversation id, printed so the user can continue it.
        estimate: the pre-flight estimate, shown next to the spend.
        extra: more keys for the JSON object (``resume`` adds its own).
        unrecorded: spend the checkpoint lost before a resume (see
            `dispatch.cli.spend_journal`), added to the budget's spend.
    """
    records = [r for r in hop_records(state) if r.workflow == workflow]
    summary = summarize(records, dispatcher.registry)
    budget_out = budget_json(
        state.get("budget"),
        limit=limit,
        mode=mode,
        preflight=estimate,
        unrecorded=unrecorded,
    )
    outcome = run_outcome(state.get("tasks", []), state.get("results", {}), records)
    if json_:
        result = run_json(dispatcher, records, summary, state.get("answer", ""))
        print(
            json.dumps(
                {
                    **outcome.as_json(),
                    **result,
                    "thread": thread,
                    "workflow": workflow,
                    "budget": budget_out,
                    **(extra or {}),
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


def busy_exit(exc: ThreadBusy, *, json_: bool) -> int:
    """Report a thread another process is running; nothing ran."""
    outcome = busy(str(exc))
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
    if json_:
        print(json.dumps({**outcome.as_json(), "thread": exc.thread}))
    return outcome.exit_code


def interrupted_exit(thread: str, *, json_: bool, started: bool = True) -> int:
    """Report a run stopped by Ctrl-C: its completed steps are checkpointed, so
    the user is told how to finish it (or, `started` false, that nothing was
    saved: the graph had not started)."""
    outcome = interrupted(thread, started=started)
    err.print(f"[bold red]interrupted:[/] {escape(outcome.reason)}")
    if json_:
        print(json.dumps({**outcome.as_json(), "thread": thread}))
    return outcome.exit_code


def _report(outcome: Outcome) -> None:
    """Put a failing status on stderr, where it survives ``> answer.txt``."""
    if outcome.exit_code:
        err.print(status_line(outcome))


def refused_start_exit(
    dispatcher: Dispatcher,
    limit: Decimal,
    estimate: Estimate,
    message: str,
    hops: int,
    *,
    json_: bool,
) -> int:
    """Report a start the hard budget refused: nothing ran, nothing was spent.

    The JSON keeps the shape of a finished run (empty hops, zero cost) so
    scripts read one schema whatever happened; `hops` is how many hops the
    refusal spared (tasks plus the synthesis).
    """
    outcome = refused_start(message)
    if json_:
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
    return outcome.exit_code
