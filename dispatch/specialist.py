"""A specialist (prompt, capability, tools) and its tool loop, as plain state.

`SpecialistLoop` holds one specialist run: the conversation so far, the hop
records, the pins it changed and the model of the current tool loop. It does no
I/O: the dispatcher asks it for the next model call, makes the call, hands the
`HopResult` back and runs the tool calls it returns. The loop ends when the
model answers without tool calls, a hop fails, or `max_tool_rounds` follow-ups
were made (the last call gets no tools, so the model must answer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.tools import BaseTool

from dispatch.cost import reserved_input_tokens
from dispatch.hop import HopResult
from dispatch.pins import PinDict, PinState, pin_to_dict, pins_of
from dispatch.records import HopRecord
from dispatch.types import Hop, Pin

if TYPE_CHECKING:
    from dispatch.verify import Verifier

__all__ = (
    "ModelCall",
    "Specialist",
    "SpecialistLoop",
    "SpecialistRun",
    "conversation_hop",
    "follows_tool",
    "routing_text",
    "tool_round",
)

MAX_TOOL_RESULT_CHARS = 16_000
"""A tool result longer than this is cut before the model sees it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Specialist:
    """An agent a hop is handed to. Graphs get its node from
    `dispatch.langgraph.routed_node`."""

    name: str
    """Unique name; pins are kept per (conversation, specialist, tier)."""
    prompt: str
    """System prompt."""
    capability: str | None = None
    """The capability its hops need, passed to the router as a hint; None lets
    the router read it from the text (rules, then embeddings in a hybrid)."""
    tools: Sequence[BaseTool] = field(default_factory=tuple)
    """Tools the model may call; their results are fed back in follow-up hops."""
    max_tool_rounds: int = 3
    """Model calls that may follow tool results before the specialist must answer."""
    verifier: Verifier | None = None
    """Opt-in cascade: check each answer below the top tier and, when the check
    fails, run again one tier up (`dispatch.cascade`)."""

    def __post_init__(self) -> None:
        """Refuse fields of the wrong type here, not at the first model call."""
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(
                f"Specialist.name must be a non-empty str, got {self.name!r}"
            )
        where = f"Specialist {self.name!r}"
        if not isinstance(self.prompt, str):
            raise TypeError(
                f"{where}: prompt must be a str, got {type(self.prompt).__name__}"
            )
        if self.capability is not None and not isinstance(self.capability, str):
            raise TypeError(
                f"{where}: capability must be a str or None, "
                f"got {type(self.capability).__name__}"
            )
        if isinstance(self.tools, str | BaseTool):
            raise TypeError(f"{where}: tools must be a sequence of tools")
        for i, tool in enumerate(self.tools):
            if not isinstance(tool, BaseTool):
                raise TypeError(
                    f"{where}: tools[{i}] must be a LangChain BaseTool "
                    f"(e.g. made with @tool), got {type(tool).__name__}"
                )
        rounds = self.max_tool_rounds
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
            raise TypeError(
                f"{where}: max_tool_rounds must be an int >= 0, got {rounds!r}"
            )


@dataclass(slots=True, kw_only=True)
class SpecialistRun:
    """What a specialist produced: new messages, hop records, pins, and any error."""

    messages: list[BaseMessage] = field(default_factory=list)
    records: list[HopRecord] = field(default_factory=list)
    pins: PinState = field(default_factory=dict)
    """The pins this run set or changed (a channel write)."""
    error: str | None = None
    """Why the run stopped early (secret-free), or None."""
    refused: bool = False
    """True when the budget refused a hop (the run stopped there)."""

    @property
    def answer(self) -> str:
        """Text of the last model message (empty if none)."""
        ai = [m for m in self.messages if isinstance(m, AIMessage)]
        return ai[-1].text if ai else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCall:
    """The next model call of a specialist run."""

    hop: Hop
    messages: list[BaseMessage]
    tools: Sequence[BaseTool] | None
    pins: Mapping[str, Pin]
    loop_pin: Pin | None


def routing_text(convo: Sequence[BaseMessage]) -> str:
    """What the router reads: the latest human turn, plus tool results after it."""
    parts: list[str] = []
    for m in reversed(convo):
        if isinstance(m, ToolMessage):
            parts.append(m.text)
        elif isinstance(m, HumanMessage):
            parts.append(m.text)
            break
    return "\n".join(reversed(parts))


def tool_round(convo: Sequence[BaseMessage]) -> int:
    """Model calls since the latest human turn: a call's place in its tool loop
    (`Hop.round`) when the conversation arrives whole, as it does to a chat model."""
    n = 0
    for m in reversed(convo):
        if isinstance(m, HumanMessage):
            break
        n += isinstance(m, AIMessage)
    return n


