"""The ``dispatch`` command: demo, run, estimate, report, pins, route, models."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dispatch.budget import budget_settings
from dispatch.cli_render import (
    budget_json,
    hop_table,
    hop_tree,
    metrics_table,
    run_json,
    totals,
)
from dispatch.cli_support import Mode, checkpoint_path, dispatcher_from_env, summarize
from dispatch.cli_telemetry import telemetry_from_env
from dispatch.config import DEFAULT_CONFIG
from dispatch.errors import DispatchError
from dispatch.node import Dispatcher
from dispatch.preflight import Estimate
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


def _fail(exc: Exception) -> NoReturn:
    _err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


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

    _run(
        _RunArgs(
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
    _run(
        _RunArgs(
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
        _fail(DispatchError(f"{path}: cannot read plan: {exc}"))
    if not isinstance(tasks, list):
        _fail(DispatchError(f"{path}: a plan is a JSON list of tasks"))
    return tasks


@dataclass(frozen=True, slots=True, kw_only=True)
class _RunArgs:
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


def _run(args: _RunArgs) -> None:
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
            _refuse_start(args, dispatcher, limit, estimate, hops=len(tasks) + 1)
            return
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
        _fail(exc)
    records = [r for r in hop_records(state) if r.workflow == workflow]
    summary = summarize(records, dispatcher.registry)
    budget_out = budget_json(
        state.get("budget"), limit=limit, mode=budget_mode, preflight=estimate
    )
    if args.json_:
        out = run_json(dispatcher, records, summary, state.get("answer", ""))
        print(
            json.dumps(
                {**out, "thread": thread, "workflow": workflow, "budget": budget_out}
            )
        )
        return
    if dispatcher.simulate:
        _out.print(Panel(_SIM_NOTICE, style="yellow", title="simulated"))
    _out.print(hop_table(records))
    _out.print(totals(summary))
    _out.print(_budget_line(budget_out))
    _out.print(f"thread [bold]{thread}[/] (continue it with --thread {thread})")
    if state.get("answer"):
        title = "answer (simulated)" if dispatcher.simulate else "answer"
        _out.print(Panel(Text(state["answer"]), title=title))


async def _invoke(
    dispatcher: Dispatcher, args: _RunArgs, tasks: list[Any], config: dict[str, Any]
) -> dict[str, Any]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: PLC0415

    from dispatch.graphs import build_orchestrator  # noqa: PLC0415

    async with AsyncSqliteSaver.from_conn_string(str(checkpoint_path())) as saver:
        graph = build_orchestrator(
            dispatcher, checkpointer=saver, synthesis_tier=args.synthesis_tier
        )
        state = await graph.ainvoke({"request": args.request, "tasks": tasks}, config)
    return dict(state)


def _refuse_start(
    args: _RunArgs,
    dispatcher: Dispatcher,
    limit: Decimal,
    estimate: Estimate,
    hops: int,
) -> None:
    message = (
        f"refused to start: the worst case ${estimate.worst_case_cost_usd:.6f} exceeds the "
        f"hard budget ${limit:.6f} (expected ${estimate.expected_cost_usd:.6f}); "
        "--allow-partial starts anyway and refuses hops as money runs out"
    )
    if args.json_:
        print(
            json.dumps(
                {
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
        return
    _err.print(f"[bold red]budget:[/] {message}")
    raise typer.Exit(code=3)


def _budget_line(b: dict[str, Any]) -> str:
    if b["limit_usd"] is None:
        return (
            f"budget          none set (mode {b['mode']}); spent ${b['spent_usd']:.6f}"
        )
    state = "[red]exceeded[/]" if b["exceeded"] else "[green]within[/]"
    return (
        f"budget          ${b['spent_usd']:.6f} of ${b['limit_usd']:.6f} ({b['mode']}), "
        f"{state}, {b['refused_hops']} hop(s) refused"
    )


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
    _out.print(table)


def _saved_state(thread: str | None) -> tuple[str, dict[str, Any]]:
    import sqlite3  # noqa: PLC0415

    from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415

    path = checkpoint_path()
    if not path.exists() or path.stat().st_size == 0:
        _fail(DispatchError(f"no checkpoints at {path}; run `dispatch demo` first"))
    with SqliteSaver.from_conn_string(str(path)) as saver:
        if thread is None:
            try:
                row = saver.conn.execute(
                    "SELECT thread_id FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1"
                ).fetchone()
            except sqlite3.Error:
                row = None
            if row is None:
                _fail(DispatchError(f"no conversation in {path}"))
            thread = str(row[0])
        saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    if saved is None:
        _fail(DispatchError(f"no conversation {thread!r} in {path}"))
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
            _fail(
                DispatchError(
                    f"no workflow {workflow!r} on thread {thread!r}; runs: {runs}"
                )
            )
    metrics = routing_report(records)
    if json_:
        print(json.dumps({"thread": thread, "workflows": runs, **metrics}))
        return
    _out.print(hop_tree(thread, records))
    _out.print(metrics_table(metrics))


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
        _fail(exc)
    if json_:
        print(json.dumps(result.as_json()))
        return
    table = Table(title=f"pre-flight estimate ({graph})", title_justify="left")
    for col in ("node", "expected USD", "worst case USD"):
        table.add_column(col, justify="left" if col == "node" else "right")
    for name, cost in result.nodes.items():
        table.add_row(name, f"{cost.expected_usd:.6f}", f"{cost.worst_usd:.6f}")
    _out.print(table)
    _out.print(
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
