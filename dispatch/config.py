"""The YAML configuration: validated by pydantic at load time, turned into plain values.

A bad file raises `ConfigError` naming the file, the path inside it, what was
found and what was expected. This is the only module that reads files or uses
pydantic; everything downstream works on `dispatch.types` values.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from dispatch._prices import PriceMap, load_price_map
from dispatch.errors import ConfigError
from dispatch.types import ModelSpec, parse_model_id

__all__ = (
    "DEFAULT_CONFIG",
    "Config",
    "PriceMap",
    "load_config",
    "load_price_map",
)

DEFAULT_CONFIG = "default"
"""Name accepted by `load_config` for the registry shipped with the package."""


def _exact_decimal(value: object) -> object:
    """A YAML float as its shortest repr, so ``0.2`` becomes ``Decimal("0.2")``.

    ``Decimal(0.2)`` would keep the binary error (0.2000000000000000111...),
    and the ledger's sums would drift from the prices the user wrote.
    """
    return str(value) if isinstance(value, float) else value


Money = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0)]
"""USD as an exact `Decimal` >= 0 (prices, budget limits)."""


class _Strict(BaseModel):
    """Unknown keys are errors (a misspelt ``max_ouput_tokens`` must not be
    silently ignored) and loaded values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TierConfig(_Strict):
    """One tier: a name and the minimum expected quality a model needs to serve it."""

    name: str = Field(min_length=1)
    """What routers and hints call the tier, e.g. ``small``."""
    min_quality: float = Field(ge=0, le=1)
    """The bar: a model serves a capability at this tier when its expected
    quality for it is at least this. Non-decreasing down the list."""


class PriceConfig(_Strict):
    """Explicit prices in USD per million tokens; they override the price map."""

    input_per_mtok: Money
    """USD per million input tokens."""
    output_per_mtok: Money
    """USD per million output tokens."""


class ModelConfig(_Strict):
    """One model as declared in YAML. Missing prices/limits come from the price map."""

    id: str
    """``provider:model``; checked by `parse_model_id` at load time."""
    tier: str
    """One of the declared tiers."""
    capabilities: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1)
    """Expected quality 0-1 per declared capability; unlisted ones are not served."""
    price: PriceConfig | None = None
    """Explicit prices; None: look the model up in the price map."""
    context_window: int | None = Field(default=None, gt=0)
    """Maximum input tokens; None: from the price map."""
    max_output_tokens: int | None = Field(default=None, gt=0)
    """Maximum output tokens of one call; None: from the price map."""
    location: Literal["local", "remote"] = "remote"
    """``local`` for a model on the user's own hardware (Ollama, vLLM)."""
    latency_ms: int = Field(default=1000, gt=0)
    """Typical latency; breaks ties between equally cheap models."""
    base_url: str | None = None
    """Endpoint of an OpenAI-compatible or Ollama server."""
    rpm: int | None = Field(default=None, gt=0)
    """Requests per minute the provider allows; None: unlimited."""
    tpm: int | None = Field(default=None, gt=0)
    """Tokens per minute the provider allows; None: unlimited."""
    timeout_s: float | None = Field(default=None, gt=0)
    """Seconds one call may take; None: `DefaultsConfig.timeout_s`."""
    price_key: str | None = None
    """Key of this model in the price map, when it differs from the default guess."""

    @model_validator(mode="after")
    def _id_has_provider(self) -> ModelConfig:
        """Refuse an id without ``provider:`` (raises `ConfigError` via pydantic)."""
        parse_model_id(self.id)
        return self


class PricesConfig(_Strict):
    """Where prices and context windows come from when the YAML does not give them."""

    source: Literal["auto", "litellm", "none"] = "auto"
    """``auto``: LiteLLM's map if the `litellm` package is installed, else YAML only."""
    file: str | None = None
    """A JSON file in LiteLLM's price-map format; relative to the config file."""


class DefaultsConfig(_Strict):
    """Defaults applied to hops that do not say otherwise."""

    max_output_tokens: int = Field(default=1024, gt=0)
    """Output cap of a hop that declares none; it prices the worst case reserved."""
    expected_input_tokens: int = Field(default=800, gt=0)
    """Input size assumed when a hop's is unknown, to rank models by planned cost."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Seconds one model call may take before it is abandoned (then retried or
    failed over); a model's own ``timeout_s`` overrides it."""
    baseline_model: str | None = None
    """Model the "always the largest model" counterfactual is priced at."""


