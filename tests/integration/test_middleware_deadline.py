"""`DispatchMiddleware` on the sync path when a model hangs: the attempt is
abandoned at its ``timeout_s``, and its late answer never replaces the one the
hop kept."""

from __future__ import annotations

import threading
import time
from typing import Any

from conftest import SMALL_REGISTRY, registry_from_text
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

from dispatch import Dispatcher, DispatchMiddleware, hop_records
from dispatch.health import ModelHealth
from dispatch.hop import HopResult
from dispatch.resilience import RetrySettings
from dispatch.testing import FakeChatModel, fake_factory

REGISTRY = registry_from_text(
    SMALL_REGISTRY.replace("    latency_ms: 100\n", "    latency_ms: 100\n    timeout_s: 0.2\n")
)  # fmt: skip


HANG_S = 10.0
"""How long a hung call hangs when nobody releases it."""


class Blocking(FakeChatModel):
    """Holds every call until `release` is set, then answers (late)."""

    release: threading.Event = Field(default_factory=threading.Event)
    answered: threading.Event = Field(default_factory=threading.Event)

    def _generate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        self.release.wait(HANG_S)  # bounded: a driver that waits fails, not hangs
        try:
            return super()._generate(messages, *args, **kwargs)
        finally:
            self.answered.set()


class LateAnswer(Dispatcher):
    """Lets the hung model answer after the hop is decided and before the
    middleware builds the agent's response from it."""

    hung: Blocking

    def call(self, *args: Any, **kwargs: Any) -> HopResult:
        result = super().call(*args, **kwargs)
        self.hung.release.set()
        assert self.hung.answered.wait(5)
        time.sleep(0.2)  # for the abandoned attempt's handler to finish
        return result


def test_an_abandoned_attempts_late_answer_does_not_replace_the_kept_one() -> None:
    hung = Blocking(replies=[AIMessage("late answer from tiny")])
    mid = FakeChatModel(replies=[AIMessage("served by mid")])
    dispatcher = LateAnswer(
        REGISTRY,
        model_factory=fake_factory({"tiny:model": hung, "mid:model": mid}),
        health=ModelHealth(retry=RetrySettings(attempts=1)),
    )
    dispatcher.hung = hung
    mw = DispatchMiddleware(dispatcher, specialist="assistant")
    agent = create_agent(mw.model, tools=[], middleware=[mw])
    try:
        state = agent.invoke({"messages": [HumanMessage("Say hello")]})
    finally:
        hung.release.set()
    timed_out, served = hop_records(state)
    assert (timed_out.model, timed_out.error_type) == ("tiny:model", "TimeoutError")
    assert served.model == "mid:model"
    assert state["messages"][-1].text == "served by mid"
