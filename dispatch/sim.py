"""Dry-run simulator: ``sim:`` chat models that stand in for the registry's real models.

No instruction-tuned model runs offline on a 2-core CPU, so the offline demo uses
these. A `SimChatModel` answers deterministically, reports token usage derived
from the prompt (`estimate_message_tokens`) and a declared output length (the
call's ``max_tokens`` cap, scaled by a deterministic 60–100 % factor hashed from
model and prompt), and is priced by the registry at the real model's list price.

With tools bound, it calls the first tool whose arguments it can fill from the
prompt (fenced code -> ``code``, an arithmetic expression -> ``expression``,
numbers -> ``values``, the question -> ``query``), then answers from the tool
result: so tool-following hops, and the real tools, run in the demo.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from dispatch.cost import estimate_message_tokens, estimate_tokens

__all__ = ("SIM_PREFIX", "SimChatModel")

SIM_PREFIX = "sim:"
"""Model ids starting with this are simulated stand-ins."""

_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)
_EXPR = re.compile(r"[-+(]*\d[\d.\s]*(?:[-+*/%^]\s*[(]*\s*\d[\d.\s]*[)]*\s*)+")
_NUMBER_LIST = re.compile(r"(?:-?\d+(?:\.\d+)?\s*,\s*){2,}-?\d+(?:\.\d+)?")


class SimChatModel(BaseChatModel):
    """A deterministic stand-in for `model` (a registry id); see the module docstring."""

    model: str
    """The registry model this stands in for, e.g. ``openai:gpt-5.4-mini``."""
    default_output_tokens: int = 256
    """Declared output length when the call gives no ``max_tokens``."""

    @property
    def _llm_type(self) -> str:
        return "dispatch-sim"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools in OpenAI format, as a provider model would."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools: list[dict[str, Any]] = kwargs.get("tools") or []
        cap = int(kwargs.get("max_tokens") or self.default_output_tokens)
        input_tokens = estimate_message_tokens(messages) + sum(
            estimate_tokens(str(t)) for t in tools
        )
        message = self._tool_call(messages, tools) or self._answer(messages, cap)
        if message.tool_calls:
            output_tokens = sum(
                estimate_tokens(c["name"] + str(c["args"])) for c in message.tool_calls
            )
        else:
            output_tokens = self._declared_length(messages, cap)
        message.usage_metadata = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        message.response_metadata = {
            "model_name": SIM_PREFIX + self.model,
            "simulated": True,
        }
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _declared_length(self, messages: Sequence[BaseMessage], cap: int) -> int:
        digest = hashlib.sha256(
            (self.model + "\x00" + "".join(m.text for m in messages)).encode()
        ).digest()
        fraction = 0.6 + 0.4 * digest[0] / 255
        return max(1, round(cap * fraction))

    def _tool_call(
        self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]]
    ) -> AIMessage | None:
        if not tools or not isinstance(messages[-1], HumanMessage):
            return None
        prompt = messages[-1].text
        for tool in tools:
            fn = tool["function"]
            args = _fill_args(fn.get("parameters", {}), prompt)
            if args is not None:
                call_id = "call_" + hashlib.sha256(prompt.encode()).hexdigest()[:12]
                return AIMessage(
                    content="",
                    tool_calls=[{"name": fn["name"], "args": args, "id": call_id}],
                )
        return None

    def _answer(self, messages: Sequence[BaseMessage], cap: int) -> AIMessage:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        task = next(
            (m.text for m in reversed(messages) if isinstance(m, HumanMessage)), ""
        )
        head = f"[simulated {self.model}]"
        if results:
            body = "; ".join(r.text.strip().replace("\n", " ")[:160] for r in results)
            text = f"{head} From the tool results: {body}"
        else:
            text = f"{head} Answer to: {task.strip().splitlines()[0][:160] if task else ''}"
        return AIMessage(content=text)


def _fill_args(schema: dict[str, Any], prompt: str) -> dict[str, Any] | None:
    props: dict[str, Any] = schema.get("properties", {})
    required = schema.get("required", list(props))
    args: dict[str, Any] = {}
    for name in required:
        value = _value_for(name, props.get(name, {}), prompt)
        if value is None:
            return None
        args[name] = value
    return args


def _value_for(name: str, prop: dict[str, Any], prompt: str) -> Any:
    if name == "code":
        m = _FENCE.search(prompt)
        return m.group(1) if m else None
    if name == "values":
        m = _NUMBER_LIST.search(prompt)
        return [float(x) for x in m.group(0).split(",")] if m else None
    if name == "expression":
        candidates = [e.strip() for e in _EXPR.findall(prompt)]
        return max(candidates, key=len) if candidates else None
    if name == "query":
        return prompt.strip().splitlines()[0][:200]
    if "enum" in prop:
        return next((v for v in prop["enum"] if str(v) in prompt), prop["enum"][0])
    return None
