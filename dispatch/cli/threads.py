"""``dispatch pins`` and ``dispatch report``: a conversation read back from the
checkpoint store, without running anything.

Both read the thread's latest checkpointed state (`dispatch.cli.history`), so
they work on any run the CLI made, finished, failed or interrupted.
"""

from __future__ import annotations

import json
from typing import Annotated, NoReturn

import typer

from dispatch.cli.options import JsonOpt

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
    from dispatch.cli.history import saved_state  # noqa: PLC0415
    from dispatch.cli.inputs import check_thread  # noqa: PLC0415
    from dispatch.cli.render import (  # noqa: PLC0415
        circuits_table,
        hop_tree,
        metrics_table,
        out,
    )
    from dispatch.errors import DispatchError  # noqa: PLC0415
    from dispatch.langgraph.state import hop_records  # noqa: PLC0415
    from dispatch.report import routing_report  # noqa: PLC0415

    try:
        thread, values = saved_state(check_thread(thread))
    except DispatchError as exc:
        _fail(exc, json_=json_)
    records = hop_records(values)
    runs = list(dict.fromkeys(r.workflow for r in records))
    if workflow == "last" and runs:
        records = [r for r in records if r.workflow == runs[-1]]
    elif workflow not in ("all", "last"):
        records = [r for r in records if r.workflow == workflow]
        if not records:
            _fail(
                DispatchError(
                    f"no workflow {workflow!r} on thread {thread!r}; runs: {runs}"
                ),
                json_=json_,
            )
    metrics = routing_report(records)
    if json_:
        print(json.dumps({"thread": thread, "workflows": runs, **metrics}))
        return
    out.print(hop_tree(thread, records))
    out.print(metrics_table(metrics))
    if metrics["circuits"]:
        out.print(circuits_table(metrics["circuits"]))
