"""Dry-run simulator: ``sim:`` chat models that stand in for the registry's real models.

No instruction-tuned model runs offline on a 2-core CPU, so the offline demo uses
these. A `SimChatModel` answers deterministically, reports token usage derived
from the prompt (`estimate_message_tokens`) and a declared output length (the
call's output cap, scaled by a deterministic 60–100 % factor hashed from model
and prompt), and is priced by the registry at the real model's list price. The
cap is honoured in every provider's spelling (``max_tokens``,
``max_completion_tokens``, ``max_output_tokens``, ``num_predict``, Ollama's
``options``, an OpenAI-compatible ``extra_body``) and as the `max_tokens` field
that `dispatch._chat_models.with_output_cap` sets: so a simulated hop never
declares more output than the ledger reserved.

Its text says it is simulated and shows what the run really produced: the tool
results it was given, and for a prompt that carries findings (the synthesis,
a task with its dependencies' results) the task and each finding, cut at word
boundaries.

Like the providers' automatic prompt caching (OpenAI, Gemini), a model reports
``input_token_details.cache_read`` for the longest message prefix of a request
that it has already seen, once that prefix is at least `cache_min_tokens` long:
so a pinned conversation reads its history from the cache, and a switch to
another model starts cold. The cache is per model instance (the dispatcher
keeps one per model) and lives as long as it does.

With tools bound, it calls the first tool whose arguments it can fill from the
prompt (fenced code -> ``code``, an arithmetic expression -> ``expression``,
numbers -> ``values``, the question -> ``query``), then answers from the tool
result: so tool-following hops, and the real tools, run in the demo.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from dispatch.cost import estimate_message_tokens, estimate_tokens

__all__ = ("SIM_PREFIX", "SimChatModel")

SIM_PREFIX = "sim:"
"""Model ids starting with this are simulated stand-ins."""

_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)
"""A fenced Python block: the ``code`` argument of a code tool."""
_EXPR = re.compile(r"[-+(]*\d[\d.\s]*(?:[-+*/%^]\s*[(]*\s*\d[\d.\s]*[)]*\s*)+")
"""An arithmetic expression (numbers joined by operators): ``expression``."""
_NUMBER_LIST = re.compile(r"(?:-?\d+(?:\.\d+)?\s*,\s*){2,}-?\d+(?:\.\d+)?")
"""Three or more comma-separated numbers: the ``values`` of a statistics tool."""


class SimChatModel(BaseChatModel):
    """A deterministic stand-in for `model` (a registry id); see the module docstring."""

    model: str
    """The registry model this stands in for, e.g. ``openai:gpt-5.4-mini``."""
    default_output_tokens: int = 256
    """Declared output length when neither the call nor `max_tokens` caps it."""
    max_tokens: int | None = None
    """Output cap of every call (what `with_output_cap` sets), unless the call
    names one."""
    cache_min_tokens: int = 1024
    """Shortest prefix the simulated prompt cache serves (OpenAI's minimum)."""
    latency_s: float = Field(default=0.0, ge=0)
    """Seconds each call takes (a sleep, also on the async path, which LangChain
    runs in a thread), to watch a simulated run progress; the CLI and
    ``langgraph dev`` read it from ``DISPATCH_SIM_LATENCY_S``."""
    _prefixes: set[bytes] = PrivateAttr(default_factory=set)
    """Digests of the prefixes seen; shared by the shallow copies
    `with_output_cap` makes, as a provider's cache is shared by its clients."""

    @property
    def _llm_type(self) -> str:
        """LangChain's model-type tag."""
        return "dispatch-sim"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What LangChain's caches and callbacks identify this model by."""
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
        """A tool call when a bound tool's arguments can be filled, else an answer.

        Usage is always reported (bound tool schemas count as input, as they
        do for a provider), and the response is tagged ``simulated`` so the hop
        record and the CLI can say so.
        """
        if self.latency_s:
            time.sleep(self.latency_s)
        tools: list[dict[str, Any]] = kwargs.get("tools") or []
        cap = _call_cap(kwargs) or self.max_tokens or self.default_output_tokens
        input_tokens = estimate_message_tokens(messages) + sum(
            estimate_tokens(str(t)) for t in tools
        )
        message = self._tool_call(messages, tools) or self._answer(messages, cap)
        if message.tool_calls:
            # a real provider stops at the cap too, tool call or not
            output_tokens = min(
                cap,
                sum(
                    estimate_tokens(c["name"] + str(c["args"]))
                    for c in message.tool_calls
                ),
            )
        else:
            output_tokens = self._declared_length(messages, cap)
        message.usage_metadata = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
        cached = self._cache_read(messages, tools)
        if cached:
            message.usage_metadata["input_token_details"] = {"cache_read": cached}
        message.response_metadata = {
            "model_name": SIM_PREFIX + self.model,
            "simulated": True,
        }
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _cache_read(
        self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]]
    ) -> int:
        """Tokens of the longest already-seen prefix of this request (0 below
        `cache_min_tokens`); the request's prefixes are remembered."""
        digest = hashlib.sha256(str(tools).encode())
        tokens = sum(estimate_tokens(str(t)) for t in tools)
        cached = 0
        for m in messages:
            digest.update(f"\x00{m.type}\x00{m.text}".encode())
            tokens += estimate_message_tokens([m])
            key = digest.copy().digest()
            if key in self._prefixes:
                cached = tokens
            else:
                self._prefixes.add(key)
        return cached if cached >= self.cache_min_tokens else 0

    def _declared_length(self, messages: Sequence[BaseMessage], cap: int) -> int:
        """60-100 % of `cap`, from a hash of model and prompt: costs vary like a
        real run's, yet every rerun of a demo prints the same numbers."""
        digest = hashlib.sha256(
            (self.model + "\x00" + "".join(m.text for m in messages)).encode()
        ).digest()
        fraction = 0.6 + 0.4 * digest[0] / 255
        return max(1, round(cap * fraction))

    def _tool_call(
        self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]]
    ) -> AIMessage | None:
        """A call of the first tool whose required arguments the prompt fills.

        Only when the last message is the human's: after a tool result the
        model answers, so a tool loop always ends. The call id is a hash of
        the prompt, so reruns match.
        """
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
        """A labelled answer built from what the run produced (module docstring)."""
        head = f"[simulated {self.model}]"
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if results:
            found = " | ".join(_clip(_unwrap(r.text), 240) for r in results)
            return AIMessage(content=f"{head} From the tool results: {found}")
        task = next(
            (m.text for m in reversed(messages) if isinstance(m, HumanMessage)), ""
        )
        ask, uses, findings = _read_prompt(task)
        line = f"{head} {_clip(ask, 200)}".rstrip()
        if uses:
            line += f" (building on the results of {', '.join(uses)})"
        return AIMessage(
            content="\n".join([line, *(f"- {_clip(f, 200)}" for f in findings)])
        )


