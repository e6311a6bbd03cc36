"""`RoutedChatModel`: a LangChain chat model whose every call is a routed hop.

Pass it as ``model=`` to existing code (e.g. ``langchain.agents.create_agent``);
each call, including those that follow tool results, is routed, recorded and
priced, and charged to a budget: inside a LangGraph run the run's ledger
(`dispatch.langgraph.run_ledger`: its `DispatchContext`, a named
``workflow_id``, or ``configurable["budget_usd"]``/``["budget_mode"]``), else
the model's own ledger (one per instance, with the dispatcher's default
budget). The hop record rides on the reply's
``response_metadata["dispatch"]``, so it is checkpointed with the messages; the
pins are read back from that history, so they survive restarts with the thread.
A hop that fails on every model, or that the budget refuses, raises `HopFailed`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr

from dispatch._chat_models import OUTPUT_CAP_SETTINGS
from dispatch.budget import Ledger
from dispatch.dispatcher import Dispatcher
from dispatch.hop import HopResult
from dispatch.langgraph.context import run_ledger
from dispatch.pins import pin_key
from dispatch.records import HopRecord, record_from_state
from dispatch.specialist import conversation_hop, follows_tool
from dispatch.types import Hop, Pin

__all__ = ("RoutedChatModel", "hops_from_messages")


class RoutedChatModel(BaseChatModel):
    """A chat model that dispatches each call through a `Dispatcher`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    dispatcher: Dispatcher
    """Routes, selects and records each call."""
    specialist: str = "general"
    """Name the calls are pinned and recorded under."""
    capability: str | None = None
    """Capability hint for every call; None lets the router decide per call."""
    tier: str | None = None
    """Tier hint for every call; None lets the router decide per call."""
    _own_ledger: Ledger | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        """Refuse a capability or tier hint the registry does not declare."""
        super().model_post_init(context)
        self.dispatcher.registry.check_hints(
            "RoutedChatModel", capability=self.capability, tier=self.tier
        )

    @property
    def _llm_type(self) -> str:
        return "dispatch-routed"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"specialist": self.specialist, "capability": self.capability}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; they are bound to whichever model each call is routed to."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=list(tools), **kwargs)

    def _hop(
        self, messages: Sequence[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[Hop, dict[str, Pin], Pin | None]:
        """The hop of one call, the conversation's pins and the tool loop's pin.

        Pins are read back from the hop records riding on earlier replies, so a
        checkpointed thread keeps them across processes; a call that follows a
        tool result continues the loop on the model that started it.
        """
        history = [
            h
            for h in hops_from_messages(messages, specialist=self.specialist)
            if h.error is None
        ]
        pins = {
            pin_key(h.specialist, h.tier): Pin(
                model=h.model, tier=h.tier, reason="pinned earlier in this conversation"
            )
            for h in history
        }
        loop_pin = (
            pins[pin_key(self.specialist, history[-1].tier)]
            if (follows_tool(messages) and history)
            else None
        )
        # every cap the caller bound (`.bind(max_completion_tokens=...)` too)
        # comes out of the call's kwargs: the smallest becomes the hop's cap,
        # which the policy clamps and the ledger reserves for
        asked = [kwargs.pop(n) for n in OUTPUT_CAP_SETTINGS if n in kwargs]
        cap = min(
            (int(c) for c in asked if c),
            default=self.dispatcher.registry.max_output_tokens,
        )
        hop = conversation_hop(
            messages,
            specialist=self.specialist,
            capability=self.capability,
            tier=self.tier,
            max_output_tokens=int(cap),
        )
        return hop, pins, loop_pin

    def _ledger(self) -> Ledger:
        """The ledger this call charges: the LangGraph run's when inside one that
        names a budget (`DispatchContext`, ``workflow_id``, ``budget_usd`` or
        ``budget_mode`` in ``configurable``), else this model's own."""
        config = var_child_runnable_config.get()
        conf = (config or {}).get("configurable") or {}
        runtime = conf.get("__pregel_runtime")
        names_budget = any(
            conf.get(key) is not None
            for key in ("workflow_id", "budget_usd", "budget_mode")
        )
        if names_budget or getattr(runtime, "context", None) is not None:
            return run_ledger(self.dispatcher, config)
        if self._own_ledger is None:
            spec = self.dispatcher.budget
            self._own_ledger = Ledger(
                spec.limit_usd, spec.mode, workflow=f"{self.specialist}-model"
            )
        return self._own_ledger

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.pop("tools", None)
        hop, pins, loop_pin = self._hop(messages, kwargs)
        result = self.dispatcher.call(
            hop,
            messages,
            pins=pins,
            loop_pin=loop_pin,
            tools=tools,
            ledger=self._ledger(),
            **kwargs,
        )
        return _result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.pop("tools", None)
        hop, pins, loop_pin = self._hop(messages, kwargs)
        result = await self.dispatcher.acall(
            hop,
            messages,
            pins=pins,
            loop_pin=loop_pin,
            tools=tools,
            ledger=self._ledger(),
            **kwargs,
        )
        return _result(result)


def _result(result: HopResult) -> ChatResult:
    """A chat result for LangChain, or `HopFailed` when the hop failed or was refused."""
    message = result.raise_for_failure().message
    assert message is not None  # raise_for_failure guarantees it
    return ChatResult(generations=[ChatGeneration(message=message)])


def hops_from_messages(
    messages: Sequence[BaseMessage], *, specialist: str | None = None
) -> list[HopRecord]:
    """Hop records carried by routed replies in `messages`, oldest first.

    Raises:
        ConfigError: a reply's ``response_metadata["dispatch"]`` is not a hop
            record (the history was edited or built by hand): it names the
            message. Pins are read from these records, so a broken one is not
            guessed at.
    """
    out = []
    for i, m in enumerate(messages):
        if isinstance(m, AIMessage) and "dispatch" in m.response_metadata:
            where = f"messages[{i}].response_metadata['dispatch']"
            record = record_from_state(m.response_metadata["dispatch"], where)
            if specialist is None or record.specialist == specialist:
                out.append(record)
    return out
