"""The fault-injecting chat model injects what it says, reproducibly."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import StructuredTool
from pydantic import BaseModel

from dispatch import Registry
from dispatch.faults import ErrorKind, error_facts, redact
from dispatch.testing import FakeChatModel
from dispatch.testing_faults import (
    ALL_FAULTS,
    Fault,
    FaultyChatModel,
    InjectedTimeout,
    faulty_factory,
)
from dispatch.types import ModelSpec
from dispatch.verify import ToolArgsVerifier

ASK = [HumanMessage("hi")]
RAISING = {
    Fault.EXCEPTION: (ErrorKind.OTHER, None, False),
    Fault.RATE_LIMIT: (ErrorKind.RATE_LIMIT, 429, True),
    Fault.SERVER: (ErrorKind.SERVER, 503, True),
    Fault.CONNECTION: (ErrorKind.CONNECTION, None, True),
    Fault.TIMEOUT: (ErrorKind.TIMEOUT, None, True),
}


def faulty(*faults: Fault, rate: float = 1.0, **kw: object) -> FaultyChatModel:
    return FaultyChatModel(
        inner=FakeChatModel(replies=[AIMessage(content="fine")]),
        rate=rate,
        faults=faults or ALL_FAULTS,
        **kw,  # type: ignore[arg-type]
    )


def test_rate_zero_passes_every_call_through() -> None:
    model = faulty(rate=0.0)
    for _ in range(20):
        assert model.invoke(ASK).content == "fine"
    assert model.log == [None] * 20


@pytest.mark.parametrize("fault", list(RAISING))
def test_raised_faults_are_shaped_like_provider_errors(fault: Fault) -> None:
    kind, status, retryable = RAISING[fault]
    with pytest.raises(Exception) as caught:
        faulty(fault).invoke(ASK)
    facts = error_facts(caught.value)
    assert (facts.kind, facts.status, facts.retryable) == (kind, status, retryable)


def test_429_carries_retry_after() -> None:
    with pytest.raises(Exception) as caught:
        faulty(Fault.RATE_LIMIT, retry_after_s=7).invoke(ASK)
    assert error_facts(caught.value).summary() == "RateLimitError (429, retry after 7s)"


def test_echoed_secret_is_in_the_message_and_redactable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "fake-openai-key-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with pytest.raises(Exception) as caught:
        faulty(Fault.SERVER, secret=key).invoke(ASK)
    assert key in str(caught.value)
    assert key not in redact(str(caught.value))


@pytest.mark.parametrize(
    ("fault", "usage"),
    [
        (Fault.MISSING_USAGE, None),
        (Fault.MALFORMED_USAGE, {"input_tokens": "many", "total_tokens": None}),
        (
            Fault.NEGATIVE_USAGE,
            {
                "input_tokens": -500,
                "output_tokens": -1_000_000,
                "total_tokens": -1_000_500,
            },
        ),
        (
            Fault.HUGE_USAGE,
            {"input_tokens": 10**9, "output_tokens": 10**9, "total_tokens": 2 * 10**9},
        ),
    ],
)
def test_usage_faults_keep_the_answer_but_corrupt_usage(
    fault: Fault, usage: object
) -> None:
    reply = faulty(fault).invoke(ASK)
    assert reply.content == "fine"
    assert reply.usage_metadata == usage


def test_empty_content() -> None:
    reply = faulty(Fault.EMPTY_CONTENT).invoke(ASK)
    assert reply.content == "" and reply.tool_calls == []


class AddArgs(BaseModel):
    a: int
    b: int


ADD = StructuredTool.from_function(
    func=lambda a, b: a + b, name="add", description="add", args_schema=AddArgs
)


def test_tool_faults_fail_the_tool_args_verifier() -> None:
    verifier = ToolArgsVerifier([ADD])
    unknown = faulty(Fault.UNKNOWN_TOOL).bind_tools([ADD]).invoke(ASK)
    assert unknown.tool_calls[0]["name"] == "no_such_tool"
    assert not verifier.verify("t", unknown).ok
    invalid = faulty(Fault.INVALID_TOOL_ARGS).bind_tools([ADD]).invoke(ASK)
    assert invalid.tool_calls[0]["name"] == "add"
    assert not verifier.verify("t", invalid).ok
    unbound = faulty(Fault.INVALID_TOOL_ARGS).invoke(ASK)
    assert unbound.invalid_tool_calls and not verifier.verify("t", unbound).ok


def test_bound_copies_share_the_rng_and_the_log() -> None:
    model = faulty(rate=0.5, seed=3)
    bound = model.bind_tools([ADD])
    for runnable in (model, bound, model):
        try:
            runnable.invoke(ASK)
        except Exception:
            pass
    assert len(model.log) == 3


def draws(seed: int, n: int = 200) -> list[Fault | None]:
    model = faulty(
        Fault.SERVER, Fault.EMPTY_CONTENT, Fault.HUGE_USAGE, rate=0.3, seed=seed
    )
    for _ in range(n):
        try:
            model.invoke(ASK)
        except Exception:
            pass
    return model.log


def test_same_seed_same_faults_and_the_rate_holds() -> None:
    first = draws(11)
    assert first == draws(11)
    assert first != draws(12)
    share = sum(f is not None for f in first) / len(first)
    assert 0.2 <= share <= 0.4
    assert set(Counter(first)) == {
        None,
        Fault.SERVER,
        Fault.EMPTY_CONTENT,
        Fault.HUGE_USAGE,
    }


def test_async_hang_ends_only_by_cancellation() -> None:
    async def scenario() -> None:
        task = asyncio.create_task(faulty(Fault.HANG).ainvoke(ASK))
        for _ in range(5):
            await asyncio.sleep(0)  # let it start hanging, no wall time passes
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_sync_hang_blocks_until_released() -> None:
    model = faulty(Fault.HANG)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            model.invoke(ASK)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(timeout=0.05)
    assert worker.is_alive()
    model.release_hangs()
    worker.join()
    assert isinstance(outcome[0], InjectedTimeout)


def test_async_path_injects_too() -> None:
    model = faulty(Fault.HUGE_USAGE)
    reply = asyncio.run(model.ainvoke(ASK))
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == 10**9


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="rate"):
        faulty(rate=1.5)
    with pytest.raises(ValueError, match="at least one fault"):
        FaultyChatModel(inner=FakeChatModel(), faults=())


def test_factory_builds_one_reproducible_faulty_model_per_id(
    registry: Registry,
) -> None:
    tiny, mid = registry.get("tiny:model"), registry.get("mid:model")

    def run(order: list[ModelSpec]) -> dict[str, list[Fault | None]]:
        factory = faulty_factory(
            0.5, seed=4, faults=[Fault.SERVER, Fault.EMPTY_CONTENT]
        )
        for spec in order:
            for _ in range(30):
                try:
                    factory(spec).invoke(ASK)
                except Exception:
                    pass
        assert factory(tiny) is factory(tiny)
        return {k: m.log for k, m in factory.models.items()}

    assert run([tiny, mid]) == run([mid, tiny])


def test_factory_per_model_override_makes_a_model_always_429(
    registry: Registry,
) -> None:
    factory = faulty_factory(
        0.0, per_model={"tiny:model": (1.0, [Fault.RATE_LIMIT])}, retry_after_s=3
    )
    with pytest.raises(Exception) as caught:
        factory(registry.get("tiny:model")).invoke(ASK)
    assert error_facts(caught.value).retry_after_s == 3.0
    reply = factory(registry.get("mid:model")).invoke(ASK)
    assert isinstance(reply, AIMessage) and reply.usage_metadata is not None
    assert factory.injected() == {Fault.RATE_LIMIT: 1}
