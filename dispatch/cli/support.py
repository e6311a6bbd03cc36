"""Helpers shared by the CLI and the `langgraph dev` graph factory: build a
dispatcher for the environment, and summarise a run's hop records."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from dispatch._chat_models import (
    build_chat_model,
    credentials_present,
    missing_provider_packages,
)
from dispatch.config import DEFAULT_CONFIG
from dispatch.dispatcher import Dispatcher
from dispatch.errors import ConfigError
from dispatch.registry import Registry
from dispatch.types import HopRecord, ModelSpec

__all__ = (
    "Mode",
    "RunSummary",
    "checkpoint_path",
    "dispatcher_from_env",
    "relax_to_serve",
    "summarize",
)


def checkpoint_path(env: Mapping[str, str] | None = None) -> Path:
    """The CLI's SQLite checkpoint file: ``$DISPATCH_CHECKPOINTS``, else
    ``$XDG_STATE_HOME/graph-dispatch/checkpoints.sqlite`` (``~/.local/state``)."""
    env = os.environ if env is None else env
    if env.get("DISPATCH_CHECKPOINTS"):
        path = Path(env["DISPATCH_CHECKPOINTS"])
    else:
        state = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        path = state / "graph-dispatch" / "checkpoints.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class Mode(StrEnum):
    """How models are called."""

    AUTO = "auto"
    """Live when any provider's credentials are in the environment, else simulated."""
    SIM = "sim"
    """Always the offline simulator."""
    LIVE = "live"
    """Real models only; fails when no provider has credentials."""


def dispatcher_from_env(
    config: str | Path = DEFAULT_CONFIG,
    mode: Mode = Mode.AUTO,
    env: Mapping[str, str] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Dispatcher:
    """A dispatcher over `config`: simulated, or live on the models with credentials.

    Everything a live run needs is decided here, before any hop, so that a
    missing piece is one clear error up front rather than failed hops:

    * a reachable provider whose LangChain package is missing is a
      `ConfigError` naming the install command;
    * when the reachable models cannot serve every capability at every tier
      (one local Ollama model; Google only, which has no large model), the
      quality bars are relaxed to what they can serve and `notify` is told
      how (default: a ``note:`` line on stderr).

    Raises:
        ConfigError: ``--mode live`` without credentials, or a provider
            package is missing.
    """
    env = os.environ if env is None else env
    say = notify or _note_on_stderr
    base = Dispatcher.from_config(config)
    registry = base.registry
    reachable = [m for m in registry if credentials_present(m, env)]
    if mode is Mode.SIM or (mode is Mode.AUTO and not reachable):
        return Dispatcher(registry, simulate=True, budget=base.budget)
    if not reachable:
        raise ConfigError(
            "--mode live needs provider credentials: set OPENAI_API_KEY, "
            "ANTHROPIC_API_KEY, GOOGLE_API_KEY, OPENAI_BASE_URL or OLLAMA_HOST"
        )
    missing = missing_provider_packages({m.provider for m in reachable})
    if missing:
        raise ConfigError(
            "provider package missing for "
            + "; ".join(f"{p} (install it: {cmd})" for p, cmd in missing.items())
            + ". Its credentials are set"
            + (", or run with --mode sim" if mode is Mode.AUTO else "")
        )
    live, notes = relax_to_serve(registry.restrict(m.id for m in reachable))
    for note in notes:
        say(note)
    return Dispatcher(
        live,
        simulate=False,
        budget=base.budget,
        model_factory=lambda spec: build_chat_model(spec, simulate=False, env=env),
    )


def _note_on_stderr(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def relax_to_serve(registry: Registry) -> tuple[Registry, list[str]]:
    """`registry` with its quality bars lowered until every capability has a
    model at every tier, and what was relaxed (empty when nothing was).

    A capability that no model declares is given each model's weakest prior,
    so that a single local model serves every hop. Each tier's bar becomes
    ``min(bar, best prior of the worst-served capability)``: the tier order
    and every bar that is already met are kept.
    """
    notes: list[str] = []
    undeclared = [
        c for c in registry.capabilities if not any(c in m.quality for m in registry)
    ]
    models: list[ModelSpec] = list(registry)
    if undeclared:
        models = [
            replace(
                m,
                quality={
                    **{c: min(m.quality.values()) for c in undeclared},
                    **m.quality,
                },
            )
            if m.quality
            else m
            for m in models
        ]
        notes.append(
            f"no reachable model declares {', '.join(undeclared)}: "
            "served by the reachable models at their weakest declared quality"
        )
    served = min(
        max((m.quality.get(c, 0.0) for m in models), default=0.0)
        for c in registry.capabilities
    )
    bars = {t: min(registry.bar(t), served) for t in registry.tiers}
    relaxed = [t for t in registry.tiers if bars[t] < registry.bar(t)]
    if relaxed:
        ids = ", ".join(m.id for m in models)
        changes = ", ".join(f"{t} {registry.bar(t)}->{bars[t]}" for t in relaxed)
        notes.append(
            f"quality bars relaxed so that the reachable models ({ids}) serve every "
            f"capability and tier: {changes}. Set more provider credentials to keep them"
        )
    if not notes:
        return registry, notes
    return Registry(
        models,
        tiers=[(t, bars[t]) for t in registry.tiers],
        capabilities=registry.capabilities,
        baseline_model=registry.baseline.id,
        max_output_tokens=registry.max_output_tokens,
        expected_input_tokens=registry.expected_input_tokens,
    ), notes


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
