"""Frozen values that flow through a hop: pure data, no behaviour beyond conversion.

Layer 0: imports nothing of the project, so every other module (pure or not)
can share these types without an import cycle. Frozen, slotted, keyword-only
dataclasses: a value handed to a router, the policy or a span cannot be
changed behind the caller's back, and a new field never shifts positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from typing_extensions import TypedDict

__all__ = (
    "BUDGET_MODES",
    "BudgetMode",
    "CircuitFact",
    "CircuitFactDict",
    "Hop",
    "HopRecord",
    "HopRecordDict",
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


class CircuitFactDict(TypedDict):
    """JSON-safe form of a `CircuitFact` (the same keys)."""

    model: str
    state: str
    failures: int
    calls: int
    opened_at: str | None
    probe_at: str | None
    last_error: str | None


@dataclass(**_DC)
class CircuitFact:
    """A model's circuit breaker as one hop attempt saw it, kept on its record.

    The breaker lives in the process (`dispatch.health.ModelHealth`) and is
    gone when it exits; these facts are how ``dispatch report`` shows it from
    the checkpoint. Times are wall-clock UTC (ISO 8601), not the breaker's
    monotonic clock, so they mean something to a reader later.
    """

    model: str
    state: str
    """``closed``, ``open`` or ``half_open``."""
    failures: int
    """Model faults among the calls in the breaker's window."""
    calls: int
    """Calls reported in the breaker's window."""
    opened_at: str | None = None
    """When the circuit last opened (open / half-open circuits)."""
    probe_at: str | None = None
    """From when a half-open probe is allowed (open circuits)."""
    last_error: str | None = None
    """Secret-free summary of the model's last fault."""

    def as_dict(self) -> CircuitFactDict:
        """The JSON-safe form stored on hop records."""
        return {
            "model": self.model,
            "state": self.state,
            "failures": self.failures,
            "calls": self.calls,
            "opened_at": self.opened_at,
            "probe_at": self.probe_at,
            "last_error": self.last_error,
        }


class HopRecordDict(TypedDict):
    """JSON-safe form of a `HopRecord`, as stored in graph state and checkpoints.

    The same keys as `HopRecord`'s fields (a test holds them equal); money is a
    decimal string and `pin_change` the enum's value.
    """

    step: str
    specialist: str
    round: int
    capability: str
    tier: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: str
    baseline_cost_usd: str
    pin_change: str
    router: str
    confidence: float
    reason: str
    duration_ms: float
    estimated: bool
    repinned_from: str | None
    simulated: bool
    error: str | None
    error_type: str | None
    workflow: str
    refused: bool
    fallback_from: str | None
    attempt: int
    usage_anomaly: str | None
    sensitive: list[str]
    circuits: list[CircuitFactDict]


@dataclass(**_DC)
class HopRecord:
    """What happened on one model call of a hop; appended to the ``hops`` channel.

    A hop that failed over or was retried has one record per attempt, all with
    the same `step` and `round`.
    """

    step: str
    """The sub-task (or node) the hop belongs to."""
    specialist: str
    """The specialist the hop was handed to."""
    capability: str
    """The routed capability."""
    tier: str
    """The tier the model was chosen for."""
    model: str
    """The model called (``verify:<Verifier>`` for a verification record)."""
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    """What the call cost, exact (the ledger's unit: USD)."""
    baseline_cost_usd: Decimal
    """Cost of the same tokens on the baseline (largest) model."""
    pin_change: PinChange
    """What the call did to the specialist's pin."""
    router: str
    """The `RouterLayer` value that decided (a plain string in state)."""
    confidence: float
    reason: str
    """Why the model was chosen, in words; code reads `pin_change` and `error_type`."""
    duration_ms: float
    """Wall time of the call, milliseconds."""
    round: int = 0
    """Model calls before this one in the specialist's tool loop (0: the first)."""
    estimated: bool = False
    """True when the provider reported no usage and the tokens are estimates."""
    repinned_from: str | None = None
    """The model the pin held before this hop replaced it."""
    simulated: bool = False
    """True when the offline simulator answered instead of a real model."""
    error: str | None = None
    """A secret-free summary of why the call failed or was refused (never raw
    provider text); tokens and cost are then zero."""
    error_type: str | None = None
    """The exception type (e.g. ``RateLimitError``) or ``BudgetExceeded``."""
    workflow: str = ""
    """Id of the workflow run whose budget paid (one per request; a thread holds many)."""
    refused: bool = False
    """True when the budget refused the call before it was made."""
    fallback_from: str | None = None
    """The model that failed before this one served the hop."""
    attempt: int = 1
    """1 for the first call of this hop; higher for retries and failovers."""
    usage_anomaly: str | None = None
    """Set when the provider's reported usage was impossible and was clamped."""
    sensitive: tuple[str, ...] = ()
    """Kinds of personal data or secrets found in the call's input (never the
    values); non-empty means only local models were considered."""
    circuits: tuple[CircuitFact, ...] = ()
    """Circuits worth knowing about when this attempt ended: the called model's
    when it has faults in its window or is not closed, and every other model's
    that is not closed (the policy skips those). Empty when all is well."""

    @property
    def pinned(self) -> bool:
        """True when the specialist's existing pin served this call."""
        return self.pin_change is PinChange.KEPT

    @property
    def after_tool(self) -> bool:
        """True when this call followed a tool result."""
        return self.round > 0

    def as_dict(self) -> HopRecordDict:
        """The JSON-safe form stored in graph state (money as decimal strings)."""
        # getattr over a precomputed name tuple, not dataclasses.asdict, which
        # deep-copies and costs ~0.1 ms per hop (it showed up in bench/overhead.py).
        d: dict[str, Any] = {name: getattr(self, name) for name in _RECORD_FIELDS}
        d["cost_usd"] = str(self.cost_usd)
        d["baseline_cost_usd"] = str(self.baseline_cost_usd)
        d["pin_change"] = self.pin_change.value
        d["sensitive"] = list(self.sensitive)
        d["circuits"] = [c.as_dict() for c in self.circuits]
        return d  # type: ignore[return-value]

    @classmethod
    def from_dict(cls, d: HopRecordDict | dict[str, Any]) -> HopRecord:
        """Inverse of `as_dict`; records checkpointed by older versions load too."""
        kw: dict[str, Any] = {k: v for k, v in d.items() if k in _RECORD_FIELDS}
        kw["cost_usd"] = Decimal(d["cost_usd"])
        kw["baseline_cost_usd"] = Decimal(d["baseline_cost_usd"])
        kw["sensitive"] = tuple(d.get("sensitive") or ())
        kw["circuits"] = tuple(CircuitFact(**c) for c in d.get("circuits") or ())
        if "pin_change" in d:
            kw["pin_change"] = PinChange(d["pin_change"])
        else:  # written before pin changes were facts
            kw["pin_change"] = (
                PinChange.KEPT
                if d.get("pinned")
                else PinChange.ESCALATED
                if d.get("repinned_from")
                else PinChange.NEW
            )
        if "round" not in d:
            step = str(d.get("step", ""))
            base, _, n = step.partition("+tool")
            kw["step"], kw["round"] = base, int(n) if n.isdigit() else 0
        return cls(**kw)


_RECORD_FIELDS: tuple[str, ...] = tuple(HopRecordDict.__annotations__)
