"""Frozen values that flow through a hop: pure data, no behaviour beyond conversion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from typing_extensions import TypedDict

__all__ = (
    "Hop",
    "HopRecord",
    "HopRecordDict",
    "ModelChoice",
    "ModelSpec",
    "Pin",
    "RouteDecision",
    "RouterLayer",
    "Usage",
    "parse_model_id",
)

_DC = {"frozen": True, "slots": True, "kw_only": True}


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split ``"provider:model"`` into ``(provider, model)``.

    Only the first colon separates: ``"ollama:qwen2.5-coder:7b"`` is provider
    ``ollama``, model ``qwen2.5-coder:7b``.
    """
    provider, sep, name = model_id.partition(":")
    if not sep or not provider or not name:
        raise ValueError(f"model id {model_id!r} is not of the form 'provider:model'")
    return provider, name


class RouterLayer(StrEnum):
    """Which router layer produced a decision."""

    HINT = "hint"
    RULES = "rules"
    SEMANTIC = "semantic"
    LEARNED = "learned"
    LLM = "llm"
    FIXED = "fixed"


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
    price_source: str = "yaml"
    """Where the price came from: ``yaml`` or the name of a price map."""

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
    after_tool: bool = False
    """True when this call follows a tool result."""
    input_tokens: int = 0
    """Estimated input tokens of the call (for choosing by expected cost)."""
    max_output_tokens: int = 1024
    """Output cap of the call: the declared output length."""


@dataclass(**_DC)
class RouteDecision:
    """What a hop needs: capability, tier, and how sure the router is."""

    capability: str
    tier: str
    confidence: float
    """0–1."""
    router: RouterLayer
    reason: str
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
    tier: str
    reason: str
    repinned_from: str | None = None


@dataclass(**_DC)
class ModelChoice:
    """The policy's answer for one hop."""

    model: ModelSpec
    decision: RouteDecision
    pinned: bool
    """True when an existing pin was reused."""
    repinned_from: str | None
    """The previously pinned model, when this choice replaced a pin."""
    reason: str
    expected_cost_usd: Decimal


@dataclass(**_DC)
class Usage:
    """Token counts of one call."""

    input_tokens: int
    output_tokens: int
    estimated: bool = False
    """True when the provider reported no usage and the counts are estimates."""


class HopRecordDict(TypedDict):
    """JSON-safe form of a `HopRecord`, as stored in graph state and checkpoints."""

    step: str
    specialist: str
    capability: str
    tier: str
    model: str
    input_tokens: int
    output_tokens: int
    estimated: bool
    cost_usd: str
    baseline_cost_usd: str
    pinned: bool
    repinned_from: str | None
    router: str
    confidence: float
    reason: str
    duration_ms: float
    simulated: bool
    after_tool: bool
    error: str | None
    workflow: str
    refused: bool
    fallback_from: str | None


@dataclass(**_DC)
class HopRecord:
    """What happened on one hop; appended to the graph state's ``hops`` channel."""

    step: str
    specialist: str
    capability: str
    tier: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    baseline_cost_usd: Decimal
    """Cost of the same tokens on the baseline (largest) model."""
    pinned: bool
    router: str
    confidence: float
    reason: str
    duration_ms: float
    estimated: bool = False
    repinned_from: str | None = None
    simulated: bool = False
    after_tool: bool = False
    error: str | None = None
    """Set when the model call failed or was refused; tokens and cost are then zero."""
    workflow: str = ""
    """Id of the workflow run (one per request; a thread holds many)."""
    refused: bool = False
    """True when the budget refused the call before it was made."""
    fallback_from: str | None = None
    """The model that failed before this one served the hop."""

    def as_dict(self) -> HopRecordDict:
        """The JSON-safe form stored in graph state (money as decimal strings)."""
        # Written out rather than dataclasses.asdict, which deep-copies and costs
        # ~0.1 ms per hop (it showed up in bench/overhead.py).
        return HopRecordDict(
            step=self.step,
            specialist=self.specialist,
            capability=self.capability,
            tier=self.tier,
            model=self.model,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            estimated=self.estimated,
            cost_usd=str(self.cost_usd),
            baseline_cost_usd=str(self.baseline_cost_usd),
            pinned=self.pinned,
            repinned_from=self.repinned_from,
            router=self.router,
            confidence=self.confidence,
            reason=self.reason,
            duration_ms=self.duration_ms,
            simulated=self.simulated,
            after_tool=self.after_tool,
            error=self.error,
            workflow=self.workflow,
            refused=self.refused,
            fallback_from=self.fallback_from,
        )

    @classmethod
    def from_dict(cls, d: HopRecordDict) -> HopRecord:
        """Inverse of `as_dict`."""
        kw: dict[str, Any] = {"workflow": "", "refused": False, "fallback_from": None}
        kw.update(d)
        kw["cost_usd"] = Decimal(d["cost_usd"])
        kw["baseline_cost_usd"] = Decimal(d["baseline_cost_usd"])
        return cls(**kw)
