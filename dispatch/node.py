"""The `Dispatcher`: route, select, call, settle and record every hop.

Steps 1–2 (`Dispatcher.plan`) and 5–6 (`_settle`) are synchronous and pure over
`dispatch.types` values; only the model call between them does I/O, once in
`call` and once in `acall`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from dispatch._chat_models import build_chat_model, output_cap_kwargs
from dispatch.config import DEFAULT_CONFIG
from dispatch.cost import call_cost, estimate_message_tokens, usage_of
from dispatch.errors import HopFailed
from dispatch.pins import PinState, pin_from_dict, pin_to_dict
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.routing import Router, RulesRouter
from dispatch.specialist import Specialist
from dispatch.types import Hop, HopRecord, ModelChoice, ModelSpec, Pin

__all__ = ("Dispatcher", "HopResult", "SpecialistRun", "routed_node")

ModelFactory = Callable[[ModelSpec], BaseChatModel]
"""Builds the chat model for a spec; injected in tests (`dispatch.testing`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HopResult:
    """The outcome of one successful hop."""

    message: AIMessage
    record: HopRecord
    pin: Pin
    """The specialist's pin after this hop."""


@dataclass(slots=True, kw_only=True)
class SpecialistRun:
    """What a specialist produced: new messages, hop records, pins, and any error."""

    messages: list[BaseMessage] = field(default_factory=list)
    records: list[HopRecord] = field(default_factory=list)
    pins: PinState = field(default_factory=dict)
    error: str | None = None

    @property
    def answer(self) -> str:
        """Text of the last model message (empty if none)."""
        ai = [m for m in self.messages if isinstance(m, AIMessage)]
        return ai[-1].text if ai else ""

    def state_update(self) -> dict[str, Any]:
        """The ``hops``/``pins`` channel writes for a graph node's return value."""
        return {"hops": [r.as_dict() for r in self.records], "pins": self.pins}


class Dispatcher:
    """Routes every hop to the cheapest good-enough model and records it.

    Args:
        registry: models, tiers and capabilities.
        router: decides capability and tier; defaults to `RulesRouter`.
        simulate: build ``sim:`` stand-ins instead of provider models.
        model_factory: overrides how chat models are built (tests, custom clients).
        clock: monotonic seconds, for hop durations.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        router: Router | None = None,
        simulate: bool = False,
        model_factory: ModelFactory | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.registry = registry
        self.router: Router = router or RulesRouter(
            tiers=registry.tiers, capabilities=registry.capabilities
        )
        self.simulate = simulate
        self._factory: ModelFactory = model_factory or (
            lambda spec: build_chat_model(spec, simulate=simulate)
        )
        self._models: dict[str, BaseChatModel] = {}
        self._clock = clock

    @classmethod
    def from_config(
        cls, source: str | Path = DEFAULT_CONFIG, **kwargs: Any
    ) -> Dispatcher:
        """A dispatcher over the registry in `source` (``"default"``: the shipped one)."""
        return cls(Registry.from_config(source), **kwargs)

    # -- pure steps -----------------------------------------------------------------

    def plan(self, hop: Hop, pin: Pin | None = None) -> ModelChoice:
        """Steps 1–2: route the hop and select its model (pure)."""
        return select(self.router.decide(hop), hop, self.registry, pin=pin)

    def _settle(
        self,
        hop: Hop,
        choice: ModelChoice,
        message: AIMessage,
        request: Sequence[BaseMessage],
        started: float,
    ) -> HopResult:
        usage = usage_of(message, request)
        spec = choice.model
        record = HopRecord(
            step=hop.step,
            specialist=hop.specialist,
            capability=choice.decision.capability,
            tier=choice.decision.tier,
            model=spec.id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            estimated=usage.estimated,
            cost_usd=call_cost(spec, usage.input_tokens, usage.output_tokens),
            baseline_cost_usd=call_cost(
                self.registry.baseline, usage.input_tokens, usage.output_tokens
            ),
            pinned=choice.pinned,
            repinned_from=choice.repinned_from,
            router=choice.decision.router.value,
            confidence=choice.decision.confidence,
            reason=f"{choice.decision.reason} -> {choice.reason}",
            duration_ms=round((self._clock() - started) * 1000, 3),
            simulated=bool(message.response_metadata.get("simulated")),
            after_tool=hop.after_tool,
        )
        message.response_metadata["dispatch"] = record.as_dict()
        return HopResult(message=message, record=record, pin=_next_pin(choice))

    def _failed(self, hop: Hop, choice: ModelChoice, exc: BaseException, started: float) -> HopFailed:
        record = HopRecord(
            step=hop.step,
            specialist=hop.specialist,
            capability=choice.decision.capability,
            tier=choice.decision.tier,
            model=choice.model.id,
            input_tokens=0,
            output_tokens=0,
            cost_usd=call_cost(choice.model, 0, 0),
            baseline_cost_usd=call_cost(self.registry.baseline, 0, 0),
            pinned=choice.pinned,
            repinned_from=choice.repinned_from,
            router=choice.decision.router.value,
            confidence=choice.decision.confidence,
            reason=choice.reason,
            duration_ms=round((self._clock() - started) * 1000, 3),
            simulated=self.simulate,
            after_tool=hop.after_tool,
            error=f"{type(exc).__name__}: {exc}",
        )
        return HopFailed(record, f"hop {hop.step or hop.specialist!r} on {choice.model.id} failed: {exc}")

    # -- I/O ------------------------------------------------------------------------

    def chat_model_for(self, spec: ModelSpec) -> BaseChatModel:
        """The (cached) chat model serving `spec`."""
        model = self._models.get(spec.id)
        if model is None:
            model = self._models[spec.id] = self._factory(spec)
        return model

    def _runnable(
        self, choice: ModelChoice, tools: Sequence[Any] | None, tool_kwargs: Mapping[str, Any]
    ) -> Runnable[Any, BaseMessage]:
        model = self.chat_model_for(choice.model)
        return model.bind_tools(list(tools), **tool_kwargs) if tools else model

    def _prepare(self, hop: Hop, messages: Sequence[BaseMessage], pin: Pin | None) -> tuple[Hop, ModelChoice]:
        if not hop.input_tokens:
            hop = _with_input_tokens(hop, estimate_message_tokens(messages))
        return hop, self.plan(hop, pin)

    async def acall(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        *,
        pin: Pin | None = None,
        tools: Sequence[Any] | None = None,
        **tool_kwargs: Any,
    ) -> HopResult:
        """Route `hop`, call the chosen model on `messages`, and record the hop.

        Raises:
            NoEligibleModel: no model can serve the decision.
            HopFailed: the model call raised; `HopFailed.record` has the details.
        """
        hop, choice = self._prepare(hop, messages, pin)
        started = self._clock()
        try:
            runnable = self._runnable(choice, tools, tool_kwargs)
            reply = await runnable.ainvoke(
                list(messages), **output_cap_kwargs(choice.model, hop.max_output_tokens)
            )
        except Exception as exc:
            raise self._failed(hop, choice, exc, started) from exc
        return self._settle(hop, choice, _as_ai(reply), messages, started)

    def call(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        *,
        pin: Pin | None = None,
        tools: Sequence[Any] | None = None,
        **tool_kwargs: Any,
    ) -> HopResult:
        """Synchronous twin of `acall`."""
        hop, choice = self._prepare(hop, messages, pin)
        started = self._clock()
        try:
            runnable = self._runnable(choice, tools, tool_kwargs)
            reply = runnable.invoke(
                list(messages), **output_cap_kwargs(choice.model, hop.max_output_tokens)
            )
        except Exception as exc:
            raise self._failed(hop, choice, exc, started) from exc
        return self._settle(hop, choice, _as_ai(reply), messages, started)

    def _specialist_steps(
        self,
        specialist: Specialist,
        messages: Sequence[BaseMessage],
        *,
        step: str,
        pins: PinState | None,
        tier_hint: str | None,
        max_output_tokens: int | None,
    ) -> Generator[_ModelStep | _ToolStep, HopResult | HopFailed | ToolMessage, SpecialistRun]:
        """The specialist loop without I/O: yields each model or tool call to make
        and receives its outcome; `run_specialist`/`arun_specialist` drive it."""
        run = SpecialistRun()
        pins = dict(pins or {})
        convo: list[BaseMessage] = [SystemMessage(specialist.prompt), *messages]
        for round_ in range(specialist.max_tool_rounds + 1):
            last_round = round_ == specialist.max_tool_rounds
            hop = Hop(
                specialist=specialist.name,
                prompt=_routing_text(convo),
                step=step if round_ == 0 else f"{step}+tool{round_}",
                capability_hint=specialist.capability,
                tier_hint=tier_hint,
                after_tool=round_ > 0,
                max_output_tokens=max_output_tokens or self.registry.max_output_tokens,
            )
            pin = pin_from_dict(pins[specialist.name]) if specialist.name in pins else None
            tools = None if last_round else (specialist.tools or None)
            outcome = yield _ModelStep(hop=hop, messages=list(convo), pin=pin, tools=tools)
            if isinstance(outcome, HopFailed):
                run.records.append(outcome.record)  # type: ignore[arg-type]
                run.error = str(outcome)
                break
            assert isinstance(outcome, HopResult)
            run.records.append(outcome.record)
            pins[specialist.name] = run.pins[specialist.name] = pin_to_dict(outcome.pin)
            convo.append(outcome.message)
            run.messages.append(outcome.message)
            if not outcome.message.tool_calls:
                break
            for call in outcome.message.tool_calls:
                reply = yield _ToolStep(tool=_tool_for(specialist, call["name"]), call=call)
                assert isinstance(reply, ToolMessage)
                convo.append(reply)
                run.messages.append(reply)
        return run

    async def arun_specialist(
        self,
        specialist: Specialist,
        messages: Sequence[BaseMessage],
        *,
        step: str = "",
        pins: PinState | None = None,
        tier_hint: str | None = None,
        max_output_tokens: int | None = None,
    ) -> SpecialistRun:
        """Run `specialist` on `messages`: model hops and tool calls until it answers.

        A failing model call ends the run with `SpecialistRun.error` set and the
        failed hop recorded; it does not raise, so parallel branches keep their
        results. A failing tool becomes an error `ToolMessage` the model sees.
        """
        steps = self._specialist_steps(
            specialist, messages, step=step, pins=pins, tier_hint=tier_hint,
            max_output_tokens=max_output_tokens,
        )
        outcome: HopResult | HopFailed | ToolMessage | None = None
        try:
            while True:
                action = steps.send(outcome)  # type: ignore[arg-type]
                if isinstance(action, _ModelStep):
                    try:
                        outcome = await self.acall(
                            action.hop, action.messages, pin=action.pin, tools=action.tools
                        )
                    except HopFailed as failed:
                        outcome = failed
                else:
                    outcome = await _arun_tool(action)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def run_specialist(
        self,
        specialist: Specialist,
        messages: Sequence[BaseMessage],
        *,
        step: str = "",
        pins: PinState | None = None,
        tier_hint: str | None = None,
        max_output_tokens: int | None = None,
    ) -> SpecialistRun:
        """Synchronous twin of `arun_specialist`."""
        steps = self._specialist_steps(
            specialist, messages, step=step, pins=pins, tier_hint=tier_hint,
            max_output_tokens=max_output_tokens,
        )
        outcome: HopResult | HopFailed | ToolMessage | None = None
        try:
            while True:
                action = steps.send(outcome)  # type: ignore[arg-type]
                if isinstance(action, _ModelStep):
                    try:
                        outcome = self.call(
                            action.hop, action.messages, pin=action.pin, tools=action.tools
                        )
                    except HopFailed as failed:
                        outcome = failed
                else:
                    outcome = _run_tool(action)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def node(self, specialist: Specialist) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """A synchronous LangGraph node running `specialist` on ``state["messages"]``.

        The state needs ``messages`` plus the `DispatchState` channels. A failed
        hop is recorded and reported as an AI message saying the specialist
        failed, so the graph keeps every other branch's result. For graphs run
        with ``ainvoke``/``astream``, use `anode`.
        """

        def routed(state: Mapping[str, Any]) -> dict[str, Any]:
            run = self.run_specialist(
                specialist, state.get("messages", []), pins=state.get("pins"),
                step=specialist.name,
            )
            return _node_update(specialist, run)

        routed.__name__ = specialist.name
        return routed

    def anode(
        self, specialist: Specialist
    ) -> Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]:
        """Async twin of `node`: model calls use the providers' async clients."""

        async def routed(state: Mapping[str, Any]) -> dict[str, Any]:
            run = await self.arun_specialist(
                specialist, state.get("messages", []), pins=state.get("pins"),
                step=specialist.name,
            )
            return _node_update(specialist, run)

        routed.__name__ = specialist.name
        return routed

    def chat_model(self, specialist: str = "general", *, capability: str | None = None) -> BaseChatModel:
        """A `RoutedChatModel`: a drop-in ``model=`` whose every call is a routed hop."""
        from dispatch.routed_model import RoutedChatModel  # noqa: PLC0415 - cycle

        return RoutedChatModel(dispatcher=self, specialist=specialist, capability=capability)


def _node_update(specialist: Specialist, run: SpecialistRun) -> dict[str, Any]:
    new = list(run.messages)
    if run.error is not None:
        new.append(AIMessage(content=f"[{specialist.name} failed: {run.error}]"))
    return {"messages": new, **run.state_update()}


def routed_node(
    dispatcher: Dispatcher, specialist: Specialist
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Same as ``dispatcher.node(specialist)``."""
    return dispatcher.node(specialist)


def _next_pin(choice: ModelChoice) -> Pin:
    if choice.pinned:
        return Pin(model=choice.model.id, tier=choice.decision.tier, reason=choice.reason.removeprefix("pinned since: "))
    return Pin(
        model=choice.model.id,
        tier=choice.decision.tier,
        reason=choice.reason,
        repinned_from=choice.repinned_from,
    )


def _with_input_tokens(hop: Hop, tokens: int) -> Hop:
    return replace(hop, input_tokens=tokens)


def _routing_text(convo: Sequence[BaseMessage]) -> str:
    """What the router reads: the latest human turn, plus tool results after it."""
    parts: list[str] = []
    for m in reversed(convo):
        if isinstance(m, ToolMessage):
            parts.append(m.text)
        elif isinstance(m, HumanMessage):
            parts.append(m.text)
            break
    return "\n".join(reversed(parts))


def _as_ai(reply: BaseMessage) -> AIMessage:
    if not isinstance(reply, AIMessage):
        raise TypeError(f"chat model returned {type(reply).__name__}, expected AIMessage")
    return reply


@dataclass(frozen=True, slots=True)
class _ModelStep:
    hop: Hop
    messages: list[BaseMessage]
    pin: Pin | None
    tools: Sequence[BaseTool] | None


@dataclass(frozen=True, slots=True)
class _ToolStep:
    tool: BaseTool | str
    """The tool, or an error text when the model named an unknown tool."""
    call: ToolCall


def _tool_for(specialist: Specialist, name: str) -> BaseTool | str:
    for t in specialist.tools:
        if t.name == name:
            return t
    known = ", ".join(t.name for t in specialist.tools) or "none"
    return f"error: unknown tool {name!r} (tools: {known})"


def _tool_message(step: _ToolStep, out: Any) -> ToolMessage:
    if isinstance(out, ToolMessage):
        return out
    return ToolMessage(content=str(out), tool_call_id=step.call["id"] or "")


def _tool_error(step: _ToolStep, text: str) -> ToolMessage:
    return ToolMessage(content=text, tool_call_id=step.call["id"] or "", status="error")


def _run_tool(step: _ToolStep) -> ToolMessage:
    if isinstance(step.tool, str):
        return _tool_error(step, step.tool)
    try:
        return _tool_message(step, step.tool.invoke(step.call))
    except Exception as exc:  # a tool must never crash the graph
        return _tool_error(step, f"error: {step.call['name']} failed: {type(exc).__name__}: {exc}")


async def _arun_tool(step: _ToolStep) -> ToolMessage:
    if isinstance(step.tool, str):
        return _tool_error(step, step.tool)
    try:
        return _tool_message(step, await step.tool.ainvoke(step.call))
    except Exception as exc:  # a tool must never crash the graph
        return _tool_error(step, f"error: {step.call['name']} failed: {type(exc).__name__}: {exc}")
