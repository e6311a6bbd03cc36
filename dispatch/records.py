"""What a hop leaves behind: its records, as values and as the JSON kept in graph state.

A `HopRecord` is appended to the ``hops`` channel for every model call of a
hop (retries, failovers and verifications each get one); `HopRecordDict` is
its checkpointed form, written once from the field list so the two cannot
drift. `CircuitFact` is a model's breaker state as one attempt saw it, kept on
the record so ``dispatch report`` can show it from the checkpoint. Frozen,
slotted, keyword-only like every value in `dispatch.types`. Records read back
from state anyone may write go through `record_from_state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from typing_extensions import TypedDict

from dispatch.errors import ConfigError
from dispatch.types import PinChange

__all__ = (
    "CircuitFact",
    "CircuitFactDict",
    "HopRecord",
    "HopRecordDict",
    "record_from_state",
)

_DC = {"frozen": True, "slots": True, "kw_only": True}


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
    cache_read_tokens: int
    cache_write_tokens: int


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
    cache_read_tokens: int = 0
    """Of `input_tokens`, those read from the provider's prompt cache (billed
    at the model's cache-read rate)."""
    cache_write_tokens: int = 0
    """Of `input_tokens`, those written to the prompt cache (billed at the
    model's cache-write rate)."""
    _json: dict[str, Any] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """`as_dict`'s scalar fields, built once: a hop's record is written to the
    reply's metadata and to the ``hops`` channel."""

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
        scalars = self._json
        if scalars is None:
            scalars = {name: getattr(self, name) for name in _RECORD_FIELDS}
            scalars["cost_usd"] = str(self.cost_usd)
            scalars["baseline_cost_usd"] = str(self.baseline_cost_usd)
            scalars["pin_change"] = self.pin_change.value
            object.__setattr__(self, "_json", scalars)
        d = dict(scalars)  # each caller owns its dict (and lists)
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


def record_from_state(raw: object, where: str) -> HopRecord:
    """A hop record read back from graph state (a ``hops`` entry), checked.

    Raises:
        ConfigError: `raw` is not what `HopRecord.as_dict` writes (hand-edited
            or foreign state); the message names `where` (e.g. ``hops[3]``)
            and what is missing or wrong, never the record's content.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: not a hop record (found {type(raw).__name__})")
    try:
        record = HopRecord.from_dict(dict(raw))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else type(exc).__name__
        raise ConfigError(f"{where}: not a hop record ({what})") from None
    for name in ("model", "tier", "specialist"):
        value = getattr(record, name)
        if not isinstance(value, str) or (name != "model" and not value):
            kind = type(value).__name__
            raise ConfigError(f"{where}.{name}: found {kind}, expected a string")
    return record
