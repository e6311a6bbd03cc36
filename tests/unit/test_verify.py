"""Cascade verifiers: each one's pass and fail, their costs, and failing closed."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import StructuredTool
from pydantic import BaseModel

from dispatch.testing import FakeChatModel
from dispatch.types import ModelSpec
from dispatch.verify import (
    CodeRunsVerifier,
    JsonVerifier,
    LLMJudge,
    SelfConsistency,
    ToolArgsVerifier,
    Verdict,
    Verifier,
    asafe_verify,
    choose_threshold,
    safe_verify,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
JUDGE_SPEC = ModelSpec(
    id="judge:model",
    tier="large",
    quality={"general": 0.9},
    input_per_mtok=Decimal(5),
    output_per_mtok=Decimal(25),
    context_window=100_000,
    max_output_tokens=4000,
)


def said(text: str, **kw: Any) -> AIMessage:
    return AIMessage(content=text, **kw)


class Person(BaseModel):
    name: str
    age: int


# --- JsonVerifier ----------------------------------------------------------------


def test_json_without_schema_only_needs_to_parse() -> None:
    assert JsonVerifier().verify("t", said('{"a": 1}')).ok
    verdict = JsonVerifier().verify("t", said("{'a': 1}"))
    assert not verdict.ok and verdict.reason.startswith("not JSON")


def test_json_in_a_fenced_block_is_found() -> None:
    answer = said('Here you go:\n```json\n{"name": "Ada", "age": 36}\n```\nDone.')
    assert JsonVerifier(Person).verify("t", answer).ok


def test_pydantic_schema_failure_names_the_field_not_the_value() -> None:
    verdict = JsonVerifier(Person).verify(
        "t", said('{"name": "Ada", "age": "s3cret-ish"}')
    )
    assert not verdict.ok
    assert "age" in verdict.reason and "s3cret-ish" not in verdict.reason


def test_json_schema_dict_is_validated() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }
    assert JsonVerifier(schema).verify("t", said('{"n": 3}')).ok
    verdict = JsonVerifier(schema).verify("t", said('{"n": "three"}'))
    assert not verdict.ok and "n: type check failed" in verdict.reason
    assert not JsonVerifier(schema).verify("t", said("{}")).ok


def test_an_invalid_json_schema_is_refused_up_front() -> None:
    with pytest.raises(Exception, match="is not valid"):
        JsonVerifier({"type": "no-such-type"})


# --- ToolArgsVerifier --------------------------------------------------------------


class AddArgs(BaseModel):
    a: int
    b: int


ADD = StructuredTool.from_function(
    func=lambda a, b: a + b, name="add", description="add", args_schema=AddArgs
)


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": "c1", "type": "tool_call"}


def test_valid_tool_calls_pass() -> None:
    verdict = ToolArgsVerifier([ADD]).verify(
        "t", said("", tool_calls=[call("add", {"a": 1, "b": 2})])
    )
    assert verdict.ok and verdict.reason == "1 tool call(s) valid"
    assert ToolArgsVerifier([ADD]).verify("t", said("no tools needed")).ok


def test_unknown_tool_fails_and_names_the_known_ones() -> None:
    verdict = ToolArgsVerifier([ADD]).verify(
        "t", said("", tool_calls=[call("rm_rf", {})])
    )
    assert not verdict.ok
    assert verdict.reason == "unknown tool 'rm_rf'; known: add"


def test_invalid_args_fail() -> None:
    answer = said("", tool_calls=[call("add", {"a": 1, "b": "two"})])
    verdict = ToolArgsVerifier([ADD]).verify("t", answer)
    assert not verdict.ok and verdict.reason.startswith(
        "tool 'add' args: 1 error(s): b:"
    )


def test_unparsable_tool_call_fails() -> None:
    answer = said(
        "",
        invalid_tool_calls=[
            {
                "name": "add",
                "args": "{not json",
                "id": "c1",
                "error": "bad",
                "type": "invalid_tool_call",
            }
        ],
    )
    assert not ToolArgsVerifier([ADD]).verify("t", answer).ok


# --- CodeRunsVerifier ----------------------------------------------------------------

GOOD = "```python\ndef sq(x):\n    return x * x\n```\nand tests:\n```python\nassert sq(3) == 9\n```"
BAD = "```python\ndef sq(x):\n    return x + x\nassert sq(3) == 9\n```"


class RecordingRunner:
    """Stands in for the sandbox: records programs, answers with a fixed output."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.programs: list[str] = []

    def __call__(self, code: str) -> str:
        self.programs.append(code)
        return self.output


