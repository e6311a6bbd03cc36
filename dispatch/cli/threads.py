"""``dispatch pins`` and ``dispatch report``: a conversation read back from the
checkpoint store, without running anything.

Both read the thread's latest checkpointed state (`dispatch.cli.history`), so
they work on any run the CLI made, finished, failed or interrupted.

The checkpoint holds the spend of the nodes that finished. For a run whose
spend was journaled (`dispatch.cli.spend_journal`), ``report`` also reads the
journal, read-only, and shows what it holds beyond the checkpoint's hop
records (``unrecorded_usd``): calls of a node that never finished, paid before
a kill or in flight at it (counted at their worst case). ``dispatch resume``
counts the same amount against the run's budget.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from dispatch.cli.options import JsonOpt

if TYPE_CHECKING:
    from dispatch.records import HopRecord

__all__ = ("pins", "report")


def _fail(exc: Exception, *, json_: bool) -> NoReturn:
    from dispatch.cli.render import fail  # noqa: PLC0415

    fail(exc, json_=json_)


def pins(
    thread: Annotated[str, typer.Argument(help="The conversation (thread id).")],
    json_: JsonOpt = False,
) -> None:
    """Show a conversation's pins: which model each specialist is pinned to."""
    from rich.table import Table  # noqa: PLC0415

    from dispatch.cli.history import saved_state  # noqa: PLC0415
    from dispatch.cli.inputs import check_thread  # noqa: PLC0415
    from dispatch.cli.render import out  # noqa: PLC0415
    from dispatch.errors import DispatchError  # noqa: PLC0415

    try:
        thread, values = saved_state(check_thread(thread))
    except DispatchError as exc:
        _fail(exc, json_=json_)
    current = values.get("pins", {})
    if json_:
        print(json.dumps({"thread": thread, "pins": current}))
        return
    table = Table(title=f"pins of thread {thread}", title_justify="left")
    for col in ("specialist", "model", "tier", "re-pinned from", "why"):
        table.add_column(col)
    for name, pin in sorted(current.items()):
        table.add_row(
            name, pin["model"], pin["tier"], pin["repinned_from"] or "-", pin["reason"]
        )
    out.print(table)


def report(
    thread: Annotated[
        str | None, typer.Argument(help="Thread to report on (default: the latest).")
    ] = None,
    workflow: Annotated[
        str, typer.Option(help="'last' run on the thread, 'all', or a workflow id.")
    ] = "last",
    json_: JsonOpt = False,
) -> None:
    """A run's hops as a tree, and the routing metrics (from the checkpointed state)."""
    from dispatch.cli.history import run_journaling, saved_state  # noqa: PLC0415
    from dispatch.cli.inputs import check_thread  # noqa: PLC0415
    from dispatch.cli.render import (  # noqa: PLC0415
        circuits_table,
        hop_tree,
        metrics_table,
        out,
        unrecorded_line,
    )
    from dispatch.errors import DispatchError  # noqa: PLC0415
    from dispatch.langgraph.state import hop_records  # noqa: PLC0415
    from dispatch.report import routing_report  # noqa: PLC0415

    try:
        thread, values = saved_state(check_thread(thread))
        journaled = run_journaling(thread)
    except DispatchError as exc:
        _fail(exc, json_=json_)
    all_records = hop_records(values)
    runs = _runs([r.workflow for r in all_records], journaled)
    chosen = runs[-1:] if workflow == "last" else runs
    if workflow not in ("all", "last"):
        if workflow not in runs:
            _fail(
                DispatchError(
                    f"no workflow {workflow!r} on thread {thread!r}; runs: {runs}"
                ),
                json_=json_,
            )
        chosen = [workflow]
    records = [r for r in all_records if workflow == "all" or r.workflow in chosen]
    try:
        unrecorded = _unrecorded(
            {wf: _spent(all_records, wf) for wf in chosen if journaled.get(wf)}
        )
    except DispatchError as exc:
        _fail(exc, json_=json_)
    total = sum((u["unrecorded_usd"] for u in unrecorded.values()), Decimal(0))
    metrics = routing_report(records)
    if json_:
        extra: dict[str, Any] = {}
        if unrecorded:
            extra["unrecorded_usd"] = float(total)
            extra["journal"] = {
                wf: {k: float(v) for k, v in u.items()} for wf, u in unrecorded.items()
            }
        print(json.dumps({"thread": thread, "workflows": runs, **metrics, **extra}))
        return
    out.print(hop_tree(thread, records))
    out.print(metrics_table(metrics))
    if metrics["circuits"]:
        out.print(circuits_table(metrics["circuits"]))
    if unrecorded:
        out.print(unrecorded_line(total))


def _runs(recorded: list[str], journaled: dict[str, bool]) -> list[str]:
    """The workflows run on a thread, in order: those with hop records, and
    the journaled ones without any (a run killed before a node finished).

    `recorded` is the records' workflows in state order; `journaled` the
    CLI's runs in the order they started (`run_journaling`), which places a
    run without records among the others.
    """
    runs = list(dict.fromkeys(recorded))
    started = list(journaled)
    for i, wf in enumerate(started):
        if journaled[wf] and wf not in runs:
            later = set(started[i + 1 :])
            at = next((j for j, r in enumerate(runs) if r in later), len(runs))
            runs.insert(at, wf)
    return runs


def _spent(records: list[HopRecord], workflow: str) -> Decimal:
    """What `workflow`'s hop records in the checkpoint cost."""
    return sum((r.cost_usd for r in records if r.workflow == workflow), Decimal(0))


def _unrecorded(checkpointed: dict[str, Decimal]) -> dict[str, dict[str, Decimal]]:
    """For each journaled workflow whose spend journal holds more than its
    `checkpointed` spend (calls of a node that never finished: paid, or in
    flight at a kill and counted at their worst case): the journal's total,
    the checkpoint's, and the difference (``unrecorded_usd``).

    Read-only (`journal_totals`). A workflow the journal has no record of
    (removed or replaced) is one ``warning:`` line on stderr, not a failure.

    Raises:
        DispatchError: the journal cannot be read.
    """
    from rich.markup import escape  # noqa: PLC0415

    from dispatch.cli.render import err  # noqa: PLC0415
    from dispatch.cli.spend_journal import journal_target, journal_totals  # noqa: PLC0415
    from dispatch.cli.support import checkpoint_store  # noqa: PLC0415

    store = checkpoint_store()
    found: dict[str, dict[str, Decimal]] = {}
    missing = []
    for wf, recorded in checkpointed.items():
        totals = journal_totals(store, wf)
        if totals is None:
            missing.append(wf)
            continue
        journal = totals.spent_usd + totals.reserved_usd
        if journal > recorded:
            found[wf] = {
                "journal_usd": journal,
                "checkpoint_usd": recorded,
                "unrecorded_usd": journal - recorded,
            }
    if missing:
        target = journal_target(store)
        where = target if isinstance(target, Path) else "in the Postgres database"
        message = (
            f"the spend journal {where} has no record of workflow "
            f"{', '.join(missing)} (removed or replaced since the run?): what "
            "calls of its unfinished nodes spent is not shown"
        )
        err.print(f"[bold yellow]warning:[/] {escape(message)}")
    return found
