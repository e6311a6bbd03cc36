"""Helpers shared by the CLI and the `langgraph dev` graph factory: build a
dispatcher for the environment, and summarise a run's hop records."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from dispatch.budget_scopes import is_postgres_url
from dispatch.environment import Mode, dispatcher_from_env, relax_to_serve
from dispatch.records import HopRecord
from dispatch.registry import Registry

__all__ = (
    "Mode",
    "RunSummary",
    "checkpoint_path",
    "checkpoint_store",
    "dispatcher_from_env",
    "relax_to_serve",
    "summarize",
)


def checkpoint_path(env: Mapping[str, str] | None = None) -> Path:
    """The CLI's SQLite checkpoint file: ``$DISPATCH_CHECKPOINTS``, else
    ``$XDG_STATE_HOME/graph-dispatch/checkpoints.sqlite`` (``~/.local/state``).

    Only the path: a run creates the directory, reading commands never do.
    """
    env = os.environ if env is None else env
    if env.get("DISPATCH_CHECKPOINTS"):
        path = Path(env["DISPATCH_CHECKPOINTS"])
    else:
        state = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        path = state / "graph-dispatch" / "checkpoints.sqlite"
    return path


def checkpoint_store(env: Mapping[str, str] | None = None) -> Path | str:
    """The CLI's checkpoint store: a ``postgresql://`` URL in
    ``$DISPATCH_CHECKPOINTS`` selects Postgres (many workers share it); else
    the SQLite file of `checkpoint_path`."""
    env = os.environ if env is None else env
    value = env.get("DISPATCH_CHECKPOINTS", "")
    if is_postgres_url(value):
        return value
    return checkpoint_path(env)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """Totals of one run."""

    hops: int
    total_cost_usd: Decimal
    baseline_cost_usd: Decimal
    baseline_model: str
    input_tokens: int
    output_tokens: int
    failed: int
    refused: int
    tiers: tuple[str, ...]
    capabilities: tuple[str, ...]

    @property
    def saving_usd(self) -> Decimal:
        """Baseline minus actual."""
        return self.baseline_cost_usd - self.total_cost_usd

    @property
    def saving_ratio(self) -> float:
        """Share of the baseline cost saved (0 when the baseline is free)."""
        if not self.baseline_cost_usd:
            return 0.0
        return float(self.saving_usd / self.baseline_cost_usd)


def summarize(records: Sequence[HopRecord], registry: Registry) -> RunSummary:
    """Totals over `records`; the baseline prices the same tokens on the largest model."""
    return RunSummary(
        hops=len(records),
        total_cost_usd=sum((r.cost_usd for r in records), Decimal(0)),
        baseline_cost_usd=sum((r.baseline_cost_usd for r in records), Decimal(0)),
        baseline_model=registry.baseline.id,
        input_tokens=sum(r.input_tokens for r in records),
        output_tokens=sum(r.output_tokens for r in records),
        failed=sum(r.error is not None and not r.refused for r in records),
        refused=sum(r.refused for r in records),
        tiers=tuple(t for t in registry.tiers if any(r.tier == t for r in records)),
        capabilities=tuple(sorted({r.capability for r in records})),
    )
