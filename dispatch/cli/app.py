"""The ``dispatch`` command: demo, run, estimate, report, pins, route, models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dispatch.cli.learn import eval_app, train
from dispatch.cli.render import fail, hop_tree, metrics_table, out
from dispatch.cli.run import RunArgs, run_workflow
from dispatch.cli.support import Mode, checkpoint_path
from dispatch.config import DEFAULT_CONFIG
from dispatch.errors import DispatchError
from dispatch.node import Dispatcher
from dispatch.registry import Registry
from dispatch.report import routing_report
from dispatch.routing import (
    CachedEncoder,
    HybridRouter,
    Router,
    RulesRouter,
    SemanticRouter,
)
from dispatch.state import hop_records
from dispatch.types import Hop

app = typer.Typer(
    help="graph-dispatch: route every hop of a LangGraph workflow to the cheapest "
    "good-enough model.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(train)
app.add_typer(eval_app, name="eval")
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

BudgetOpt = Annotated[
    float | None, typer.Option("--budget", help="USD this workflow may spend.")
]
BudgetModeOpt = Annotated[
    str | None,
    typer.Option("--budget-mode", help="hard (refuse), soft (cheaper tiers), warn."),
]
ThreadOpt = Annotated[
    str | None,
    typer.Option(
        "--thread", help="Conversation to continue (pins persist); new if absent."
    ),
]
PartialOpt = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="In hard mode, start even when the worst case exceeds the budget.",
    ),
]


@app.command()
def demo(
    json_: JsonOpt = False,
    mode: ModeOpt = Mode.AUTO,
    config: ConfigOpt = DEFAULT_CONFIG,
    budget: BudgetOpt = None,
    budget_mode: BudgetModeOpt = None,
    thread: ThreadOpt = None,
    allow_partial: PartialOpt = False,
) -> None:
    """Run the orchestrator on the built-in multi-part request (offline without keys)."""
    from dispatch.graphs import (  # noqa: PLC0415
        DEMO_PLAN,
        DEMO_REQUEST,
        DEMO_SYNTHESIS_TIER,
    )

    run_workflow(
        RunArgs(
            request=DEMO_REQUEST,
            tasks=list(DEMO_PLAN),
            json_=json_,
            mode=mode,
            config=config,
            budget=budget,
            budget_mode=budget_mode,
            thread=thread,
            allow_partial=allow_partial,
            synthesis_tier=DEMO_SYNTHESIS_TIER,
        )
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
    budget: BudgetOpt = None,
    budget_mode: BudgetModeOpt = None,
    thread: ThreadOpt = None,
    allow_partial: PartialOpt = False,
) -> None:
    """Run the orchestrator on REQUEST (one sub-task per sentence unless --plan)."""
    tasks = _read_plan(plan) if plan is not None else None
    run_workflow(
        RunArgs(
            request=request,
            tasks=tasks,
            json_=json_,
            mode=mode,
            config=config,
            budget=budget,
            budget_mode=budget_mode,
            thread=thread,
            allow_partial=allow_partial,
        )
    )


def _read_plan(path: Path) -> list[Any]:
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(DispatchError(f"{path}: cannot read plan: {exc}"))
    if not isinstance(tasks, list):
        fail(DispatchError(f"{path}: a plan is a JSON list of tasks"))
    return tasks


@app.command()
def pins(
    thread: Annotated[str, typer.Argument(help="The conversation (thread id).")],
    json_: JsonOpt = False,
) -> None:
    """Show a conversation's pins: which model each specialist is pinned to."""
    thread, values = _saved_state(thread)
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


def _saved_state(thread: str | None) -> tuple[str, dict[str, Any]]:
    import sqlite3  # noqa: PLC0415

    from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415

    path = checkpoint_path()
    if not path.exists() or path.stat().st_size == 0:
        fail(DispatchError(f"no checkpoints at {path}; run `dispatch demo` first"))
    with SqliteSaver.from_conn_string(str(path)) as saver:
        if thread is None:
            try:
                row = saver.conn.execute(
                    "SELECT thread_id FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1"
                ).fetchone()
            except sqlite3.Error:
                row = None
            if row is None:
                fail(DispatchError(f"no conversation in {path}"))
            thread = str(row[0])
        saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    if saved is None:
        fail(DispatchError(f"no conversation {thread!r} in {path}"))
    return thread, dict(saved.checkpoint["channel_values"])


