"""Cascade escalation, as data: when to verify, what a verdict costs, what is kept.

A specialist with a `verifier` answers on the cheapest eligible model first
(FrugalGPT / AutoMix style). Its answer is then verified; on a failed verdict
the whole specialist run is repeated one tier up, and so on until a verdict
passes or the top tier has answered. The top tier's answer is not verified:
nothing is left to escalate to. Every attempt's hops stay in the records and
every verification is a record of its own (model ``verify:<Verifier>``) whose
cost is charged to the workflow's budget, so escalations are visible and paid.
The drivers live in `dispatch.dispatcher`; verifiers in `dispatch.verify`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from dispatch.registry import Registry
from dispatch.specialist import Specialist, SpecialistRun
from dispatch.types import HopRecord, PinChange, RouterLayer

if TYPE_CHECKING:
    from dispatch.verify import Verdict

__all__ = ("answer_of", "escalated", "next_tier", "task_text", "verdict_record")


def next_tier(
    registry: Registry, specialist: Specialist, run: SpecialistRun
) -> str | None:
    """The tier to escalate to if `run`'s answer fails verification, or None
    when there is nothing to verify (no verifier, a failed run, the top tier)."""
    if specialist.verifier is None or run.error is not None or not run.records:
        return None
    answered = [r for r in run.records if r.error is None and r.tier]
    if not answered:
        return None
    rank = registry.tier_rank(answered[-1].tier)
    return registry.tiers[rank + 1] if rank + 1 < len(registry.tiers) else None


def task_text(messages: Sequence[BaseMessage]) -> str:
    """The task a verifier checks the answer against: the last human turn.

    Not the whole conversation: a verifier (or a judge model) grades the
    answer against the request it answers, and stays cheap on long threads.
    """
    humans = [m for m in messages if isinstance(m, HumanMessage)]
    return humans[-1].text if humans else ""


def answer_of(run: SpecialistRun) -> AIMessage:
    """The run's final model message (the one a verifier checks).

    Only called on a run whose records show an answer (`next_tier` is not
    None), so an `AIMessage` is present.
    """
    return [m for m in run.messages if isinstance(m, AIMessage)][-1]


def verdict_record(
    run: SpecialistRun, specialist: Specialist, verdict: Verdict, *, workflow: str
) -> HopRecord:
    """The record of one verification (its cost is the verifier's model calls).

    It reuses the checked hop's step, round, capability and tier so reports
    group it with the hop; zero tokens, and its baseline cost equals its
    cost, so verification never shows up as a saving. A rejection carries
    ``error_type="VerificationFailed"``, so code can tell it from a model error.
    """
    last = run.records[-1]
    name = type(specialist.verifier).__name__
    cost = Decimal(verdict.cost_usd)
    return HopRecord(
        step=last.step,
        specialist=last.specialist,
        round=last.round,
        capability=last.capability,
        tier=last.tier,
        model=f"verify:{name}",
        input_tokens=0,
        output_tokens=0,
        cost_usd=cost,
        baseline_cost_usd=cost,
        pin_change=PinChange.KEPT,
        router=RouterLayer.FIXED.value,
        confidence=1.0,
        reason=f"{'accepted' if verdict.ok else 'rejected'}: {verdict.reason}",
        duration_ms=0.0,
        error=None if verdict.ok else "verification failed",
        error_type=None if verdict.ok else "VerificationFailed",
        workflow=workflow,
    )


def escalated(cheap: SpecialistRun, higher: SpecialistRun) -> SpecialistRun:
    """The run after escalating: the higher tier's answer, every attempt's records."""
    return SpecialistRun(
        messages=higher.messages,
        records=[*cheap.records, *higher.records],
        pins={**cheap.pins, **higher.pins},
        error=higher.error,
        refused=higher.refused,
    )