def test_code_blocks_are_joined_with_the_extra_tests_and_run() -> None:
    runner = RecordingRunner("(no output)")
    verifier = CodeRunsVerifier(runner, tests="assert sq(4) == 16")
    assert verifier.verify("t", said(GOOD)).ok
    assert runner.programs == [
        "def sq(x):\n    return x * x\n\n\nassert sq(3) == 9\n\n\nassert sq(4) == 16"
    ]


def test_non_zero_exit_fails_with_the_status() -> None:
    runner = RecordingRunner("exit status 1\nstdout:\n\nstderr:\nAssertionError")
    verdict = CodeRunsVerifier(runner).verify("t", said(BAD))
    assert not verdict.ok and verdict.reason == "code failed: exit status 1"


def test_no_python_block_fails() -> None:
    runner = RecordingRunner("")
    answer = said("```bash\nrm -rf /\n```")
    assert not CodeRunsVerifier(runner).verify("t", answer).ok
    assert runner.programs == []


def test_runs_in_the_real_coding_sandbox() -> None:
    from dispatch.agents.coding import execute_python

    verifier = CodeRunsVerifier(execute_python)
    assert verifier.verify("t", said(GOOD)).ok
    assert not verifier.verify("t", said(BAD)).ok
    assert asyncio.run(verifier.averify("t", said(GOOD))).ok


def test_a_runner_that_raises_fails_closed_through_safe_verify() -> None:
    def timed_out(code: str) -> str:
        raise TimeoutError("run_python: timed out after 5 s")

    verdict = safe_verify(CodeRunsVerifier(timed_out), "t", said(GOOD))
    assert not verdict.ok
    assert (
        verdict.reason
        == "CodeRunsVerifier raised TimeoutError (timeout); failing closed"
    )


# --- SelfConsistency -----------------------------------------------------------------


def test_agreement_share_decides() -> None:
    verifier = SelfConsistency(
        lambda: ["x\nAnswer: B", "answer: b.", "Answer: A", "Answer: B"], k=4
    )
    verdict = verifier.verify("t", said("thinking...\nAnswer: B"))
    assert verdict.ok and verdict.score == 0.75 and verdict.calls == 4
    strict = SelfConsistency(lambda: ["A", "A", "B", "B"], k=4, agreement=0.75)
    assert not strict.verify("t", said("B")).ok


def test_only_k_samples_are_used_and_none_fails_closed() -> None:
    verifier = SelfConsistency(lambda: ["A", "B", "B", "B"], k=1)
    assert verifier.verify("t", said("A")).score == 1.0
    assert not SelfConsistency(lambda: [], k=3).verify("t", said("A")).ok


def test_sample_costs_are_priced_and_reported() -> None:
    sample = AIMessage(
        content="42",
        usage_metadata={
            "input_tokens": 1000,
            "output_tokens": 200,
            "total_tokens": 1200,
        },
    )
    verifier = SelfConsistency(lambda: [sample, sample], k=2, spec=JUDGE_SPEC)
    verdict = verifier.verify("t", said("42"))
    # 2 x (1000 x $5 + 200 x $25) / 1e6
    assert verdict.cost_usd == Decimal("0.02")


def test_async_samples() -> None:
    async def asample() -> list[str]:
        return ["7", "7"]

    verifier = SelfConsistency(lambda: ["8", "8"], asample=asample, k=2)
    assert asyncio.run(verifier.averify("t", said("7"))).ok
    assert (
        asyncio.run(SelfConsistency(lambda: ["8"], k=1).averify("t", said("7"))).ok
        is False
    )


def test_self_consistency_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="k >= 1"):
        SelfConsistency(lambda: [], k=0)


# --- LLMJudge --------------------------------------------------------------------------


def judge_reply(args: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[call("JudgeScore", args)])


