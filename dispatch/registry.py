"""The model registry: an immutable table of `ModelSpec`s, tiers and capabilities.

Plain data with no I/O beyond `from_config`, so the policy, the budget
estimates and the evaluation all read one table, and tests build one in a
line. Immutability is what makes `Registry.serving`'s per-pair cache safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from dispatch.config import DEFAULT_CONFIG, Config, load_config
from dispatch.errors import ConfigError
from dispatch.types import ModelSpec

__all__ = ("Registry",)


class Registry:
    """Models, ordered tiers with their quality bars, and capabilities.

    Plain data: building chat models from specs is `dispatch._chat_models`' job.

    Args:
        models: the specs; ids must be unique (a later duplicate wins).
        tiers: ``(name, quality bar)`` pairs, cheapest first.
        capabilities: what routers may ask for.
        baseline_model: the id the "always the largest" counterfactual is
            priced at; default the dearest model of the top tier.
        max_output_tokens: output cap of a hop that declares none.
        expected_input_tokens: input size assumed when a hop's is unknown.

    Raises:
        ConfigError: no models, a model of an undeclared tier, or an
            unregistered `baseline_model`.

    Example:
        >>> from decimal import Decimal
        >>> from dispatch.types import ModelSpec
        >>> small = ModelSpec(
        ...     id="openai:mini", tier="small", quality={"general": 0.8},
        ...     input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.6"),
        ...     context_window=128_000, max_output_tokens=4096,
        ... )
        >>> registry = Registry([small], tiers=[("small", 0.5)], capabilities=["general"])
        >>> [m.id for m in registry.serving("general", "small")]
        ['openai:mini']
    """

    def __init__(
        self,
        models: Iterable[ModelSpec],
        *,
        tiers: Sequence[tuple[str, float]],
        capabilities: Sequence[str],
        baseline_model: str | None = None,
        max_output_tokens: int = 1024,
        expected_input_tokens: int = 800,
    ) -> None:
        self._models = {m.id: m for m in models}
        if not self._models:
            raise ConfigError("a registry needs at least one model")
        self.tiers: tuple[str, ...] = tuple(name for name, _ in tiers)
        """Tier names, cheapest first."""
        self._bars = dict(tiers)
        self.capabilities: tuple[str, ...] = tuple(capabilities)
        """Capabilities routers may return, as declared."""
        self.max_output_tokens = max_output_tokens
        """Default output cap of a hop."""
        self.expected_input_tokens = expected_input_tokens
        """Default input size assumed when a hop's is unknown."""
        for m in self._models.values():
            if m.tier not in self._bars:
                raise ConfigError(f"model {m.id!r} has unknown tier {m.tier!r}")
        if baseline_model is not None and baseline_model not in self._models:
            raise ConfigError(f"baseline model {baseline_model!r} is not registered")
        self._baseline = baseline_model
        self._serving: dict[tuple[str, str], tuple[ModelSpec, ...]] = {}

    @classmethod
    def from_config(cls, source: str | Path = DEFAULT_CONFIG) -> Registry:
        """Load a registry from a YAML file (or ``"default"``, the shipped one).

        Raises:
            ConfigError: the file is unreadable or invalid (see `load_config`).
        """
        config, specs = load_config(source)
        return cls.from_specs(config, specs)

    @classmethod
    def from_specs(cls, config: Config, specs: Iterable[ModelSpec]) -> Registry:
        """Build from an already validated `Config` and its priced specs."""
        return cls(
            specs,
            tiers=[(t.name, t.min_quality) for t in config.tiers],
            capabilities=config.capabilities,
            baseline_model=config.defaults.baseline_model,
            max_output_tokens=config.defaults.max_output_tokens,
            expected_input_tokens=config.defaults.expected_input_tokens,
        )

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def get(self, model_id: str) -> ModelSpec:
        """The spec of `model_id`; `KeyError` names the known ids when absent."""
        try:
            return self._models[model_id]
        except KeyError:
            known = ", ".join(self._models)
            raise KeyError(f"unknown model {model_id!r}; registered: {known}") from None

    def bar(self, tier: str) -> float:
        """Minimum expected quality a model needs to serve `tier`."""
        return self._bars[tier]

    def serving(self, capability: str, tier: str) -> tuple[ModelSpec, ...]:
        """Models whose expected quality for `capability` meets `tier`'s bar.

        Computed once per pair: the registry never changes, and the policy asks
        on every hop.
        """
        key = (capability, tier)
        models = self._serving.get(key)
        if models is None:
            bar = self._bars[tier]
            models = tuple(m for m in self if m.quality.get(capability, -1.0) >= bar)
            self._serving[key] = models
        return models

    def check_hints(
        self, where: str, *, capability: str | None = None, tier: str | None = None
    ) -> None:
        """Refuse a capability or tier hint this registry does not declare.

        An unknown hint would otherwise be dropped or routed as something else
        without a word; `where` names its owner (``Specialist 'writer'``).

        Raises:
            ConfigError: naming `where`, the hint and the declared values.
        """
        if capability is not None and capability not in self.capabilities:
            raise ConfigError(
                f"{where}: unknown capability",
                found=capability,
                expected=f"one of {', '.join(self.capabilities)}",
            )
        if tier is not None and tier not in self._bars:
            raise ConfigError(
                f"{where}: unknown tier",
                found=tier,
                expected=f"one of {', '.join(self.tiers)}",
            )

    def check_ids(self, where: str, ids: Iterable[str]) -> None:
        """Refuse model ids this registry does not have, e.g. the keys of a
        test factory's fakes: one keyed by a typo would never serve.

        Raises:
            ConfigError: naming `where`, every unknown id and the registered ones.
        """
        unknown = [model_id for model_id in ids if model_id not in self._models]
        if unknown:
            raise ConfigError(
                f"{where}: model ids no registered model has (they would never serve)",
                found=unknown,
                expected=f"registered ids: {', '.join(self._models)}",
            )

    def tier_rank(self, tier: str) -> int:
        """Position of `tier` in the order, 0 for the cheapest."""
        return self.tiers.index(tier)

    def restrict(self, keep: Iterable[str]) -> Registry:
        """A registry with only the models in `keep` (e.g. those with credentials).

        Tiers, capabilities and defaults are kept; the configured baseline is
        dropped if it is not kept, so the baseline falls back to the dearest
        remaining model rather than one that cannot be called.

        Raises:
            ConfigError: `keep` leaves no model.
        """
        ids = set(keep)
        base = self._baseline if self._baseline in ids else None
        return Registry(
            [m for m in self if m.id in ids],
            tiers=[(t, self._bars[t]) for t in self.tiers],
            capabilities=self.capabilities,
            baseline_model=base,
            max_output_tokens=self.max_output_tokens,
            expected_input_tokens=self.expected_input_tokens,
        )

    @property
    def baseline(self) -> ModelSpec:
        """The "always the largest model" counterfactual.

        The configured `baseline_model`, else the dearest model of the top tier
        that has models.
        """
        if self._baseline is not None:
            return self._models[self._baseline]
        for tier in reversed(self.tiers):
            members = [m for m in self if m.tier == tier]
            if members:
                return max(members, key=lambda m: (m.output_per_mtok, m.input_per_mtok))
        raise AssertionError("unreachable: a registry has models")
