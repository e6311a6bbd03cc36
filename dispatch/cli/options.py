"""The CLI's shared options and choice enums, importable without the engine.

``dispatch --help`` must start fast, so this module imports only typer: the
commands import the engine (LangGraph, LangChain, pydantic) inside their
bodies, when they run.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dispatch.types import Mode

__all__ = (
    "BudgetModeChoice",
    "BudgetModeOpt",
    "BudgetOpt",
    "ConfigOpt",
    "JsonOpt",
    "Mode",
    "ModeOpt",
    "PartialOpt",
    "PlanOpt",
    "ProgressOpt",
    "RequestFileOpt",
    "RouterChoice",
    "StrictOpt",
    "ThreadOpt",
)

DEFAULT_CONFIG = "default"
"""Same as `dispatch.config.DEFAULT_CONFIG` (not imported: it pulls in pydantic)."""


class BudgetModeChoice(StrEnum):
    """``--budget-mode`` values (checked by typer, so a typo is a usage error)."""

    HARD = "hard"
    SOFT = "soft"
    WARN = "warn"


class RouterChoice(StrEnum):
    """``dispatch route --router`` values."""

    RULES = "rules"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


ConfigOpt = Annotated[
    str,
    typer.Option(
        "--config",
        "-c",
        metavar="PATH",
        help="Registry YAML file ('default': the shipped one).",
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
    float | None,
    typer.Option("--budget", metavar="USD", help="USD this workflow may spend (>= 0)."),
]
BudgetModeOpt = Annotated[
    BudgetModeChoice | None,
    typer.Option(
        "--budget-mode",
        help="hard: refuse hops; soft: cheaper tiers; warn: record only.",
    ),
]
ThreadOpt = Annotated[
    str | None,
    typer.Option(
        "--thread",
        metavar="ID",
        help="Conversation to continue (pins persist); new if absent.",
    ),
]
PartialOpt = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="In hard mode, start even when the expected cost exceeds the budget "
        "(hops are refused as money runs out).",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="In hard mode, refuse to start unless the pre-flight worst case fits "
        "(default: start when the expected cost fits).",
    ),
]
ProgressOpt = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Print each hop on stderr as it completes (default: when stderr is a "
        "terminal; never with --json).",
        show_default=False,
    ),
]
PlanOpt = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        metavar="PATH",
        help="JSON file with a list of tasks (else decomposed).",
    ),
]
RequestFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--request-file",
        metavar="PATH",
        help="Read the request from a file (any size; REQUEST '-' reads stdin).",
    ),
]
