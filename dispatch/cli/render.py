"""CLI output: consoles, the error exit, the hop table and tree, totals, JSON objects."""

from __future__ import annotations

import json
import sys
import warnings
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from dispatch._redact import redact
from dispatch.cli.outcome import Outcome

if TYPE_CHECKING:
    from dispatch.budget import BudgetDict
    from dispatch.cli.support import RunSummary
    from dispatch.dispatcher import Dispatcher
    from dispatch.preflight import Estimate
    from dispatch.records import HopRecord
    from dispatch.registry import Registry

__all__ = (
    "budget_json",
    "budget_line",
    "err",
    "fail",
    "hop_table",
    "hop_tree",
    "metrics_table",
    "out",
    "registry_json",
    "registry_table",
    "run_json",
    "show_warning",
    "status_line",
    "totals",
    "unrecorded_line",
)

# Piped output gets a fixed width wide enough for the hop table (rich assumes 80).
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)  # one error, one line


def fail(exc: Exception, *, json_: bool = False) -> NoReturn:
    """Print `exc` as a one-line error and exit with status 2.

    With `json_` (any command's ``--json``) stdout also gets the JSON object a
    script parses, with ``"status": "error"``, so it never reads empty output.
    The text is `redact`-ed first: an error may quote a value it refused (a
    key pasted in the wrong field, a URL with a password), and neither the
    terminal nor a script's log should receive it.
    """
    reason = redact(str(exc))
    err.print(f"[bold red]error:[/] {escape(reason)}")
    if json_:
        print(json.dumps({"status": "error", "exit_code": 2, "reason": reason}))
    raise typer.Exit(code=2)


_OWN = Path(__file__).resolve().parents[1]
"""The dispatch package's folder: warnings raised in it are the user's to read."""


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """`warnings.showwarning` for the command line: a warning dispatch raises
    (an artefact over part of the registry, a cache folder it cannot write) is
    one ``warning:`` line on stderr, redacted, not Python's two-line form with
    the source line that raised it. A library's warning keeps the usual form,
    its origin being the useful part."""
    if not Path(filename).resolve().is_relative_to(_OWN):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(text)
        return
    err.print(f"[bold yellow]warning:[/] {escape(redact(str(message)))}")


def run_json(
    dispatcher: Dispatcher, records: list[HopRecord], summary: RunSummary, answer: str
) -> dict[str, Any]:
    return {
        "simulated": dispatcher.simulate,
        "hops": [
            {
                "step": r.step,
                "specialist": r.specialist,
                "capability": r.capability,
                "tier": r.tier,
                "model": r.model,
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "cost_usd": float(r.cost_usd),
                "pinned": r.pinned,
                "repinned_from": r.repinned_from,
                "router": r.router,
                "confidence": r.confidence,
                "reason": r.reason,
                "estimated": r.estimated,
                "round": r.round,
                "after_tool": r.after_tool,
                "error": r.error,
                "refused": r.refused,
                "fallback_from": r.fallback_from,
            }
            for r in records
        ],
        "total_cost_usd": float(summary.total_cost_usd),
        "baseline_cost_usd": float(summary.baseline_cost_usd),
        "baseline_model": summary.baseline_model,
        "saving_usd": float(summary.saving_usd),
        "answer": answer,
    }


def budget_json(
    budget: BudgetDict | None,
    *,
    limit: Any,
    mode: str,
    preflight: Estimate | None = None,
    refused_before_start: int = 0,
    unrecorded: Decimal = Decimal(0),
) -> dict[str, Any]:
    """The ``budget`` object of ``--json`` output.

    ``exceeded`` means what it says: settled spend above the limit (soft and
    warn budgets can end there). A hard budget that refused hops is *not*
    exceeded: ``refused`` counts the hops it refused (all of them when the
    pre-flight refused the start), and spend stays within the limit.
    `unrecorded` is spend the checkpoint lost (a node killed between paid
    calls, found in the spend journal on resume): counted, and shown as
    ``unrecorded_usd``.
    """
    spent = Decimal(budget["spent_usd"]) if budget else Decimal(0)
    spent += unrecorded
    refused = (budget["refused"] if budget else 0) + refused_before_start
    out: dict[str, Any] = {
        "limit_usd": None if limit is None else float(limit),
        "mode": mode,
        "spent_usd": float(spent),
        "reserved_usd": 0.0,
        "exceeded": limit is not None and spent > Decimal(limit),
        "refused": refused,
    }
    if unrecorded:
        out["unrecorded_usd"] = float(unrecorded)
    if preflight is not None:
        out["preflight"] = {
            "expected_cost_usd": float(preflight.expected_cost_usd),
            "worst_case_cost_usd": float(preflight.worst_case_cost_usd),
            "refused_start": refused_before_start > 0,
        }
    return out


