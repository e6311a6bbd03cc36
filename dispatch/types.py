"""Frozen values that flow through a hop: pure data, no behaviour beyond conversion.

Layer 0: imports nothing of the project but `dispatch.spec_checks`, so every other
module (pure or not) can share these types without an import cycle. Frozen,
slotted, keyword-only dataclasses: a value handed to a router, the policy or a
span cannot be changed behind the caller's back, and a new field never shifts
positions.

`ModelSpec` checks its own values against `MAX_USD`, `MAX_TOKENS` and
`MAX_TIMEOUT_S`: the one definition of those bounds, which the YAML schema
and the price-map reader import, so a spec built in code and one loaded from a
file are held to the same rule. The bounds and the check live in
`dispatch.spec_checks` (below this module); the bounds are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from dispatch.spec_checks import MAX_TIMEOUT_S, MAX_TOKENS, MAX_USD, check_spec

__all__ = (
    "BUDGET_MODES",
    "MAX_TIMEOUT_S",
    "MAX_TOKENS",
    "MAX_USD",
    "BudgetMode",
    "Hop",
    "Mode",
    "ModelChoice",
    "ModelSpec",
    "Pin",
    "PinChange",
    "RouteDecision",
    "RouterLayer",
    "Usage",
    "parse_model_id",
)

_DC = {"frozen": True, "slots": True, "kw_only": True}
"""The dataclass options every value here uses (see the module docstring)."""

BudgetMode = Literal["hard", "soft", "warn"]
"""``hard`` refuses a call whose worst case does not fit; ``soft`` steps down tiers
as money runs out (then refuses); ``warn`` only records."""
BUDGET_MODES: tuple[BudgetMode, ...] = ("hard", "soft", "warn")
"""`BudgetMode`'s values at run time, for validating untyped input."""


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split ``"provider:model"`` into ``(provider, model)``.

    Only the first colon separates: ``"ollama:qwen2.5-coder:7b"`` is provider
    ``ollama``, model ``qwen2.5-coder:7b``.

    The one place ids are parsed, so every module agrees on the format.

    Raises:
        ValueError: no colon, or an empty provider or model part.
    """
    provider, sep, name = model_id.partition(":")
    if not sep or not provider or not name:
        raise ValueError(f"model id {model_id!r} is not of the form 'provider:model'")
    return provider, name


class RouterLayer(StrEnum):
    """Which router layer produced a decision (recorded on the hop and its span)."""

    HINT = "hint"
    """The plan or the caller named capability and tier outright."""
    RULES = "rules"
    """Text heuristics (`RulesRouter`)."""
    SEMANTIC = "semantic"
    """Nearest capability centroid of example utterances."""
    LEARNED = "learned"
    """A trained classifier or per-model quality heads."""
    LLM = "llm"
    """A small model's structured verdict."""
    FIXED = "fixed"
    """A constant route (`FixedRouter`), or a record no router decided."""


class Mode(StrEnum):
    """How models are called."""

    AUTO = "auto"
    """Live when any provider's credentials are in the environment, else simulated."""
    SIM = "sim"
    """Always the offline simulator."""
    LIVE = "live"
    """Real models only; fails when no provider has credentials."""


class PinChange(StrEnum):
    """What a hop did to its specialist's pin: a fact, never parsed from prose."""

    NEW = "new"
    """No pin existed; the hop chose and pinned a model."""
    KEPT = "kept"
    """The pinned model served the hop."""
    ESCALATED = "escalated"
    """The hop needed a higher tier than the pinned model meets: re-pinned upward."""
    FAILOVER = "failover"
    """The chosen model failed; another model served the hop and is now pinned."""
    DOWNGRADED = "downgraded"
    """Soft budget mode stepped down a tier to fit what is left."""
    REPLACED = "replaced"
    """The pinned model is no longer registered; a new one was chosen."""


