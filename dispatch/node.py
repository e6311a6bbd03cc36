"""The `Dispatcher`: route, select, call, settle and record every hop.

Steps 1–2 (`Dispatcher.plan`) and 5–6 (`_settle`) are synchronous and pure over
`dispatch.types` values; only the model call between them does I/O, once in
`call` and once in `acall`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable

from dispatch._chat_models import build_chat_model, output_cap_kwargs
from dispatch._loop import (
    HopResult,
    ModelStep,
    SpecialistRun,
    arun_tool,
    run_tool,
    specialist_steps,
)
from dispatch.config import DEFAULT_CONFIG
from dispatch.cost import call_cost, estimate_message_tokens, usage_of
from dispatch.errors import HopFailed
from dispatch.pins import PinState
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.routing import Router, RulesRouter
from dispatch.specialist import Specialist
from dispatch.types import Hop, HopRecord, ModelChoice, ModelSpec, Pin

__all__ = ("Dispatcher", "HopResult", "SpecialistRun", "routed_node")

ModelFactory = Callable[[ModelSpec], BaseChatModel]
"""Builds the chat model for a spec; injected in tests (`dispatch.testing`)."""


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

    def _failed(
        self, hop: Hop, choice: ModelChoice, exc: BaseException, started: float
    ) -> HopFailed:
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
        return HopFailed(
            record,
            f"hop {hop.step or hop.specialist!r} on {choice.model.id} failed: {exc}",
        )

    # -- I/O ------------------------------------------------------------------------

    def chat_model_for(self, spec: ModelSpec) -> BaseChatModel:
        """The (cached) chat model serving `spec`."""
        model = self._models.get(spec.id)
        if model is None:
            model = self._models[spec.id] = self._factory(spec)
        return model

    def _runnable(
        self,
        choice: ModelChoice,
        tools: Sequence[Any] | None,
        tool_kwargs: Mapping[str, Any],
    ) -> Runnable[Any, BaseMessage]:
        model = self.chat_model_for(choice.model)
        return model.bind_tools(list(tools), **tool_kwargs) if tools else model

    def _prepare(
        self, hop: Hop, messages: Sequence[BaseMessage], pin: Pin | None
    ) -> tuple[Hop, ModelChoice]:
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
                list(messages),
                None,
                **output_cap_kwargs(choice.model, hop.max_output_tokens),
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
                list(messages),
                None,
                **output_cap_kwargs(choice.model, hop.max_output_tokens),
            )
        except Exception as exc:
            raise self._failed(hop, choice, exc, started) from exc
        return self._settle(hop, choice, _as_ai(reply), messages, started)

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
        steps = specialist_steps(
            specialist,
            messages,
            step=step,
            pins=pins,
            tier_hint=tier_hint,
            max_output_tokens=max_output_tokens or self.registry.max_output_tokens,
        )
        outcome: HopResult | HopFailed | ToolMessage | None = None
        try:
            while True:
                action = steps.send(outcome)  # type: ignore[arg-type]
                if isinstance(action, ModelStep):
                    try:
                        outcome = await self.acall(
                            action.hop,
                            action.messages,
                            pin=action.pin,
                            tools=action.tools,
                        )
                    except HopFailed as failed:
                        outcome = failed
                else:
                    outcome = await arun_tool(action)
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
        steps = specialist_steps(
            specialist,
            messages,
            step=step,
            pins=pins,
            tier_hint=tier_hint,
            max_output_tokens=max_output_tokens or self.registry.max_output_tokens,
        )
        outcome: HopResult | HopFailed | ToolMessage | None = None
        try:
            while True:
                action = steps.send(outcome)  # type: ignore[arg-type]
                if isinstance(action, ModelStep):
                    try:
                        outcome = self.call(
                            action.hop,
                            action.messages,
                            pin=action.pin,
                            tools=action.tools,
                        )
                    except HopFailed as failed:
                        outcome = failed
                else:
                    outcome = run_tool(action)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def node(
        self, specialist: Specialist
    ) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """A synchronous LangGraph node running `specialist` on ``state["messages"]``.

        The state needs ``messages`` plus the `DispatchState` channels. A failed
        hop is recorded and reported as an AI message saying the specialist
        failed, so the graph keeps every other branch's result. For graphs run
        with ``ainvoke``/``astream``, use `anode`.
        """

        def routed(state: Mapping[str, Any]) -> dict[str, Any]:
            run = self.run_specialist(
                specialist,
                state.get("messages", []),
                pins=state.get("pins"),
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
                specialist,
                state.get("messages", []),
                pins=state.get("pins"),
                step=specialist.name,
            )
            return _node_update(specialist, run)

        routed.__name__ = specialist.name
        return routed

    def chat_model(
        self, specialist: str = "general", *, capability: str | None = None
    ) -> BaseChatModel:
        """A `RoutedChatModel`: a drop-in ``model=`` whose every call is a routed hop."""
        from dispatch.routed_model import RoutedChatModel  # noqa: PLC0415 - cycle

        return RoutedChatModel(
            dispatcher=self, specialist=specialist, capability=capability
        )


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
        return Pin(
            model=choice.model.id,
            tier=choice.decision.tier,
            reason=choice.reason.removeprefix("pinned since: "),
        )
    return Pin(
        model=choice.model.id,
        tier=choice.decision.tier,
        reason=choice.reason,
        repinned_from=choice.repinned_from,
    )


def _with_input_tokens(hop: Hop, tokens: int) -> Hop:
    return replace(hop, input_tokens=tokens)


def _as_ai(reply: BaseMessage) -> AIMessage:
    if not isinstance(reply, AIMessage):
        raise TypeError(
            f"chat model returned {type(reply).__name__}, expected AIMessage"
        )
    return reply