def follows_tool(convo: Sequence[BaseMessage]) -> bool:
    """True when the conversation's latest message is a tool result: the call
    continues a tool loop."""
    return bool(convo) and isinstance(convo[-1], ToolMessage)


def conversation_hop(
    convo: Sequence[BaseMessage],
    *,
    specialist: str,
    capability: str | None,
    tier: str | None,
    max_output_tokens: int,
) -> Hop:
    """The hop of one model call that receives the whole conversation (a chat
    model, agent middleware): routed on its latest turn, placed in its tool loop."""
    return Hop(
        specialist=specialist,
        prompt=routing_text(convo),
        step=specialist,
        round=tool_round(convo) if follows_tool(convo) else 0,
        capability_hint=capability,
        tier_hint=tier,
        max_output_tokens=max_output_tokens,
    )


@lru_cache(maxsize=256)
def system_message(prompt: str) -> SystemMessage:
    """The system message of a specialist's prompt, built once per prompt.

    Every run of a specialist sends the same prompt; building (validating) the
    message anew was a visible part of a hop's overhead. Chat models read
    their input messages and never change them, so one instance is shared.
    """
    return SystemMessage(prompt)


class SpecialistLoop:
    """One specialist run's state between model calls (no I/O)."""

    def __init__(
        self,
        specialist: Specialist,
        messages: Sequence[BaseMessage],
        *,
        step: str,
        pins: Mapping[str, PinDict] | None,
        tier_hint: str | None,
        max_output_tokens: int,
        input_safety: float | None = None,
    ) -> None:
        self.specialist = specialist
        self._input_safety = input_safety
        self.run = SpecialistRun()
        self._step = step
        self._tier_hint = tier_hint
        self._max_output_tokens = max_output_tokens
        self._pins = pins_of(pins)
        self._loop_pin: Pin | None = None
        self._convo: list[BaseMessage] = [system_message(specialist.prompt), *messages]
        self._round = 0
        self._done = False

    def next_call(self) -> ModelCall | None:
        """The next model call, or None when the run is over."""
        if self._done:
            return None
        last_round = self._round == self.specialist.max_tool_rounds
        tools = None if last_round else (self.specialist.tools or None)
        tokens = 0
        if self._input_safety is not None:  # else the dispatcher estimates it
            tokens = reserved_input_tokens(self._convo, tools, self._input_safety)
        hop = Hop(
            specialist=self.specialist.name,
            prompt=routing_text(self._convo),
            step=self._step,
            round=self._round,
            capability_hint=self.specialist.capability,
            tier_hint=self._tier_hint,
            input_tokens=tokens,
            max_output_tokens=self._max_output_tokens,
        )
        return ModelCall(
            hop=hop,
            messages=list(self._convo),
            tools=tools,
            pins=self._pins,
            loop_pin=self._loop_pin,
        )

    def take(self, result: HopResult) -> list[ToolCall]:
        """Record `result`; the tool calls to run before the next model call."""
        self.run.records.extend(result.records)
        if result.message is None:
            self.run.error = result.error
            self.run.refused = result.refused
            self._done = True
            return []
        if result.pin is not None and self._pins.get(result.pin_scope) != result.pin:
            self._pins[result.pin_scope] = result.pin
            self.run.pins[result.pin_scope] = pin_to_dict(result.pin)
        self._loop_pin = result.pin
        self._convo.append(result.message)
        self.run.messages.append(result.message)
        self._round += 1
        calls = list(result.message.tool_calls)
        if not calls or self._round > self.specialist.max_tool_rounds:
            self._done = True
            return []
        return calls

    def tool_for(self, call: ToolCall) -> BaseTool | str:
        """The tool `call` names, or an error text for the model when none does."""
        for tool in self.specialist.tools:
            if tool.name == call["name"]:
                return tool
        known = ", ".join(t.name for t in self.specialist.tools) or "none"
        return f"error: unknown tool {call['name']!r} (tools: {known})"

    def add(self, reply: ToolMessage) -> None:
        """Feed a tool's result to the conversation (cut to a bounded size)."""
        text = reply.text
        if len(text) > MAX_TOOL_RESULT_CHARS:
            reply = reply.model_copy(
                update={
                    "content": text[:MAX_TOOL_RESULT_CHARS]
                    + f"\n[... cut: {len(text)} characters in all]"
                }
            )
        self._convo.append(reply)
        self.run.messages.append(reply)