@dataclass(**_DC)
class ModelSpec:
    """One model of the registry: price, limits and expected quality."""

    id: str
    """`provider:model`, e.g. ``anthropic:claude-haiku-4-5``."""
    tier: str
    """The price class the model belongs to (``small`` < ``medium`` < ``large``)."""
    quality: dict[str, float]
    """Expected quality 0–1 per capability; a capability absent here is not served."""
    input_per_mtok: Decimal
    """USD per million input tokens."""
    output_per_mtok: Decimal
    """USD per million output tokens."""
    context_window: int
    """Maximum input tokens."""
    max_output_tokens: int
    """Maximum output tokens of one call."""
    local: bool = False
    """True for a model served on the user's own hardware (Ollama, vLLM)."""
    latency_ms: int = 1000
    """Typical latency of one call; breaks ties between equally cheap models."""
    base_url: str | None = None
    """Endpoint of an OpenAI-compatible server, for local models."""
    rpm: int | None = None
    """Requests per minute allowed, if the provider limits them."""
    tpm: int | None = None
    """Tokens per minute allowed, if the provider limits them."""
    timeout_s: float | None = None
    """Seconds one call may take before it is abandoned; None: no bound."""
    price_source: str = "yaml"
    """Where the price came from: ``yaml`` or the name of a price map."""
    cache_read_per_mtok: Decimal | None = None
    """USD per million input tokens read from the provider's prompt cache;
    None: not known, billed at `input_per_mtok` (never a discount we cannot show)."""
    cache_write_per_mtok: Decimal | None = None
    """USD per million input tokens written to the prompt cache (Anthropic
    charges a premium for them); None: billed at `input_per_mtok`."""

    def __post_init__(self) -> None:
        """Refuse values no registry file could declare (`check_spec`).

        Raises:
            InvalidModelSpec: names the model, the field, the value and the bound.
        """
        check_spec(self)

    @property
    def cache_read_rate(self) -> Decimal:
        """USD per million cache-read input tokens (the input rate when unknown)."""
        rate = self.cache_read_per_mtok
        return self.input_per_mtok if rate is None else rate

    @property
    def cache_write_rate(self) -> Decimal:
        """USD per million cache-write input tokens (the input rate when unknown)."""
        rate = self.cache_write_per_mtok
        return self.input_per_mtok if rate is None else rate

    @property
    def provider(self) -> str:
        """The part of `id` before the first colon."""
        return parse_model_id(self.id)[0]

    @property
    def name(self) -> str:
        """The part of `id` after the first colon."""
        return parse_model_id(self.id)[1]


@dataclass(**_DC)
class Hop:
    """One dispatched unit: a sub-task for a specialist, or a call after a tool result."""

    specialist: str
    """Name of the specialist the hop is handed to."""
    prompt: str
    """The text the router reads (the task, or the latest turn)."""
    step: str = ""
    """Where in the workflow the hop sits, e.g. the sub-task id."""
    capability_hint: str | None = None
    """Capability named by the plan or the specialist, if any."""
    tier_hint: str | None = None
    """Tier named by the plan, if any."""
    round: int = 0
    """Model calls before this one in the specialist's tool loop (0: the first)."""
    input_tokens: int = 0
    """Estimated input tokens of the call (for choosing by expected cost)."""
    max_output_tokens: int = 1024
    """Output cap of the call: the declared output length."""
    sensitive: frozenset[str] = frozenset()
    """Kinds of personal data or secrets in the call's input (`dispatch.privacy`);
    non-empty restricts the hop to local models."""

    @property
    def after_tool(self) -> bool:
        """True when this call follows a tool result."""
        return self.round > 0


@dataclass(**_DC)
class RouteDecision:
    """What a hop needs: capability, tier, and how sure the router is."""

    capability: str
    """One of the registry's capabilities."""
    tier: str
    """One of the registry's tiers: the quality bar the model must meet."""
    confidence: float
    """0–1; `HybridRouter` passes to the next layer below its threshold."""
    router: RouterLayer
    """The layer that decided."""
    reason: str
    """Why, in words, for records and spans (code reads the fields)."""
    quality: Mapping[str, float] | None = None
    """Predicted probability, per registered model id, that the model answers this
    prompt well (the learned layer); the policy prefers it to the registry's prior."""
    bar: float | None = None
    """Calibrated quality bar for this hop (the learned layer's willingness to pay);
    None: the registry's bar for `tier`."""


@dataclass(**_DC)
class Pin:
    """The model chosen for one specialist within one conversation."""

    model: str
    """The pinned model's registry id."""
    tier: str
    """The tier the model was chosen for (see `PinChange.ESCALATED`)."""
    reason: str
    """Why it was pinned, in words."""
    repinned_from: str | None = None
    """The model this pin replaced, if any."""


@dataclass(**_DC)
class ModelChoice:
    """The policy's answer for one hop."""

    model: ModelSpec
    """The model to call."""
    decision: RouteDecision
    """The router's decision the choice was made for."""
    pin_change: PinChange
    """What this choice does to the specialist's pin."""
    repinned_from: str | None
    """The previously pinned model, when this choice replaced a pin."""
    reason: str
    """Why this model, in words (for people; code reads `pin_change`)."""
    expected_cost_usd: Decimal
    """The worst case the ledger reserves: input estimate plus the output cap."""
    max_output_tokens: int
    """The output cap sent to the model: the hop's, clamped to the model's limit."""

    @property
    def pinned(self) -> bool:
        """True when an existing pin was reused."""
        return self.pin_change is PinChange.KEPT


@dataclass(**_DC)
class Usage:
    """Token counts of one call."""

    input_tokens: int
    """Input tokens as reported; cache reads are a subset, not extra."""
    output_tokens: int
    """Output tokens as reported; reasoning tokens are a subset, not extra."""
    estimated: bool = False
    """True when the provider reported no usage and the counts are estimates."""
    cache_read_tokens: int = 0
    """Input tokens served from the provider's prompt cache (a subset of
    `input_tokens`: ``input_token_details.cache_read``)."""
    cache_write_tokens: int = 0
    """Input tokens written to the prompt cache (a subset of `input_tokens`:
    ``input_token_details.cache_creation``)."""