class BudgetConfig(_Strict):
    """Default budget of a workflow whose run config names none."""

    limit_usd: Money | None = None
    """USD per workflow run; null for no limit."""
    mode: Literal["hard", "soft", "warn"] = "hard"
    """See `dispatch.types.BudgetMode`; hard by default, so a limit is a limit."""


class RoutingConfig(_Strict):
    """The learned router to load at start-up (`dispatch train` writes one)."""

    artefact: str | None = None
    """Path of a ``.npz`` artefact, relative to the config file; null: no learned layer."""
    bar: float | None = Field(default=None, ge=0)
    """Overrides the artefact's calibrated bar."""


class PrivacyConfig(_Strict):
    """Privacy routing (`dispatch.privacy`): hops whose input holds personal data
    or secrets go to ``location: local`` models only."""

    enabled: bool = False
    """Scan every model call's input; needs the ``privacy`` extra."""
    kinds: list[Literal["email", "phone", "payment_card", "iban", "secret"]] = [
        "email",
        "phone",
        "payment_card",
        "iban",
        "secret",
    ]
    """Detector families to run."""
    phone_region: str = "US"
    """Region whose national phone formats count (``+``-prefixed numbers always do)."""


class Config(_Strict):
    """The whole configuration file.

    Field types catch local mistakes; `_cross_refs` catches the ones that
    span sections (a model's unknown tier or capability, duplicate ids,
    tiers out of order), each reported at its path in the file.
    """

    version: Literal[1] = 1
    """Format version; a future layout bumps it rather than guessing."""
    capabilities: list[str] = Field(min_length=1)
    """The open set of capabilities routers may return."""
    tiers: list[TierConfig] = Field(min_length=1)
    """Tiers cheapest first; order is rank (escalation goes down the list)."""
    models: list[ModelConfig] = Field(min_length=1)
    prices: PricesConfig = PricesConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    budget: BudgetConfig = BudgetConfig()
    routing: RoutingConfig = RoutingConfig()
    privacy: PrivacyConfig = PrivacyConfig()

    @model_validator(mode="after")
    def _cross_refs(self) -> Config:
        """Check references between sections; the first problem is raised."""
        tiers = [t.name for t in self.tiers]
        if len(set(tiers)) != len(tiers):
            raise _CrossRef("tiers", tiers, "unique tier names")
        for i, (a, b) in enumerate(zip(self.tiers, self.tiers[1:], strict=False)):
            if b.min_quality < a.min_quality:
                raise _CrossRef(
                    f"tiers[{i + 1}].min_quality",
                    b.min_quality,
                    f">= {a.min_quality} (tiers are ordered cheapest first)",
                )
        ids: set[str] = set()
        for i, m in enumerate(self.models):
            if m.id in ids:
                raise _CrossRef(f"models[{i}].id", m.id, "a model id not used before")
            ids.add(m.id)
            if m.tier not in tiers:
                raise _CrossRef(
                    f"models[{i}].tier", m.tier, f"one of {', '.join(tiers)}"
                )
            for cap in m.capabilities:
                if cap not in self.capabilities:
                    raise _CrossRef(
                        f"models[{i}].capabilities.{cap}",
                        cap,
                        f"one of the declared capabilities {', '.join(self.capabilities)}",
                    )
        base = self.defaults.baseline_model
        if base is not None and base not in ids:
            raise _CrossRef(
                "defaults.baseline_model", base, "the id of a declared model"
            )
        return self


class _CrossRef(ValueError):
    """A cross-section error with its own path: `parse_config` reports that
    path, not the validator's location (which would be the whole file)."""

    def __init__(self, path: str, found: object, expected: str) -> None:
        self.path, self.found, self.expected = path, found, expected
        super().__init__(f"{path}: found {found!r}, expected {expected}")