def hop_table(records: list[HopRecord]) -> Table:
    table = Table(title="hops", title_justify="left")
    for name, justify in [
        ("step", "left"),
        ("specialist", "left"),
        ("capability", "left"),
        ("tier", "left"),
        ("model", "left"),
        ("in", "right"),
        ("out", "right"),
        ("cost USD", "right"),
        ("pinned", "center"),
    ]:
        table.add_column(name, justify=justify, no_wrap=name in ("model", "step"))  # type: ignore[arg-type]
    for r in records:
        pinned = "yes" if r.pinned else ("re-pin" if r.repinned_from else "new")
        if r.refused:
            pinned = "-"  # a refused hop ran on no model: no pin was kept or moved
            model = f"[red]{r.model} (refused: budget)[/]"
        elif r.error is not None:
            model = f"[red]{r.model} (failed)[/]"
        else:
            model = r.model
        table.add_row(
            f"{r.step} +tool{r.round}" if r.round else r.step,
            r.specialist,
            r.capability,
            r.tier,
            model,
            f"{r.input_tokens:,}{'~' if r.estimated else ''}",
            f"{r.output_tokens:,}",
            f"{r.cost_usd:.6f}",
            pinned,
        )
    return table


def totals(s: RunSummary) -> str:
    return (
        f"[bold]{s.hops} hops[/] over tiers {', '.join(s.tiers)} and capabilities "
        f"{', '.join(s.capabilities)}\n"
        f"total cost      [bold]${s.total_cost_usd:.6f}[/]\n"
        f"baseline cost   ${s.baseline_cost_usd:.6f}  (every hop on {s.baseline_model})\n"
        f"saving          [bold green]${s.saving_usd:.6f} ({s.saving_ratio:.0%})[/]"
        + (f"\n[red]{s.failed} hop(s) failed[/]" if s.failed else "")
        + (f"\n[red]{s.refused} hop(s) refused by the budget[/]" if s.refused else "")
    )


def hop_tree(thread: str, records: list[HopRecord]) -> Tree:
    """Workflow -> step -> hops, each with tier, model, tokens, cost and reason."""
    root = Tree(f"[bold]thread {thread}[/]")
    runs: dict[str, Tree] = {}
    steps: dict[tuple[str, str], Tree] = {}
    for r in records:
        run = runs.get(r.workflow) or runs.setdefault(
            r.workflow, root.add(f"workflow {r.workflow or '-'}")
        )
        key = (r.workflow, r.step)
        step = steps.get(key) or steps.setdefault(
            key, run.add(f"{key[1]} ({r.specialist})")
        )
        status = (
            "refused" if r.refused else ("failed" if r.error else f"${r.cost_usd:.6f}")
        )
        step.add(
            f"{r.capability}/{r.tier} [cyan]{r.model}[/] {r.input_tokens}+{r.output_tokens} tok "
            f"{status}{' pinned' if r.pinned else ''} [dim]{r.reason}[/]"
        )
    return root