@app.command()
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
    thread, values = _saved_state(thread)
    records = hop_records(values)
    runs = list(dict.fromkeys(r.workflow for r in records))
    if workflow == "last" and runs:
        records = [r for r in records if r.workflow == runs[-1]]
    elif workflow not in ("all", "last"):
        records = [r for r in records if r.workflow == workflow]
        if not records:
            fail(
                DispatchError(
                    f"no workflow {workflow!r} on thread {thread!r}; runs: {runs}"
                )
            )
    metrics = routing_report(records)
    if json_:
        print(json.dumps({"thread": thread, "workflows": runs, **metrics}))
        return
    out.print(hop_tree(thread, records))
    out.print(metrics_table(metrics))


@app.command()
def estimate(
    graph: Annotated[
        str, typer.Argument(help="'demo', or a JSON plan file (a list of tasks).")
    ] = "demo",
    request: Annotated[str, typer.Option(help="The request of a plan file.")] = "",
    json_: JsonOpt = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Pre-flight: expected and worst-case cost per node, and the dearest path."""
    from dispatch.agents import default_specialists  # noqa: PLC0415
    from dispatch.graphs import (  # noqa: PLC0415
        DEMO_PLAN,
        DEMO_REQUEST,
        DEMO_SYNTHESIS_TIER,
        plan_tasks,
    )
    from dispatch.graphs.estimate import estimate_plan  # noqa: PLC0415

    try:
        dispatcher = Dispatcher.from_config(config, simulate=True)
        specialists = default_specialists()
        if graph == "demo":
            req, raw, tier = DEMO_REQUEST, list(DEMO_PLAN), DEMO_SYNTHESIS_TIER
        else:
            req, raw, tier = request, _read_plan(Path(graph)), None
        tasks = plan_tasks(req, raw, dispatcher, specialists)
        result = estimate_plan(req, tasks, dispatcher, specialists, synthesis_tier=tier)
    except DispatchError as exc:
        fail(exc)
    if json_:
        print(json.dumps(result.as_json()))
        return
    table = Table(title=f"pre-flight estimate ({graph})", title_justify="left")
    for col in ("node", "expected USD", "worst case USD"):
        table.add_column(col, justify="left" if col == "node" else "right")
    for name, cost in result.nodes.items():
        table.add_row(name, f"{cost.expected_usd:.6f}", f"{cost.worst_usd:.6f}")
    out.print(table)
    out.print(
        f"expected ${result.expected_cost_usd:.6f}, worst case "
        f"${result.worst_case_cost_usd:.6f}; dearest path "
        f"{' -> '.join(result.worst_path)} (${result.worst_path_cost_usd:.6f})"
    )


@app.command()
def route(
    prompt: Annotated[str, typer.Argument(help="The text to route.")],
    router: Annotated[
        str, typer.Option(help="rules, semantic (MiniLM embeddings) or hybrid.")
    ] = "rules",
    json_: JsonOpt = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Show the route decision and the model chosen for PROMPT (no model call)."""
    try:
        registry = Registry.from_config(config)
        dispatcher = Dispatcher(
            registry, simulate=True, router=_router(router, registry)
        )
        choice = dispatcher.plan(Hop(specialist="cli", prompt=prompt))
    except DispatchError as exc:
        fail(exc)
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
            out.print(f"[bold]{key:>18}[/] {value}")


def _router(name: str, registry: Registry) -> Router:
    rules = RulesRouter(tiers=registry.tiers, capabilities=registry.capabilities)
    if name == "rules":
        return rules
    if name not in ("semantic", "hybrid"):
        raise DispatchError(f"--router {name!r}: expected rules, semantic or hybrid")
    from dispatch.routing._st import SentenceTransformerEncoder  # noqa: PLC0415
    from dispatch.routing.semantic import default_utterances  # noqa: PLC0415

    semantic = SemanticRouter(
        CachedEncoder(SentenceTransformerEncoder()),
        default_utterances(),
        tier_router=rules,
    )
    # Uncalibrated defaults: rules answer when they are sure, embeddings otherwise.
    return semantic if name == "semantic" else HybridRouter([rules, semantic], [0.8])


@app.command()
def models(json_: JsonOpt = False, config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Print the model registry."""
    try:
        registry = Registry.from_config(config)
    except DispatchError as exc:
        fail(exc)
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
    out.print(table)
    bars = ", ".join(f"{t} >= {registry.bar(t)}" for t in registry.tiers)
    out.print(f"tier bars: {bars}; baseline model: {registry.baseline.id}")


def _compact(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1000:.0f}k" if n >= 1000 else str(n)


def main() -> None:  # pragma: no cover - entry point
    """Console entry point."""
    sys.exit(app())
