"""The specialist loop, sans I/O: model hops and tool calls until the specialist answers.

`specialist_steps` is a generator that yields the next model call (`ModelStep`)
or tool call (`ToolStep`) and receives its outcome; the dispatcher drives it
once synchronously and once with ``await``, so the loop is written once.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.tools import BaseTool

from dispatch.budget import BudgetDict, Ledger
from dispatch.errors import HopFailed
from dispatch.pins import PinState, pin_from_dict, pin_to_dict
from dispatch.specialist import Specialist
from dispatch.types import Hop, HopRecord, Pin

__all__ = (
    "HopResult",
    "ModelStep",
    "SpecialistRun",
    "ToolStep",
    "arun_tool",
    "budget_delta",
    "routing_text",
    "run_tool",
    "specialist_steps",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HopResult:
    """The outcome of one successful hop."""

    message: AIMessage
    record: HopRecord
    pin: Pin
    """The specialist's pin after this hop."""
    failed_attempts: tuple[HopRecord, ...] = ()
    """Models that raised before `record`'s model served the hop (failover)."""


@dataclass(slots=True, kw_only=True)
class SpecialistRun:
    """What a specialist produced: new messages, hop records, pins, and any error."""

    messages: list[BaseMessage] = field(default_factory=list)
    records: list[HopRecord] = field(default_factory=list)
    pins: PinState = field(default_factory=dict)
    error: str | None = None
    refused: bool = False
    """True when the budget refused a hop (the run stopped there)."""

    @property
    def answer(self) -> str:
        """Text of the last model message (empty if none)."""
        ai = [m for m in self.messages if isinstance(m, AIMessage)]
        return ai[-1].text if ai else ""

    def state_update(self, ledger: Ledger | None = None) -> dict[str, Any]:
        """The ``hops``/``pins`` (and, with a ledger, ``budget``) channel writes."""
        update: dict[str, Any] = {
            "hops": [r.as_dict() for r in self.records],
            "pins": self.pins,
        }
        if ledger is not None:
            update["budget"] = budget_delta(ledger, self.records)
        return update


def budget_delta(ledger: Ledger, records: Sequence[HopRecord]) -> BudgetDict:
    """The ``budget`` channel write of a node: its own hops' spend and refusals."""
    delta = ledger.snapshot()
    delta["spent_usd"] = str(sum((r.cost_usd for r in records), Decimal(0)))
    delta["reserved_usd"] = "0"
    delta["refused"] = sum(r.refused for r in records)
    return delta


@dataclass(frozen=True, slots=True)
class ModelStep:
    hop: Hop
    messages: list[BaseMessage]
    pin: Pin | None
    tools: Sequence[BaseTool] | None


@dataclass(frozen=True, slots=True)
class ToolStep:
    tool: BaseTool | str
    """The tool, or an error text when the model named an unknown tool."""
    call: ToolCall


def _tool_for(specialist: Specialist, name: str) -> BaseTool | str:
    for t in specialist.tools:
        if t.name == name:
            return t
    known = ", ".join(t.name for t in specialist.tools) or "none"
    return f"error: unknown tool {name!r} (tools: {known})"


def _tool_message(step: ToolStep, out: Any) -> ToolMessage:
    if isinstance(out, ToolMessage):
        return out
    return ToolMessage(content=str(out), tool_call_id=step.call["id"] or "")


def _tool_error(step: ToolStep, text: str) -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=step.call["id"] or "", status="error")


def run_tool(step: ToolStep) -> ToolMessage:
    if isinstance(step.tool, str):
        return _tool_error(step, step.tool)
    try:
        return _tool_message(step, step.tool.invoke(step.call))
    except Exception as exc:  # a tool must never crash the graph
        return _tool_error(
            step, f"error: {step.call['name']} failed: {type(exc).__name__}: {exc}"
        )


async def arun_tool(step: ToolStep) -> ToolMessage:
    if isinstance(step.tool, str):
        return _tool_error(step, step.tool)
    try:
        return _tool_message(step, await step.tool.ainvoke(step.call))
    except Exception as exc:  # a tool must never crash the graph
        return _tool_error(
            step, f"error: {step.call['name']} failed: {type(exc).__name__}: {exc}"
        )


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


def specialist_steps(
    specialist: Specialist,
    messages: Sequence[BaseMessage],
    *,
    step: str,
    pins: PinState | None,
    tier_hint: str | None,
    max_output_tokens: int,
) -> Generator[
    ModelStep | ToolStep, HopResult | HopFailed | ToolMessage, SpecialistRun
]:
    """The specialist loop without I/O: yields each model or tool call to make
    and receives its outcome. `Dispatcher.run_specialist` and
    `Dispatcher.arun_specialist` drive it, with and without ``await``."""
    run = SpecialistRun()
    pins = dict(pins or {})
    convo: list[BaseMessage] = [SystemMessage(specialist.prompt), *messages]
    for round_ in range(specialist.max_tool_rounds + 1):
        last_round = round_ == specialist.max_tool_rounds
        hop = Hop(
            specialist=specialist.name,
            prompt=routing_text(convo),
            step=step if round_ == 0 else f"{step}+tool{round_}",
            capability_hint=specialist.capability,
            tier_hint=tier_hint,
            after_tool=round_ > 0,
            max_output_tokens=max_output_tokens,
        )
        pin = pin_from_dict(pins[specialist.name]) if specialist.name in pins else None
        tools = None if last_round else (specialist.tools or None)
        outcome = yield ModelStep(hop=hop, messages=list(convo), pin=pin, tools=tools)
        if isinstance(outcome, HopFailed):
            run.records.extend(outcome.records)
            run.refused = outcome.refused
            run.error = str(outcome)
            break
        assert isinstance(outcome, HopResult)
        run.records.extend(outcome.failed_attempts)
        run.records.append(outcome.record)
        if not outcome.record.pinned or specialist.name not in pins:
            # a reused pin stays as it was (with its first reason and re-pin history)
            pins[specialist.name] = run.pins[specialist.name] = pin_to_dict(outcome.pin)
        convo.append(outcome.message)
        run.messages.append(outcome.message)
        if not outcome.message.tool_calls:
            break
        for call in outcome.message.tool_calls:
            reply = yield ToolStep(tool=_tool_for(specialist, call["name"]), call=call)
            assert isinstance(reply, ToolMessage)
            convo.append(reply)
            run.messages.append(reply)
    return run
