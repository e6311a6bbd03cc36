"""A `Registry` of the benchmark models, so evaluation runs the production policy.

`benchmark_models.json` gives each model's tier, provider and list prices; the
recorded outcomes give their mean quality, which becomes the registry prior
(the fallback the policy uses when no learned prediction covers a model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from dispatch.errors import ConfigError
from dispatch.registry import Registry
from dispatch.routing.replay import MODEL_TIERS, ReplayRecord
from dispatch.types import ModelSpec

__all__ = (
    "CONTEXT_WINDOW",
    "benchmark_registry",
    "model_id",
    "outcome_models",
    "require_priced",
)

CAPABILITIES = ("coding", "search", "analysis", "general")

CONTEXT_WINDOW = 1_000_000
"""Tokens every benchmark model is registered to hold: the files record no
windows, and a replayed prompt was answered, so only an absurd one is over it
(`dispatch.cli.learn_checks.check_prompt_sizes` refuses that one up front)."""


def model_id(name: str, entry: Mapping[str, Any]) -> str:
    """The registry id (``provider:model``) of a benchmark model name."""
    return f"{entry['provider']}:{name}"


def outcome_models(records: Sequence[ReplayRecord]) -> list[str]:
    """The models with outcomes, in first-seen order; each must have one on
    every record.

    A model with outcomes on some lines only is refused rather than dropped:
    scoring it on part of the file, or quietly routing without it, would
    both misreport what the file holds.

    Raises:
        ConfigError: names the first such model and the first record (file
            and line, or id) that lacks it.
    """
    names: dict[str, ReplayRecord] = {}  # name -> the first record that has it
    for record in records:
        for name in record.outcomes:
            names.setdefault(name, record)
    for record in records:
        for name, first in names.items():
            if name not in record.outcomes:
                seen = _at(first)
                if first.file and first.file != record.file:
                    seen = f"{first.file} {seen}"
                raise ConfigError(
                    f"no outcome for model {name!r}, which has outcomes on {seen}: "
                    "a model needs an outcome on every line or on none",
                    file=record.file,
                    path=_at(record),
                )
    return list(names)


def _at(record: ReplayRecord) -> str:
    """Where `record` is, for an error: its line, else (built in code) its id."""
    return f"line {record.line}" if record.line else f"id {record.id!r}"


def require_priced(
    models: Mapping[str, Mapping[str, Any]],
    names: Sequence[str],
    *,
    file: str | None = None,
) -> None:
    """Every model of `names` (they have outcomes) has an entry in `models`
    with both prices and a known tier.

    Args:
        models: `benchmark_models.json` content.
        names: outcome model names.
        file: the models file, named in the error when given.

    Raises:
        ConfigError: the first model without an entry, a price or a known tier.
    """
    for name in names:
        entry = models.get(name)
        if entry is None:
            raise ConfigError(
                "no entry for this model, which has outcomes", file=file, path=name
            )
        for key in ("price_in_per_mtok", "price_out_per_mtok"):
            if entry.get(key) is None:
                raise ConfigError(
                    "the model has outcomes but no price",
                    file=file,
                    path=f"{name}.{key}",
                    found=None,
                    expected="USD per million tokens",
                )
        if entry["tier"] not in MODEL_TIERS:
            raise ConfigError(
                "unknown tier",
                file=file,
                path=f"{name}.tier",
                found=entry["tier"],
                expected="/".join(MODEL_TIERS),
            )


def benchmark_registry(
    models: Mapping[str, Mapping[str, Any]],
    names: Sequence[str],
    train: Sequence[ReplayRecord],
    *,
    baseline: str,
    file: str | None = None,
) -> Registry:
    """Registry of `names` (outcome model names) priced from `models`.

    Args:
        models: `benchmark_models.json` content.
        names: the outcome model names to register.
        train: training records; each model's mean quality there is its prior
            for every capability.
        baseline: outcome name of the reference model ("always the largest").
        file: the models file, named in errors (see `require_priced`).

    Raises:
        ConfigError: a model is missing from `models`, has no price or an
            unknown tier.
    """
    require_priced(models, names, file=file)
    specs = []
    for name in names:
        entry = models[name]
        scores = [r.outcomes[name].quality for r in train if name in r.outcomes]
        prior = sum(scores) / len(scores) if scores else 0.0
        specs.append(
            ModelSpec(
                id=model_id(name, entry),
                tier=str(entry["tier"]),
                quality=dict.fromkeys(CAPABILITIES, prior),
                input_per_mtok=Decimal(str(entry["price_in_per_mtok"])),
                output_per_mtok=Decimal(str(entry["price_out_per_mtok"])),
                context_window=CONTEXT_WINDOW,
                max_output_tokens=4096,
                price_source="benchmark_models.json",
            )
        )
    return Registry(
        specs,
        tiers=[(t, 0.0) for t in MODEL_TIERS],
        capabilities=CAPABILITIES,
        baseline_model=model_id(baseline, models[baseline]),
    )