_DEPENDENCY = re.compile(r"\[([\w.-]+)\]")
"""``[task-id]``: how a prompt quotes a dependency's result."""


def _read_prompt(prompt: str) -> tuple[str, list[str], list[str]]:
    """Split a prompt into its task, the dependencies whose results it quotes
    (``[id] result`` lines) and the findings it carries (``- `` lines, as in
    the synthesis); a line that starts neither continues the one before it.
    Simulated-model labels inside findings are removed.
    """
    ask: list[str] = []
    uses: list[str] = []
    items: list[list[str]] = []
    current: list[str] = ask
    for raw in prompt.splitlines():
        line = raw.strip()
        dependency = _DEPENDENCY.match(line)
        if line.startswith("- "):
            items.append([line[2:]])
            current = items[-1]
        elif dependency and not items:
            uses.append(dependency.group(1))
            current = []  # the quoted result itself is not repeated
        elif line and not (current is ask and ask and line.endswith(":")):
            current.append(line)
    return " ".join(ask), uses, [_unwrap(" ".join(item)) for item in items]


_CAP_KWARGS = (
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "num_predict",
)
"""Call keywords that name an output cap, as the provider integrations spell
them; the first one set wins."""


def _call_cap(kwargs: dict[str, Any]) -> int | None:
    """The output cap a call names, in any provider's spelling."""
    for name in _CAP_KWARGS:
        if kwargs.get(name):
            return int(kwargs[name])
    for nested, name in (("options", "num_predict"), ("extra_body", "max_tokens")):
        value = (kwargs.get(nested) or {}).get(name)
        if value:
            return int(value)
    return None


_SIM_HEAD = re.compile(r"\[simulated [^\]]*\]\s*")
"""The label a simulated answer starts with."""


def _unwrap(text: str) -> str:
    """`text` on one line, without the simulated-model labels it quotes."""
    return _SIM_HEAD.sub("", " ".join(text.split()))


def _clip(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary to at most `limit` characters."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


def _fill_args(schema: dict[str, Any], prompt: str) -> dict[str, Any] | None:
    """Arguments for every required parameter of `schema`, or None if any is
    missing: a simulated model never calls a tool with made-up input."""
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
    """The value of parameter `name` found in `prompt`, by name; None if absent.

    An enum takes the first value the prompt mentions, else its first value.
    """
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
