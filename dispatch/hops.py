"""Build `HopRecord`s from a choice and what the call returned (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage

from dispatch.cost import call_cost, usage_of
from dispatch.registry import Registry
from dispatch.types import Hop, HopRecord, ModelChoice, Pin

__all__ = ("failed_record", "next_pin", "settled_record")


def settled_record(
    hop: Hop,
    choice: ModelChoice,
    message: AIMessage,
    request: Sequence[BaseMessage],
    registry: Registry,
    *,
    duration_ms: float,
    workflow: str = "",
    fallback_from: str | None = None,
) -> HopRecord:
    """The record of a call that returned `message`, priced from its usage."""
    usage = usage_of(message, request)
    return HopRecord(
        step=hop.step,
        specialist=hop.specialist,
        capability=choice.decision.capability,
        tier=choice.decision.tier,
        model=choice.model.id,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        estimated=usage.estimated,
        cost_usd=call_cost(choice.model, usage.input_tokens, usage.output_tokens),
        baseline_cost_usd=call_cost(
            registry.baseline, usage.input_tokens, usage.output_tokens
        ),
        pinned=choice.pinned,
        repinned_from=choice.repinned_from,
        router=choice.decision.router.value,
        confidence=choice.decision.confidence,
        reason=f"{choice.decision.reason} -> {choice.reason}",
        duration_ms=duration_ms,
        simulated=bool(message.response_metadata.get("simulated")),
        after_tool=hop.after_tool,
        workflow=workflow,
        fallback_from=fallback_from,
    )


def failed_record(
    hop: Hop,
    choice: ModelChoice,
    error: str,
    *,
    duration_ms: float,
    simulated: bool,
    workflow: str = "",
    refused: bool = False,
    fallback_from: str | None = None,
) -> HopRecord:
    """The record of a call that raised, or that the budget refused: no tokens, no cost."""
    return HopRecord(
        step=hop.step,
        specialist=hop.specialist,
        capability=choice.decision.capability,
        tier=choice.decision.tier,
        model=choice.model.id,
        input_tokens=0,
        output_tokens=0,
        cost_usd=call_cost(choice.model, 0, 0),
        baseline_cost_usd=call_cost(choice.model, 0, 0),
        pinned=choice.pinned,
        repinned_from=choice.repinned_from,
        router=choice.decision.router.value,
        confidence=choice.decision.confidence,
        reason=choice.reason,
        duration_ms=duration_ms,
        simulated=simulated,
        after_tool=hop.after_tool,
        error=error,
        workflow=workflow,
        refused=refused,
        fallback_from=fallback_from,
    )


def next_pin(choice: ModelChoice) -> Pin:
    """The specialist's pin after a successful hop on `choice`."""
    if choice.pinned:
        return Pin(
            model=choice.model.id,
            tier=choice.decision.tier,
            reason=choice.reason.removeprefix("pinned since: "),
        )
    return Pin(
        model=choice.model.id,
        tier=choice.decision.tier,
        reason=choice.reason,
        repinned_from=choice.repinned_from,
    )
