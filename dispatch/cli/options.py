"""The CLI's shared options and choice enums, importable without the engine.

``dispatch --help`` must start fast, so this module imports only typer: the
commands import the engine (LangGraph, LangChain, pydantic) inside their
bodies, when they run.

The ``*Opt`` aliases are `typing.Annotated` types, so every command that
takes ``--budget`` or ``--thread`` declares it once, with one flag name and
one help text. Typer checks only the type; the range and the flag
combinations are checked in `dispatch.cli.inputs`, which can name the flag
in a `ConfigError` (exit 2).
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
    """``--budget-mode`` values (checked by typer, so a typo is a usage error).

    Mirrors `dispatch.types.BudgetMode`; a `StrEnum` because typer builds its
    choices from an enum and the value passes on as the plain string the
    budget code expects.
    """

    HARD = "hard"
    """Refuse a hop (or the start) that the remaining budget cannot cover."""
    SOFT = "soft"
    """Step down to cheaper tiers as money runs out, then refuse."""
    WARN = "warn"
    """Only record the spend; never refuse or step down."""


class RouterChoice(StrEnum):
    """``dispatch route --router`` values (built by `dispatch.cli.routers`)."""

    RULES = "rules"
    """Microsecond heuristics over the text: no model, no extra install."""
    SEMANTIC = "semantic"
    """Nearest utterances by MiniLM embedding (``graph-dispatch[semantic]``)."""
    HYBRID = "hybrid"
    """Rules when they are sure, else the semantic layer."""
    LEARNED = "learned"
    """The trained artefact the config names in ``routing.artefact``."""


ConfigOpt = Annotated[
    str,
    typer.Option(
        "--config",
        "-c",
        metavar="PATH",
        help="Registry YAML file ('default': the shipped one).",
    ),
]
"""``--config``/``-c``: the registry YAML the dispatcher is built from."""
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of tables.")
]
"""``--json``: machine-readable output; the exit code is the same as with tables."""
ModeOpt = Annotated[
    Mode,
    typer.Option(
        help="auto: real models when credentials are set, else the simulator."
    ),
]
"""``--mode``: `Mode` ``auto``, ``sim`` or ``live``."""
BudgetOpt = Annotated[
    float | None,
    typer.Option("--budget", metavar="USD", help="USD this workflow may spend (>= 0)."),
]
"""``--budget``: a float because typer cannot parse `Decimal`; the limit is
converted to `Decimal` once, in `budget_settings`, and `check_budget` refuses
a negative or non-finite value first."""
BudgetModeOpt = Annotated[
    BudgetModeChoice | None,
    typer.Option(
        "--budget-mode",
        help="hard: refuse hops; soft: cheaper tiers; warn: record only.",
    ),
]
"""``--budget-mode``; None keeps the config's mode."""
ThreadOpt = Annotated[
    str | None,
    typer.Option(
        "--thread",
        metavar="ID",
        help="Conversation to continue (pins persist); new if absent.",
    ),
]
"""``--thread``: the LangGraph ``thread_id`` that keys pins and checkpoints;
checked by `check_thread` (UTF-8, non-empty)."""
PartialOpt = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="In hard mode, start even when the expected cost exceeds the budget "
        "(hops are refused as money runs out).",
    ),
]
"""``--allow-partial``; contradicts ``--strict`` (`check_start_flags`)."""
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="In hard mode, refuse to start unless the pre-flight worst case fits "
        "(default: start when the expected cost fits).",
    ),
]
"""``--strict``: see `dispatch.cli.outcome.start_refusal` for both rules."""
ProgressOpt = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Print each hop on stderr as it completes (default: when stderr is a "
        "terminal; never with --json).",
        show_default=False,
    ),
]
"""``--progress/--no-progress``; None (unset) means "if stderr is a terminal"."""
PlanOpt = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        metavar="PATH",
        help="JSON file with a list of tasks (else decomposed).",
    ),
]
"""``--plan``: the sub-tasks as JSON, read by `read_plan_file`."""
RequestFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--request-file",
        metavar="PATH",
        help="Read the request from a file (any size; REQUEST '-' reads stdin).",
    ),
]
"""``--request-file``: no size cap (argv stops at 128 KiB); bytes decoded once."""
