"""The ``dispatch`` command: demo, run, resume, estimate, report, pins, route, models.

Commands import the engine inside their bodies, so ``dispatch --help`` and a
rules-only ``dispatch route`` do not pay for LangGraph, the OpenTelemetry SDK,
scikit-learn or torch.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from dispatch.cli.cache import cache_app
from dispatch.cli.learn import eval_app, train
from dispatch.cli.options import (
    DEFAULT_CONFIG,
    BudgetModeChoice,
    BudgetModeOpt,
    BudgetOpt,
    ConfigOpt,
    JsonOpt,
    Mode,
    ModeOpt,
    PartialOpt,
    PlanOpt,
    ProgressOpt,
    RequestFileOpt,
    RouterChoice,
    StrictOpt,
    ThreadOpt,
)
from dispatch.cli.outcome import EXIT_CODES_HELP
from dispatch.cli.threads import pins, report
from dispatch.cli.usage_json import JsonUsageErrors

app = typer.Typer(
    help="graph-dispatch: route every hop of a LangGraph workflow to the cheapest "
    "good-enough model.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: rich help boxes show flags as `<bool>` and cost an import.
    rich_markup_mode=None,
    # A crash must never print local variables (they can hold API keys).
    pretty_exceptions_show_locals=False,
    cls=JsonUsageErrors,  # --json: click's usage errors print the error object
)
app.command()(train)
app.add_typer(eval_app, name="eval")
app.add_typer(cache_app, name="cache")


def _fail(exc: Exception, *, json_: bool = False) -> NoReturn:
    from dispatch.cli.render import fail  # noqa: PLC0415

    fail(exc, json_=json_)


def _run(
    request: str,
    tasks: Any,
    *,
    json_: bool,
    mode: Mode,
    config: str,
    budget: float | None,
    budget_mode: BudgetModeChoice | None,
    thread: str | None,
    allow_partial: bool,
    strict: bool,
    progress: bool | None,
    synthesis_tier: str | None = None,
) -> None:
    from dispatch.cli.inputs import (  # noqa: PLC0415
        check_budget,
        check_start_flags,
        check_thread,
    )
    from dispatch.cli.run import RunArgs, run_workflow  # noqa: PLC0415
    from dispatch.errors import DispatchError  # noqa: PLC0415

    try:
        check_start_flags(strict=strict, allow_partial=allow_partial)
        args = RunArgs(
            request=request,
            tasks=tasks,
            json_=json_,
            mode=mode,
            config=config,
            budget=check_budget(budget),
            budget_mode=None if budget_mode is None else str(budget_mode.value),
            thread=check_thread(thread),
            allow_partial=allow_partial,
            strict=strict,
            progress=progress,
            synthesis_tier=synthesis_tier,
        )
    except DispatchError as exc:
        _fail(exc, json_=json_)
    code = run_workflow(args)
    if code:
        raise typer.Exit(code)


@app.command()
def demo(
    json_: JsonOpt = False,
    mode: ModeOpt = Mode.AUTO,
    config: ConfigOpt = DEFAULT_CONFIG,
    budget: BudgetOpt = None,
    budget_mode: BudgetModeOpt = None,
    thread: ThreadOpt = None,
    allow_partial: PartialOpt = False,
    strict: StrictOpt = False,
    progress: ProgressOpt = None,
) -> None:
    """Run the orchestrator on the built-in multi-part request (offline without keys)."""
    import dispatch.graphs as graphs  # noqa: PLC0415

    _run(
        graphs.DEMO_REQUEST,
        list(graphs.DEMO_PLAN),
        json_=json_,
        mode=mode,
        config=config,
        budget=budget,
        budget_mode=budget_mode,
        thread=thread,
        allow_partial=allow_partial,
        strict=strict,
        progress=progress,
        synthesis_tier=graphs.DEMO_SYNTHESIS_TIER,
    )


@app.command()
def run(
    request: Annotated[
        str | None,
        typer.Argument(
            help="What the workflow should do; '-' reads it from stdin.",
            show_default=False,
        ),
    ] = None,
    request_file: RequestFileOpt = None,
    plan: PlanOpt = None,
    json_: JsonOpt = False,
    mode: ModeOpt = Mode.AUTO,
    config: ConfigOpt = DEFAULT_CONFIG,
    budget: BudgetOpt = None,
    budget_mode: BudgetModeOpt = None,
    thread: ThreadOpt = None,
    allow_partial: PartialOpt = False,
    strict: StrictOpt = False,
    progress: ProgressOpt = None,
) -> None:
    """Run the orchestrator on REQUEST (one sub-task per sentence unless --plan)."""
    from dispatch.cli.inputs import read_plan_file, read_request  # noqa: PLC0415
    from dispatch.errors import DispatchError  # noqa: PLC0415

    try:
        text = read_request(request, request_file)
        tasks = read_plan_file(plan) if plan is not None else None
    except DispatchError as exc:
        _fail(exc, json_=json_)
    _run(
        text,
        tasks,
        json_=json_,
        mode=mode,
        config=config,
        budget=budget,
        budget_mode=budget_mode,
        thread=thread,
        allow_partial=allow_partial,
        strict=strict,
        progress=progress,
    )


@app.command()
def resume(
    thread: Annotated[str, typer.Argument(help="The thread whose run to continue.")],
    json_: JsonOpt = False,
    mode: ModeOpt = Mode.AUTO,
    config: ConfigOpt = DEFAULT_CONFIG,
    progress: ProgressOpt = None,
) -> None:
    """Continue THREAD's interrupted run from its last checkpoint (same budget).

    Tasks that finished before the interruption are not run again; the run's
    budget keeps its limit and the spend already settled. A thread whose last
    run finished has nothing to resume: that is said and the exit code is 0.
    """
    from dispatch.cli.inputs import check_thread  # noqa: PLC0415
    from dispatch.cli.resume import resume_thread  # noqa: PLC0415
    from dispatch.errors import DispatchError  # noqa: PLC0415

    try:
        name = check_thread(thread) or thread
    except DispatchError as exc:
        _fail(exc, json_=json_)
    code = resume_thread(name, json_=json_, mode=mode, config=config, progress=progress)
    if code:
        raise typer.Exit(code)


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
    from rich.table import Table  # noqa: PLC0415

    from dispatch.agents import default_specialists  # noqa: PLC0415
    from dispatch.cli.inputs import read_plan_file  # noqa: PLC0415
    from dispatch.cli.render import out  # noqa: PLC0415
    from dispatch.dispatcher import Dispatcher  # noqa: PLC0415
    from dispatch.errors import DispatchError  # noqa: PLC0415
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
            req, raw, tier = request, read_plan_file(Path(graph)), None
        tasks = plan_tasks(req, raw, dispatcher, specialists)
        result = estimate_plan(req, tasks, dispatcher, specialists, synthesis_tier=tier)
    except DispatchError as exc:
        _fail(exc, json_=json_)
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
        RouterChoice | None,
        typer.Option(
            help="rules, semantic (MiniLM embeddings), hybrid, or learned (the "
            "artefact the config names in routing.artefact; exit 2 without one). "
            "Default: the learned router when the config names routing.artefact, "
            "else rules; another --router is used instead of the config's "
            "artefact.",
            show_default=False,
        ),
    ] = None,
    json_: JsonOpt = False,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Show the route decision and the model chosen for PROMPT (no model call)."""
    from langchain_core.messages import HumanMessage  # noqa: PLC0415

    from dispatch.cli.inputs import read_prompt  # noqa: PLC0415
    from dispatch.cli.render import out  # noqa: PLC0415
    from dispatch.cli.routers import route_setup  # noqa: PLC0415
    from dispatch.cost import INPUT_SAFETY, reserved_input_tokens  # noqa: PLC0415
    from dispatch.errors import DispatchError  # noqa: PLC0415
    from dispatch.policy import select  # noqa: PLC0415
    from dispatch.types import Hop  # noqa: PLC0415

    # Steps 1-2 of a hop (route, select) are pure: no Dispatcher, no model stack.
    # The hop is sized as a call with PROMPT would reserve, so the cost and the
    # context-window check are the prompt's (not the registry's typical input).
    try:
        text = read_prompt(prompt)
        tokens = reserved_input_tokens([HumanMessage(text)], None, INPUT_SAFETY)
        hop = Hop(specialist="cli", prompt=text, input_tokens=tokens)
        registry, chosen = route_setup(router, config)
        choice = select(chosen.decide(hop), hop, registry)
    except DispatchError as exc:
        _fail(exc, json_=json_)
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


@app.command()
def models(json_: JsonOpt = False, config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Print the model registry."""
    from dispatch.cli.render import (  # noqa: PLC0415
        out,
        registry_json,
        registry_table,
    )
    from dispatch.errors import DispatchError  # noqa: PLC0415
    from dispatch.registry import Registry  # noqa: PLC0415

    try:
        registry = Registry.from_config(config)
    except DispatchError as exc:
        _fail(exc, json_=json_)
    if json_:
        print(json.dumps(registry_json(registry)))
        return
    out.print(registry_table(registry, title=f"registry ({config})"))
    bars = ", ".join(f"{t} >= {registry.bar(t)}" for t in registry.tiers)
    out.print(f"tier bars: {bars}; baseline model: {registry.baseline.id}")


app.command()(pins)
app.command()(report)


def _show_warning(*args: Any, **kwargs: Any) -> None:
    from dispatch.cli.render import show_warning  # noqa: PLC0415  (rich: lazily)

    show_warning(*args, **kwargs)


def main() -> None:
    """Console entry point (``dispatch``, ``python -m dispatch``): dispatch's
    warnings print as one ``warning:`` line (`render.show_warning`)."""
    warnings.showwarning = _show_warning
    sys.exit(app(prog_name="dispatch"))