def metrics_table(m: dict[str, Any]) -> Table:
    """The routing metrics users track, as one table."""
    table = Table(title="routing metrics", title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    cost_per = m["cost_per_successful_hop_usd"]
    rows = [
        (
            "hops called (successful) / refused",
            f"{m['hops']} ({m['successful_hops']}) / {m['refused_hops']}",
        ),
        ("total cost", f"${m['total_cost_usd']:.6f}"),
        ("baseline (always largest)", f"${m['baseline_cost_usd']:.6f}"),
        ("saving", f"${m['saving_usd']:.6f} ({m['saving_ratio']:.0%})"),
        ("cost per successful hop", "-" if cost_per is None else f"${cost_per:.6f}"),
        (
            "escalation / fallback / failure rate",
            f"{m['escalation_rate']:.0%} / {m['fallback_rate']:.0%} / {m['failure_rate']:.0%}",
        ),
    ]
    for kind in ("by_tier", "by_model"):
        for name, v in m[kind].items():
            rows.append(
                (
                    f"{kind[3:]} {name}",
                    f"{v['hop_share']:.0%} of hops, {v['cost_share']:.0%} of cost",
                )
            )
    for route, v in m["latency_ms"].items():
        rows.append(
            (
                f"latency {route}",
                f"p50 {v['p50']:.1f} ms, p95 {v['p95']:.1f} ms (n={v['n']})",
            )
        )
    for row in rows:
        table.add_row(*row)
    return table


def circuits_table(circuits: dict[str, dict[str, Any]]) -> Table:
    """Each model's circuit breaker as the run last saw it (`routing_report`)."""
    table = Table(title="circuits", title_justify="left")
    for name in (
        "model",
        "state",
        "faults/calls",
        "opened at",
        "next probe",
        "last error",
    ):
        table.add_column(name, justify="right" if name == "faults/calls" else "left")
    colour = {"open": "red", "half_open": "yellow", "closed": "green"}
    for model, c in circuits.items():
        calls = c.get("calls")
        table.add_row(
            escape(model),
            f"[{colour.get(c['state'], 'white')}]{c['state']}[/]",
            f"{c['failures']}" + (f"/{calls}" if calls is not None else ""),
            c.get("opened_at") or "-",
            c.get("probe_at") or "-",
            escape(c.get("last_error") or "-"),
        )
    return table


def status_line(outcome: Outcome) -> str:
    """The last line of a run that did not fully succeed (stderr)."""
    return (
        f"[bold red]{outcome.status}[/] (exit {int(outcome.exit_code)}): "
        f"{escape(outcome.reason)}"
    )


def budget_line(b: dict[str, Any]) -> str:
    """The budget summary line: spend against the limit, and what the budget did."""
    if b["limit_usd"] is None:
        return f"budget          none set; spent ${b['spent_usd']:.6f}"
    states = []
    if b["exceeded"]:
        states.append("[red]exceeded[/]")
    if b["refused"]:
        states.append(f"[yellow]refused {b['refused']} hop(s)[/]")
    state = ", ".join(states) or "[green]within[/]"
    return (
        f"budget          ${b['spent_usd']:.6f} of ${b['limit_usd']:.6f} ({b['mode']}), "
        f"{state}"
    )


def unrecorded_line(unrecorded: Decimal) -> str:
    """``dispatch report``'s line for spend the spend journal holds beyond
    the checkpoint (calls of nodes that never finished)."""
    return (
        f"journal: ${unrecorded:.6f} more than the checkpoint records, spent by "
        "calls whose node did not finish (a resume of the run counts it in "
        "its budget)"
    )


def registry_json(registry: Registry) -> list[dict[str, Any]]:
    """The ``dispatch models --json`` list."""
    return [
        {
            "id": m.id,
            "tier": m.tier,
            "input_per_mtok": float(m.input_per_mtok),
            "output_per_mtok": float(m.output_per_mtok),
            "context_window": m.context_window,
            "max_output_tokens": m.max_output_tokens,
            "local": m.local,
            "quality": m.quality,
            "price_source": m.price_source,
        }
        for m in registry
    ]


def registry_table(registry: Registry, *, title: str) -> Table:
    """The ``dispatch models`` table: cheapest tier first, then by output price."""
    table = Table(title=title, title_justify="left")
    for col in [
        "model",
        "tier",
        "$/M in",
        "$/M out",
        "context",
        "max out",
        "where",
        *registry.capabilities,
        "price from",
    ]:
        table.add_column(
            col,
            justify="left" if col in ("model", "tier", "where") else "right",
            no_wrap=True,
        )
    for m in sorted(
        registry, key=lambda m: (registry.tier_rank(m.tier), m.output_per_mtok)
    ):
        table.add_row(
            m.id,
            m.tier,
            f"{m.input_per_mtok:g}",
            f"{m.output_per_mtok:g}",
            _compact(m.context_window),
            _compact(m.max_output_tokens),
            "local" if m.local else "remote",
            *[
                f"{m.quality[c]:.2f}" if c in m.quality else "-"
                for c in registry.capabilities
            ],
            m.price_source,
        )
    return table


def _compact(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1000:.0f}k" if n >= 1000 else str(n)
