"""The ``dispatch`` command: demo, run, route, models."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from dispatch.cli_support import Mode, RunSummary, dispatcher_from_env, summarize
from dispatch.config import DEFAULT_CONFIG
from dispatch.errors import DispatchError
from dispatch.node import Dispatcher
from dispatch.registry import Registry
from dispatch.state import hop_records
from dispatch.types import Hop, HopRecord

app = typer.Typer(
    help="graph-dispatch: route every hop of a LangGraph workflow to the cheapest "
    "good-enough model.",
    no_args_is_help=True,
    add_completion=False,
)
# Piped output gets a fixed width wide enough for the hop table (rich assumes 80).
_out = Console(width=None if sys.stdout.isatty() else 160)
_err = Console(stderr=True)

ConfigOpt = Annotated[
    str,
    typer.Option(
        "--config", "-c", help="Registry YAML file ('default': the shipped one)."
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of tables.")
]
ModeOpt = Annotated[
    Mode,
    typer.Option(
        help="auto: real models when credentials are set, else the simulator."
    ),
]

_SIM_NOTICE = (
    "SIMULATED RUN: no API key found, so responses come from the offline simulator "
    "(sim: stand-ins). Token counts are derived from the prompts and each task's "
    "declared output length; costs use the real models' list prices. Tools ran for real."
)


def _fail(exc: Exception) -> None:
    _err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@app.command()
def demo(
    json_: JsonOpt = False,
    mode: ModeOpt = Mode.AUTO,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Run the orchestrator on the built-in multi-part request (offline without keys)."""
    from dispatch.graphs import (  # noqa: PLC0415
        DEMO_PLAN,
        DEMO_REQUEST,
        DEMO_SYNTHESIS_TIER,
    )

    _run(
        DEMO_REQUEST,
        list(DEMO_PLAN),
        json_=json_,
        mode=mode,
        config=config,
        synthesis_tier=DEMO_SYNTHESIS_TIER,
    )


@app.command()
def run(
    request: Annotated[str, typer.Argument(help="What the workflow should do.")],
    plan: Annotated[
        Path | None,
        typer.Option(help="JSON file with a list of tasks (else decomposed)."),
    ] = None,
    json_: JsonOpt = False,
    mode: ModeOpt = Mode.AUTO,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Run the orchestrator on REQUEST (one sub-task per sentence unless --plan)."""
    tasks: list[Any] | None = None
    if plan is not None:
        try:
            tasks = json.loads(plan.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            _fail(DispatchError(f"{plan}: cannot read plan: {exc}"))
        if not isinstance(tasks, list):
            _fail(DispatchError(f"{plan}: a plan is a JSON list of tasks"))
    _run(request, tasks, json_=json_, mode=mode, config=config)


def _run(
    request: str,
    tasks: list[Any] | None,
    *,
    json_: bool,
    mode: Mode,
    config: str,
    synthesis_tier: str | None = None,
) -> None:
    from dispatch.graphs import build_orchestrator  # noqa: PLC0415

    try:
        dispatcher = dispatcher_from_env(config, mode)
        graph = build_orchestrator(dispatcher, synthesis_tier=synthesis_tier)
        state = asyncio.run(graph.ainvoke({"request": request, "tasks": tasks or []}))
    except DispatchError as exc:
        _fail(exc)
    records = hop_records(state)
    summary = summarize(records, dispatcher.registry)
    if json_:
        print(
            json.dumps(_run_json(dispatcher, records, summary, state.get("answer", "")))
        )
        return
    if dispatcher.simulate:
        _out.print(Panel(_SIM_NOTICE, style="yellow", title="simulated"))
    _out.print(_hop_table(records))
    _out.print(_totals(summary))
    if state.get("answer"):
        title = "answer (simulated)" if dispatcher.simulate else "answer"
        _out.print(Panel(state["answer"], title=title))


def _run_json(
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
            }
            for r in records
        ],
        "total_cost_usd": float(summary.total_cost_usd),
        "baseline_cost_usd": float(summary.baseline_cost_usd),
        "baseline_model": summary.baseline_model,
        "saving_usd": float(summary.saving_usd),
        "answer": answer,
    }


def _hop_table(records: list[HopRecord]) -> Table:
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
        model = r.model if r.error is None else f"[red]{r.model} (failed)[/]"
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


def _totals(s: RunSummary) -> str:
    return (
        f"[bold]{s.hops} hops[/] over tiers {', '.join(s.tiers)} and capabilities "
        f"{', '.join(s.capabilities)}\n"
        f"total cost      [bold]${s.total_cost_usd:.6f}[/]\n"
        f"baseline cost   ${s.baseline_cost_usd:.6f}  (every hop on {s.baseline_model})\n"
        f"saving          [bold green]${s.saving_usd:.6f} ({s.saving_ratio:.0%})[/]"
        + (f"\n[red]{s.failed} hop(s) failed[/]" if s.failed else "")
    )


@app.command()
def route(
    prompt: Annotated[str, typer.Argument(help="The text to route.")],
    json_: JsonOpt = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Show the route decision and the model chosen for PROMPT (no model call)."""
    try:
        dispatcher = Dispatcher(Registry.from_config(config), simulate=True)
        choice = dispatcher.plan(Hop(specialist="cli", prompt=prompt))
    except DispatchError as exc:
        _fail(exc)
    d = choice.decision
    data = {
        "capability": d.capability,
        "tier": d.tier,
        "confidence": d.confidence,
        "router": d.router.value,
        "reason": d.reason,
        "model": choice.model.id,
        "expected_cost_usd": float(choice.expected_cost_usd),
    }
    if json_:
        print(json.dumps(data))
    else:
        for key, value in data.items():
            _out.print(f"[bold]{key:>18}[/] {value}")


@app.command()
def models(json_: JsonOpt = False, config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Print the model registry."""
    try:
        registry = Registry.from_config(config)
    except DispatchError as exc:
        _fail(exc)
    if json_:
        print(
            json.dumps(
                [
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
            )
        )
        return
    table = Table(title=f"registry ({config})", title_justify="left")
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
    _out.print(table)
    bars = ", ".join(f"{t} >= {registry.bar(t)}" for t in registry.tiers)
    _out.print(f"tier bars: {bars}; baseline model: {registry.baseline.id}")


def _compact(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1000:.0f}k" if n >= 1000 else str(n)


def main() -> None:  # pragma: no cover - entry point
    """Console entry point."""
    sys.exit(app())
