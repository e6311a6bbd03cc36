"""Cascade escalation: cheapest first, verified, one tier up on a failed check."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from langchain_core.messages import AIMessage, HumanMessage

from dispatch import Dispatcher, Ledger, Registry, Specialist
from dispatch.testing import FakeChatModel, fake_factory
from dispatch.verify import JsonVerifier, Verdict


def dispatcher(registry: Registry) -> Dispatcher:
    return Dispatcher(
        registry,
        model_factory=fake_factory(
            {
                "tiny:model": FakeChatModel(replies=[AIMessage("not json at all")]),
                "mid:model": FakeChatModel(replies=[AIMessage('{"answer": 42}')]),
                "big:model": FakeChatModel(replies=[AIMessage('{"answer": 42}')]),
            }
        ),
    )


def writer(verifier: object) -> Specialist:
    return Specialist(
        name="writer",
        capability="general",
        prompt="p",
        verifier=verifier,  # type: ignore[arg-type]
    )


def test_a_rejected_answer_escalates_one_tier_and_every_attempt_is_paid(
    registry: Registry,
) -> None:
    ledger = Ledger(Decimal(1))
    run = asyncio.run(
        dispatcher(registry).arun_specialist(
            writer(JsonVerifier()), [HumanMessage("Say hello")], ledger=ledger
        )
    )
    assert [(r.model, r.error_type) for r in run.records] == [
        ("tiny:model", None),
        ("verify:JsonVerifier", "VerificationFailed"),
        ("mid:model", None),
        ("verify:JsonVerifier", None),  # accepted: no further escalation
    ]
    assert run.answer == '{"answer": 42}' and run.error is None
    assert ledger.spent == sum((r.cost_usd for r in run.records), Decimal(0))
    assert ledger.reserved == 0


class Raising:
    def verify(self, task: str, answer: AIMessage) -> Verdict:
        raise RuntimeError("judge crashed")

    async def averify(self, task: str, answer: AIMessage) -> Verdict:
        raise RuntimeError("judge crashed")


class PaidJudge:
    def __init__(self) -> None:
        self.calls = 0

    def verify(self, task: str, answer: AIMessage) -> Verdict:
        self.calls += 1
        return Verdict(ok=True, reason="fine", cost_usd=Decimal("0.002"), calls=1)

    async def averify(self, task: str, answer: AIMessage) -> Verdict:
        return self.verify(task, answer)


def test_a_verifier_that_errors_fails_closed_and_escalates(registry: Registry) -> None:
    run = dispatcher(registry).run_specialist(
        writer(Raising()), [HumanMessage("Say hello")]
    )
    models = [r.model for r in run.records if not r.model.startswith("verify:")]
    assert models == ["tiny:model", "mid:model", "big:model"]  # top tier not checked
    assert all(
        r.error_type == "VerificationFailed"
        for r in run.records
        if r.model.startswith("verify:")
    )


def test_the_verifiers_own_cost_is_charged_to_the_budget(registry: Registry) -> None:
    ledger = Ledger(Decimal(1))
    judge = PaidJudge()
    run = dispatcher(registry).run_specialist(
        writer(judge), [HumanMessage("Say hello")], ledger=ledger
    )
    assert judge.calls == 1 and run.records[-1].cost_usd == Decimal("0.002")
    assert ledger.spent == run.records[0].cost_usd + Decimal("0.002")


def test_a_specialist_without_a_verifier_is_never_checked(registry: Registry) -> None:
    run = dispatcher(registry).run_specialist(writer(None), [HumanMessage("Say hello")])
    assert [r.model for r in run.records] == ["tiny:model"]