def test_judge_score_against_threshold_with_its_cost() -> None:
    model = FakeChatModel(replies=[judge_reply({"score": 0.9, "reason": "correct"})])
    verdict = LLMJudge(model, threshold=0.7, spec=JUDGE_SPEC).verify("2+2?", said("4"))
    assert verdict.ok and verdict.score == 0.9 and verdict.calls == 1
    # FakeChatModel reports 100 in / 20 out: (100 x 5 + 20 x 25) / 1e6
    assert verdict.cost_usd == Decimal("0.001")
    assert "2+2?" in model.requests[0][1].text


def test_low_judge_score_escalates() -> None:
    model = FakeChatModel(replies=[judge_reply({"score": 0.2, "reason": "wrong"})])
    verdict = asyncio.run(LLMJudge(model, spec=JUDGE_SPEC).averify("2+2?", said("5")))
    assert not verdict.ok and verdict.reason.startswith("judge score 0.20 (need 0.70)")


def test_unusable_judge_output_fails_closed_and_still_costs() -> None:
    model = FakeChatModel(replies=[judge_reply({"score": 7})])  # out of 0..1
    verdict = LLMJudge(model, spec=JUDGE_SPEC).verify("t", said("x"))
    assert not verdict.ok and verdict.reason == "judge gave no usable score"
    assert verdict.cost_usd == Decimal("0.001")


def test_a_judge_that_raises_fails_closed_without_leaking_its_message() -> None:
    model = FakeChatModel(
        replies=[ConnectionError("key sk-proj-abcdefghijklmnop0123 refused")]
    )
    verdict = safe_verify(LLMJudge(model), "t", said("x"))
    assert not verdict.ok and "sk-proj" not in verdict.reason
    verdict = asyncio.run(asafe_verify(LLMJudge(model), "t", said("x")))
    assert (
        verdict.reason == "LLMJudge raised ConnectionError (connection); failing closed"
    )


# --- protocol and fail-closed wrapper -------------------------------------------------


def test_every_shipped_verifier_satisfies_the_protocol() -> None:
    shipped = [
        JsonVerifier(),
        ToolArgsVerifier([ADD]),
        CodeRunsVerifier(RecordingRunner("")),
        SelfConsistency(lambda: ["a"]),
        LLMJudge(FakeChatModel()),
    ]
    assert all(isinstance(v, Verifier) for v in shipped)


class Liar:
    def verify(self, task: str, answer: AIMessage) -> Any:
        return True

    async def averify(self, task: str, answer: AIMessage) -> Any:
        return True


def test_a_verifier_returning_no_verdict_fails_closed() -> None:
    assert safe_verify(Liar(), "t", said("x")) == Verdict(
        ok=False, reason="Liar returned no Verdict"
    )
    assert not asyncio.run(asafe_verify(Liar(), "t", said("x"))).ok


def test_cancellation_is_not_swallowed() -> None:
    class Cancelled(Liar):
        async def averify(self, task: str, answer: AIMessage) -> Any:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(asafe_verify(Cancelled(), "t", said("x")))


# --- calibration --------------------------------------------------------------------------


def test_choose_threshold_catches_most_within_the_escalation_budget() -> None:
    scores = [0.0, 0.25, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0]
    wrong = [True, True, False, True, False, False, True, False, False, False]
    choice = choose_threshold(scores, wrong, max_escalation=0.3)
    assert choice.threshold == 0.5  # escalates the 3 scores below 0.5
    assert (choice.escalation_rate, choice.catch_rate) == (0.3, 0.5)
    assert choice.false_escalation_rate == pytest.approx(1 / 6)
    assert choose_threshold(scores, wrong, max_escalation=1.0).threshold == float("inf")
    assert choose_threshold(scores, wrong, max_escalation=0.0).threshold == 0.0
    with pytest.raises(ValueError, match="equally long"):
        choose_threshold([0.1], [True, False])


def test_default_agreement_is_the_one_calibrated_on_winogrande() -> None:
    if not (DATA / "routerbench_train.jsonl").exists():
        pytest.skip(f"benchmark data not found under {DATA}")
    from bench.verifier_calibration import load

    rows = load(DATA / "routerbench_train.jsonl")
    choice = choose_threshold(
        [r.agreement for r in rows],
        [not r.cheap_right for r in rows],
        max_escalation=0.3,
    )
    assert len(rows) == 887
    assert choice.threshold == SelfConsistency(lambda: []).agreement == 0.5
    assert round(choice.escalation_rate, 3) == 0.223
    assert round(choice.catch_rate, 3) == 0.392