def load_config(source: str | Path = DEFAULT_CONFIG) -> tuple[Config, list[ModelSpec]]:
    """Load and validate a config file; return it and its fully priced model specs.

    Args:
        source: a path to a YAML file, or ``"default"`` for the shipped registry.

    Returns:
        The validated config and one `ModelSpec` per model, each price and
        limit filled from the YAML, else the price map.

    Raises:
        ConfigError: the file is missing, not YAML, or not a valid configuration,
            or a model has a price or limit in neither the YAML nor the map.

    Example:
        >>> config, specs = load_config()  # the shipped registry
        >>> all(s.input_per_mtok >= 0 for s in specs)
        True
    """
    if str(source) == DEFAULT_CONFIG:
        text = (
            resources.files("dispatch")
            .joinpath("data/registry.yaml")
            .read_text("utf-8")
        )
        label, base = "dispatch/data/registry.yaml", None
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read config: {exc.strerror}", file=str(path)
            ) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config is not UTF-8 text (byte {exc.start}: {exc.reason})",
                file=str(path),
            ) from exc
        label, base = str(path), path.parent
    config = parse_config(text, label=label)
    prices = load_price_map(config.prices.file, config.prices.source, base=base)
    return config, [
        _spec(m, i, prices, label, config.defaults) for i, m in enumerate(config.models)
    ]


def parse_config(text: str, *, label: str = "<config>") -> Config:
    """Validate YAML text as a `Config`; errors name `label` and the path inside it.

    Only the first validation error is reported: it is the one to fix, and a
    list of twenty consequences of one typo helps nobody.

    Raises:
        ConfigError: invalid YAML, a non-mapping top level, or an invalid field.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=label) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            "the top level must be a mapping",
            file=label,
            found=raw,
            expected="a mapping",
        )
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _CrossRef):
            raise ConfigError(
                "invalid value",
                file=label,
                path=ctx_err.path,
                found=ctx_err.found,
                expected=ctx_err.expected,
            ) from None
        loc = _format_loc(err["loc"])
        raise ConfigError(
            err["msg"],
            file=label,
            path=loc or None,
            found=err.get("input"),
            expected=_expected(err),
        ) from None


def _format_loc(loc: tuple[int | str, ...]) -> str:
    """pydantic's ``("models", 2, "tier")`` as ``models[2].tier``, as in the YAML."""
    out = ""
    for part in loc:
        out += (
            f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        )
    return out


def _expected(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return "no such field (check the spelling)"
    if kind == "missing":
        return "a value (the field is required)"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return str(err["msg"]).removeprefix("Input should be ")
    return (
        str(err["msg"]).removeprefix("Input should be ").removeprefix("Value error, ")
    )


def _spec(
    m: ModelConfig,
    i: int,
    prices: PriceMap | None,
    label: str,
    defaults: DefaultsConfig,
) -> ModelSpec:
    """The priced spec of model `i`: YAML values first, then the price map.

    `price_source` records ``yaml`` unless some value came from the map, so
    ``dispatch models`` can say where a price was taken from.

    Raises:
        ConfigError: a price or limit is in neither; names ``models[i].<field>``.
    """
    entry = prices.lookup(m.id, m.price_key) if prices else None
    source = "yaml"

    def need(field: str, yaml_value: Any, map_value: Any) -> Any:
        nonlocal source
        if yaml_value is not None:
            return yaml_value
        if map_value is not None:
            source = prices.name if prices else source
            return map_value
        where = f"not in the price map {prices.name!r}" if prices else "no price map"
        raise ConfigError(
            f"model {m.id!r} has no {field} ({where})",
            file=label,
            path=f"models[{i}].{field}",
            found=None,
            expected=f"an explicit {field} in the YAML",
        )

    price_in = m.price.input_per_mtok if m.price else None
    price_out = m.price.output_per_mtok if m.price else None
    return ModelSpec(
        id=m.id,
        tier=m.tier,
        quality=dict(m.capabilities),
        input_per_mtok=need(
            "price.input_per_mtok", price_in, entry and entry.input_per_mtok
        ),
        output_per_mtok=need(
            "price.output_per_mtok", price_out, entry and entry.output_per_mtok
        ),
        context_window=need(
            "context_window", m.context_window, entry and entry.context_window
        ),
        max_output_tokens=need(
            "max_output_tokens", m.max_output_tokens, entry and entry.max_output_tokens
        ),
        local=m.location == "local",
        latency_ms=m.latency_ms,
        base_url=m.base_url,
        rpm=m.rpm,
        tpm=m.tpm,
        timeout_s=m.timeout_s or defaults.timeout_s,
        price_source=source,
    )
