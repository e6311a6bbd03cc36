"""Verifiers that call models: self-consistency of k samples, an LLM judge.

Neither builds or owns a model client: sampling is an injected callable and
the judge an injected chat model, so the caller decides which model and
temperature are used and tests pass plain strings. Both price their calls
from ``usage_metadata`` on the `spec` they are given, and report the cost in
the verdict for the hop path to charge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from dispatch.cost import call_cost, usage_of
from dispatch.types import ModelSpec
from dispatch.verify._base import Verdict
from dispatch.verify._base import clip_reason as _reason

__all__ = ("JudgeScore", "LLMJudge", "SelfConsistency", "final_line")


def final_line(text: str) -> str:
    """Default answer key for agreement: the last non-empty line, case- and
    space-normalised, trailing punctuation dropped."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return " ".join(last.lower().split()).rstrip(".!;")


Sample = str | AIMessage
"""A sampled answer: text alone (uncosted) or a message whose usage is priced."""


class SelfConsistency:
    """k more cheap samples agree with the answer in >= `agreement` of cases.

    `sample` (or the async `asample`) returns the samples for one check: plain
    strings, or `AIMessage`s whose usage is priced on `spec` and reported in the
    verdict. Answers are compared by `key` (default `final_line`).
    """

    def __init__(
        self,
        sample: Callable[[], Sequence[Sample]],
        *,
        asample: Callable[[], Awaitable[Sequence[Sample]]] | None = None,
        k: int = 4,
        agreement: float = 0.5,
        spec: ModelSpec | None = None,
        key: Callable[[str], str] = final_line,
    ) -> None:
        """Keep the samplers and the agreement rule.

        Raises:
            ValueError: `k` < 1 or `agreement` outside [0, 1].
        """
        if k < 1 or not 0.0 <= agreement <= 1.0:
            raise ValueError(
                f"SelfConsistency needs k >= 1 and 0 <= agreement <= 1 ({k=}, {agreement=})"
            )
        self.sample, self.asample = sample, asample
        self.k, self.agreement, self.spec, self.key = k, agreement, spec, key

    def _decide(self, answer: AIMessage, samples: Sequence[Sample]) -> Verdict:
        """Compare the first `k` samples' keys with the answer's; price them.

        No samples at all is a failed verdict: silence is not agreement.
        """
        samples = list(samples)[: self.k]
        cost = Decimal(0)
        texts: list[str] = []
        for s in samples:
            if isinstance(s, AIMessage):
                texts.append(s.text)
                if self.spec is not None:
                    usage = usage_of(s, [])
                    cost += call_cost(
                        self.spec, usage.input_tokens, usage.output_tokens
                    )
            else:
                texts.append(str(s))
        if not texts:
            return Verdict(ok=False, reason="no samples to compare", cost_usd=cost)
        mine = self.key(answer.text)
        share = sum(self.key(t) == mine for t in texts) / len(texts)
        return Verdict(
            ok=share >= self.agreement,
            reason=f"{share:.0%} of {len(texts)} samples agree (need {self.agreement:.0%})",
            cost_usd=cost,
            calls=len(texts),
            score=share,
        )

    def verify(self, task: str, answer: AIMessage) -> Verdict:
        """Draw the samples and compare."""
        return self._decide(answer, self.sample())

    async def averify(self, task: str, answer: AIMessage) -> Verdict:
        """Draw the samples with `asample` (else `sample` in a thread) and compare."""
        if self.asample is not None:
            samples = await self.asample()
        else:
            samples = await asyncio.to_thread(self.sample)
        return self._decide(answer, samples)


class JudgeScore(BaseModel):
    """What the judge model returns (the structured-output schema).

    A pydantic model because ``with_structured_output`` turns it into the
    provider's tool/JSON schema and validates the reply; the 0-1 range is
    enforced there, so a judge cannot pass with a score of 7.
    """

    score: float = Field(
        ge=0.0, le=1.0, description="0 = wrong or useless, 1 = fully correct"
    )
    reason: str = Field(default="", description="One short sentence.")


_JUDGE_SYSTEM = (
    "You grade answers. Given a task and a proposed answer, return `score` from 0 "
    "to 1 for how likely the answer is fully correct and complete, and a one-sentence "
    "`reason`. Do not solve the task again at length."
)


class LLMJudge:
    """A judge model scores the answer; ok when ``score >= threshold``.

    `model` must support ``with_structured_output``; `spec` prices the judge's
    tokens (from ``usage_metadata``, estimated when absent) into the verdict.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        threshold: float = 0.7,
        spec: ModelSpec | None = None,
    ) -> None:
        """Wrap `model` for structured output once, not per check.

        Raises:
            ValueError: `threshold` outside [0, 1].
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"LLMJudge threshold must be within 0..1, got {threshold}")
        self.threshold, self.spec = threshold, spec
        self._judge = model.with_structured_output(JudgeScore, include_raw=True)

    @staticmethod
    def request(task: str, answer: AIMessage) -> list[BaseMessage]:
        """The judge's prompt: a fixed grading instruction, then task and answer.

        Only the answer's text is shown: the judge grades what the user would
        read, not tool calls or metadata.
        """
        return [
            SystemMessage(_JUDGE_SYSTEM),
            HumanMessage(f"Task:\n{task}\n\nProposed answer:\n{answer.text}"),
        ]

    def _decide(self, request: list[BaseMessage], out: Any) -> Verdict:
        """Price the judge's call and read its score; no usable score fails.

        The call is charged even when the reply did not parse: it was paid.
        """
        raw, parsed = (
            (out.get("raw"), out.get("parsed"))
            if isinstance(out, dict)
            else (None, out)
        )
        cost = Decimal(0)
        if isinstance(raw, AIMessage) and self.spec is not None:
            usage = usage_of(raw, request)
            cost = call_cost(self.spec, usage.input_tokens, usage.output_tokens)
        if not isinstance(parsed, JudgeScore):
            return Verdict(
                ok=False, reason="judge gave no usable score", cost_usd=cost, calls=1
            )
        return Verdict(
            ok=parsed.score >= self.threshold,
            reason=_reason(
                f"judge score {parsed.score:.2f} (need {self.threshold:.2f}): {parsed.reason}"
            ),
            cost_usd=cost,
            calls=1,
            score=parsed.score,
        )

    def verify(self, task: str, answer: AIMessage) -> Verdict:
        """Ask the judge."""
        request = self.request(task, answer)
        return self._decide(request, self._judge.invoke(request))

    async def averify(self, task: str, answer: AIMessage) -> Verdict:
        """Ask the judge asynchronously."""
        request = self.request(task, answer)
        return self._decide(request, await self._judge.ainvoke(request))
