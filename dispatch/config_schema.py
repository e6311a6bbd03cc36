"""The registry file's schema: pydantic models of every section, strict and cross-checked.

Kept apart from the loader (`dispatch.config`, which re-exports `Config`) so
the schema reads in one place: field docstrings here are the reference for
what the YAML may say. Unknown keys are errors (``extra="forbid"``), money is
an exact `Decimal`, and `Config` checks the references between sections
(tiers, capabilities, the baseline model).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from dispatch.types import MAX_TIMEOUT_S, parse_model_id


def _exact_decimal(value: object) -> object:
    """A YAML float as its shortest repr, so ``0.2`` becomes ``Decimal("0.2")``.

    ``Decimal(0.2)`` would keep the binary error (0.2000000000000000111...),
    and the ledger's sums would drift from the prices the user wrote.
    """
    return str(value) if isinstance(value, float) else value


Money = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0)]
"""USD as an exact `Decimal` >= 0 (prices, budget limits)."""

TimeoutSeconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)]
"""Seconds one model call may take: finite, > 0 and at most `MAX_TIMEOUT_S`
(the bound `ModelSpec` enforces on specs built in code)."""


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
    cache_read_per_mtok: Money | None = None
    """Input tokens read from the provider's prompt cache; null: the price map's
    rate, else `input_per_mtok`."""
    cache_write_per_mtok: Money | None = None
    """Input tokens written to the prompt cache; null: the price map's rate,
    else `input_per_mtok`."""


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
    """Maximum output tokens of one call; None: from the price map. At most
    the context window and `dispatch.types.MAX_TOKENS`: `ModelSpec` checks
    both on the merged values, wherever each came from."""
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
    timeout_s: TimeoutSeconds | None = None
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
    timeout_s: TimeoutSeconds = 120.0
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
    bar: float | None = Field(default=None, ge=0, allow_inf_nan=False)
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
