"""A chat-model adapter the fault bench needs while `FaultyChatModel` ignores caps.

`dispatch._chat_models.with_output_cap` caps a model through its
``max_tokens``-like field and leaves a model without one as it is.
`FaultyChatModel` has none, so the `SimChatModel` it wraps never sees a hop's
output cap: it answers at its default length, past the hop's reservation, and
the overrun closes the hard budget even in a fault-free run (pinned down by the
strict xfail in ``tests/integration/test_fault_injection.py``). `OutputCapped`
has the field and forwards it as a call argument; `model_factory` applies it
only while `FaultyChatModel` lacks a cap field of its own, so the adapter drops
out by itself once that is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable

from dispatch.testing_faults import FaultyChatModel

__all__ = ("OutputCapped", "model_factory")

_CAP_FIELDS = ("max_tokens", "max_output_tokens", "num_predict")


class OutputCapped(BaseChatModel):
    """Passes the hop's output cap on to a model that has no cap field."""

    inner: Any
    """The wrapped model, or its tool-bound copy."""
    max_tokens: int | None = None
    """The cap `with_output_cap` sets; forwarded on every call."""

    @property
    def _llm_type(self) -> str:
        return "bench-output-capped"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools on the inner model and keep the cap."""
        return self.model_copy(update={"inner": self.inner.bind_tools(tools, **kwargs)})

    def _call_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.max_tokens is None:
            return kwargs
        return {"max_tokens": self.max_tokens, **kwargs}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self.inner.invoke(messages, stop=stop, **self._call_kwargs(kwargs))
        return ChatResult(generations=[ChatGeneration(message=reply)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = await self.inner.ainvoke(
            messages, stop=stop, **self._call_kwargs(kwargs)
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def model_factory(factory: Any) -> Any:
    """`factory` (a `faulty_factory`) with its models honouring output caps."""
    if any(name in FaultyChatModel.model_fields for name in _CAP_FIELDS):
        return factory

    def build(spec: Any) -> BaseChatModel:
        return OutputCapped(inner=factory(spec))

    return build
