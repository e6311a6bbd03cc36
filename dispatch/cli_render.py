"""Rendering of a run for the CLI: the hop table, totals, and the JSON object."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from dispatch.budget import BudgetDict
from dispatch.cli_support import RunSummary
from dispatch.node import Dispatcher
from dispatch.preflight import Estimate
from dispatch.types import HopRecord

__all__ = ("budget_json", "hop_table", "run_json", "totals")


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
) -> dict[str, Any]:
    """The ``budget`` object of ``--json`` output."""
    spent = float(budget["spent_usd"]) if budget else 0.0
    out: dict[str, Any] = {
        "limit_usd": None if limit is None else float(limit),
        "mode": mode,
        "spent_usd": spent,
        "reserved_usd": 0.0,
        "exceeded": bool(budget and budget["exceeded"]) or refused_before_start > 0,
        "refused_hops": (budget["refused"] if budget else 0) + refused_before_start,
    }
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
            model = f"[red]{r.model} (refused: budget)[/]"
        elif r.error is not None:
            model = f"[red]{r.model} (failed)[/]"
        else:
            model = r.model
        table.add_row(
            r.step,
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
