"""A dispatcher for the environment it runs in: simulated, or live on the models
whose provider is reachable (credentials or a local server's address).

Shared by the CLI and the ``langgraph dev`` graph factory (`dispatch.graphs`),
so it lives in the library, not in the CLI: everything a live run needs is
decided here, before any hop, and a missing piece is one clear error up front.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
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
from dispatch.sim import SimChatModel
from dispatch.types import Mode, ModelSpec

__all__ = ("Mode", "dispatcher_from_env", "relax_to_serve", "sim_latency")


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
        latency = sim_latency(env)
        return Dispatcher(
            registry,
            router=base.router,
            simulate=True,
            budget=base.budget,
            privacy=base.privacy,
            model_factory=lambda spec: SimChatModel(model=spec.id, latency_s=latency),
        )
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
    # The config's learned layer (if any), over the reachable models only: its
    # per-hop bar comes from the models it can choose from.
    from dispatch.routing.learned import LearnedRouter  # noqa: PLC0415

    router = base.router.over(live) if isinstance(base.router, LearnedRouter) else None
    return Dispatcher(
        live,
        router=router,
        simulate=False,
        budget=base.budget,
        model_factory=lambda spec: build_chat_model(spec, simulate=False, env=env),
        privacy=base.privacy,
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


def sim_latency(env: Mapping[str, str]) -> float:
    """``DISPATCH_SIM_LATENCY_S``: seconds each simulated call takes (default 0).

    Raises:
        ConfigError: a value that is not a number of seconds >= 0.
    """
    raw = env.get("DISPATCH_SIM_LATENCY_S", "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < math.inf:
        raise ConfigError(
            "invalid simulated latency",
            path="DISPATCH_SIM_LATENCY_S",
            found=raw,
            expected="seconds >= 0, e.g. 0.5",
        )
    return value
