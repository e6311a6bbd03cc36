"""`RoutedChatModel`: a LangChain chat model whose every call is a routed hop.

Pass it as ``model=`` to existing code (e.g. ``langchain.agents.create_agent``);
each call, including those that follow tool results, is routed, recorded and
priced. The hop record rides on the reply's ``response_metadata["dispatch"]``,
so it is checkpointed with the messages; the pin is read back from that
history, so it survives restarts with the thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict

from dispatch._loop import HopResult, routing_text
from dispatch.node import Dispatcher
from dispatch.types import Hop, HopRecord, Pin

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
    ) -> tuple[Hop, Pin | None]:
        history = hops_from_messages(messages, specialist=self.specialist)
        ok = [h for h in history if h.error is None]
        pin = (
            Pin(
                model=ok[-1].model,
                tier=ok[-1].tier,
                reason="pinned earlier in this conversation",
            )
            if ok
            else None
        )
        cap = (
            kwargs.pop("max_tokens", None) or self.dispatcher.registry.max_output_tokens
        )
        hop = Hop(
            specialist=self.specialist,
            prompt=routing_text(messages),
            step=f"{self.specialist}#{len(history) + 1}",
            capability_hint=self.capability,
            tier_hint=self.tier,
            after_tool=bool(messages) and isinstance(messages[-1], ToolMessage),
            max_output_tokens=int(cap),
        )
        return hop, pin

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.pop("tools", None)
        hop, pin = self._hop(messages, kwargs)
        return _result(
            self.dispatcher.call(hop, messages, pin=pin, tools=tools, **kwargs)
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.pop("tools", None)
        hop, pin = self._hop(messages, kwargs)
        result = await self.dispatcher.acall(
            hop, messages, pin=pin, tools=tools, **kwargs
        )
        return _result(result)


def _result(result: HopResult) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=result.message)])


def hops_from_messages(
    messages: Sequence[BaseMessage], *, specialist: str | None = None
) -> list[HopRecord]:
    """Hop records carried by routed replies in `messages`, oldest first."""
    out = []
    for m in messages:
        if isinstance(m, AIMessage) and "dispatch" in m.response_metadata:
            record = HopRecord.from_dict(m.response_metadata["dispatch"])
            if specialist is None or record.specialist == specialist:
                out.append(record)
    return out
