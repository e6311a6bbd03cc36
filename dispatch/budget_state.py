"""A workflow's budget outside the ledger: as configured, and as kept in graph state.

`BudgetSpec` and `budget_settings` turn a registry's default and a run's
``configurable`` into a limit and a mode; `BudgetDict` is the ``budget``
channel's value and `merge_budget` its reducer. They live apart from
`dispatch.budget.Ledger` (which re-exports them) because state and settings
are plain data that the CLI, the reducers and the reports read without a ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from typing_extensions import TypedDict

from dispatch.errors import ConfigError
from dispatch.types import BUDGET_MODES, BudgetMode

__all__ = ("BudgetDict", "BudgetSpec", "budget_settings", "merge_budget")


class BudgetDict(TypedDict):
    """A workflow's budget as kept in graph state (money as decimal strings).

    Nodes write *deltas* (``spent_usd`` and ``refused`` of their own hops);
    `merge_budget` adds them up, so the checkpoint holds the settled spend of
    every completed node exactly once.
    """

    workflow: str
    limit_usd: str | None
    mode: str
    spent_usd: str
    reserved_usd: str
    refused: int
    exceeded: bool


def merge_budget(
    left: BudgetDict | None, right: BudgetDict | None
) -> BudgetDict | None:
    """Reducer: deltas of the same workflow add up; a new workflow starts afresh."""
    if right is None:
        return left
    if left is None or left["workflow"] != right["workflow"]:
        return right
    return BudgetDict(
        workflow=left["workflow"],
        limit_usd=right["limit_usd"]
        if right["limit_usd"] is not None
        else left["limit_usd"],
        mode=right["mode"],
        spent_usd=str(Decimal(left["spent_usd"]) + Decimal(right["spent_usd"])),
        reserved_usd="0",
        refused=left["refused"] + right["refused"],
        exceeded=left["exceeded"] or right["exceeded"],
    )


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """A default budget: USD limit (None: unlimited) and mode."""

    limit_usd: Decimal | None = None
    mode: BudgetMode = "hard"


_CONFIGURABLE = 'config["configurable"]["{}"]'


def budget_settings(
    conf: Mapping[str, Any], default: BudgetSpec, *, at: str = _CONFIGURABLE
) -> tuple[Decimal | None, BudgetMode]:
    """Limit and mode from a run's ``configurable`` (``budget_usd``,
    ``budget_mode``), falling back to `default`. `at` formats the path an
    error names from the key (``DispatchContext.{}`` for a run context).

    Raises:
        ConfigError: a negative or non-numeric limit, or an unknown mode.
    """
    raw_limit = conf.get("budget_usd", default.limit_usd)
    mode = conf.get("budget_mode", default.mode)
    if mode not in BUDGET_MODES:
        raise ConfigError(
            "invalid budget mode",
            path=at.format("budget_mode"),
            found=mode,
            expected="one of hard, soft, warn",
        )
    if raw_limit is None:
        return None, mode
    try:
        limit = Decimal(str(raw_limit))
    except InvalidOperation:
        limit = Decimal(-1)
    if not limit.is_finite() or limit < 0:
        raise ConfigError(
            "invalid budget",
            path=at.format("budget_usd"),
            found=raw_limit,
            expected="a number of USD >= 0",
        )
    return limit, mode
