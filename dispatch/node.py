"""The `Dispatcher`: route, select, call, settle and record every hop.

Routing and selection (`Dispatcher.plan`, `dispatch.policy`), the budget
arithmetic (`dispatch.budget`) and the hop records (`dispatch.hops`) are pure;
`dispatch.attempts.hop_attempts` strings them together without I/O, and only
`call` / `acall` make the model call, once synchronously and once with ``await``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils.function_calling import convert_to_openai_tool
from opentelemetry.trace import Span

from dispatch._chat_models import build_chat_model, output_cap_kwargs
from dispatch._loop import (
    HopResult,
    ModelStep,
    SpecialistRun,
    arun_tool,
    run_tool,
    specialist_steps,
)
from dispatch.attempts import hop_attempts
from dispatch.budget import BudgetSpec, Ledger, budget_settings
from dispatch.config import DEFAULT_CONFIG, load_config
from dispatch.cost import estimate_message_tokens, estimate_tokens
from dispatch.errors import HopFailed
from dispatch.pins import PinState
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.routing import Router, RulesRouter
from dispatch.specialist import Specialist
from dispatch.tracing import Tracing
from dispatch.types import Hop, ModelChoice, ModelSpec, Pin

__all__ = ("Dispatcher", "HopResult", "SpecialistRun", "routed_node")

ModelFactory = Callable[[ModelSpec], BaseChatModel]
"""Builds the chat model for a spec; injected in tests (`dispatch.testing`)."""

_MAX_LEDGERS = 4096
"""Ledgers of this many recent workflows are kept in memory."""


class Dispatcher:
    """Routes every hop to the cheapest good-enough model and records it.

    Args:
        registry: models, tiers and capabilities.
        router: decides capability and tier; defaults to `RulesRouter`.
        simulate: build ``sim:`` stand-ins instead of provider models.
        model_factory: overrides how chat models are built (tests, custom clients).
        clock: monotonic seconds, for hop durations.
        tracing: spans and metrics (default: the global OpenTelemetry providers,
            no-ops until an SDK is installed).
        budget: default budget of a workflow whose config names none.
        max_failovers: other models tried after the chosen one raises.
        input_safety: factor on estimated input tokens when reserving a call's
            worst case (estimates can undercount, e.g. for code).
    """

    def __init__(
        self,
        registry: Registry,
        *,
        router: Router | None = None,
        simulate: bool = False,
        model_factory: ModelFactory | None = None,
        clock: Callable[[], float] = time.perf_counter,
        tracing: Tracing | None = None,
        budget: BudgetSpec | None = None,
        max_failovers: int = 2,
        input_safety: float = 1.2,
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
        self.tracing = tracing or Tracing()
        self.budget = budget or BudgetSpec()
        self.max_failovers = max_failovers
        self.input_safety = input_safety
        self._ledgers: OrderedDict[str, Ledger] = OrderedDict()
        self._ledgers_lock = threading.Lock()

    @classmethod
    def from_config(
        cls, source: str | Path = DEFAULT_CONFIG, **kwargs: Any
    ) -> Dispatcher:
        """A dispatcher over the registry in `source` (``"default"``: the shipped one)."""
        config, specs = load_config(source)
        kwargs.setdefault(
            "budget", BudgetSpec(config.budget.limit_usd, config.budget.mode)
        )
        return cls(Registry.from_specs(config, specs), **kwargs)

    # -- pure steps -----------------------------------------------------------------

    def plan(self, hop: Hop, pin: Pin | None = None) -> ModelChoice:
        """Steps 1–2: route the hop and select its model (pure)."""
        return select(self.router.decide(hop), hop, self.registry, pin=pin)

    def ledger_for(
        self, config: Mapping[str, Any] | None, state: Mapping[str, Any] | None = None
    ) -> Ledger:
        """The ledger of the workflow `config` belongs to, shared by all its branches.

        The workflow is ``configurable["workflow_id"]`` (else the thread id); its
        budget is ``configurable["budget_usd"]``/``["budget_mode"]``, else the
        config file's default. A ledger first seen for a workflow starts from
        the settled spend its checkpointed ``budget`` channel holds in `state`;
        to resume an interrupted workflow in a new process use `aresume`, which
        primes the ledger from the whole checkpoint first.
        """
        conf = dict((config or {}).get("configurable") or {})
        workflow = str(conf.get("workflow_id") or conf.get("thread_id") or "default")
        with self._ledgers_lock:
            ledger = self._ledgers.get(workflow)
            if ledger is not None:
                self._ledgers.move_to_end(workflow)
                return ledger
            limit, mode = budget_settings(conf, self.budget)
            saved = (state or {}).get("budget")
            spent = (
                Decimal(saved["spent_usd"])
                if saved and saved["workflow"] == workflow
                else Decimal(0)
            )
            ledger = Ledger(limit, mode, workflow=workflow, spent=spent)
            self._ledgers[workflow] = ledger
            while len(self._ledgers) > _MAX_LEDGERS:
                self._ledgers.popitem(last=False)
            return ledger

    async def aresume(self, graph: Any, config: RunnableConfig) -> Any:
        """Resume an interrupted workflow of a checkpointed `graph` on `config`'s thread.

        Primes the workflow's ledger from the checkpoint first: its settled spend
        includes every node that completed before the interruption, also those
        that finished beside the one that failed, so nothing is lost or counted
        twice. Then continues the run (``graph.ainvoke(None, config)``).
        """
        snapshot = await graph.aget_state(config)
        self.ledger_for(config, snapshot.values)
        return await graph.ainvoke(None, config)

    def resume(self, graph: Any, config: RunnableConfig) -> Any:
        """Synchronous twin of `aresume`."""
        self.ledger_for(config, graph.get_state(config).values)
        return graph.invoke(None, config)

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

    def _prepare(self, hop: Hop, messages: Sequence[BaseMessage], tools: Any) -> Hop:
        if hop.input_tokens:
            return hop
        tokens = estimate_message_tokens(messages) + sum(
            estimate_tokens(str(convert_to_openai_tool(t))) for t in tools or ()
        )
        return replace(hop, input_tokens=math.ceil(tokens * self.input_safety))

    def _attempts(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        pin: Pin | None,
        ledger: Ledger | None,
    ) -> Generator[ModelChoice, AIMessage | Exception, HopResult]:
        return hop_attempts(
            hop,
            messages,
            pin,
            ledger,
            router=self.router,
            registry=self.registry,
            max_failovers=self.max_failovers,
            clock=self._clock,
            simulate=self.simulate,
        )

    def _next_attempt(
        self,
        attempts: Generator[ModelChoice, AIMessage | Exception, HopResult],
        outcome: AIMessage | Exception | None,
        spans: list[Span | None],
        ledger: Ledger | None,
    ) -> ModelChoice | HopResult:
        """Advance the attempt loop; finish the chat spans when the hop is over."""
        remaining = ledger.remaining if ledger is not None else None
        try:
            return attempts.send(outcome)  # type: ignore[arg-type]
        except StopIteration as done:
            result: HopResult = done.value
            records = [*result.failed_attempts, result.record]
            for span, record in zip(spans, records, strict=True):
                reply = result.message if record is result.record else None
                self.tracing.end_chat(span, record, remaining=remaining, reply=reply)
            return result
        except HopFailed as failed:
            for span, record in zip(spans, failed.records, strict=False):
                self.tracing.end_chat(span, record, remaining=remaining)
            if failed.refused:
                self.tracing.refused(failed.record)
            raise

    async def acall(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        *,
        pin: Pin | None = None,
        tools: Sequence[Any] | None = None,
        ledger: Ledger | None = None,
        **tool_kwargs: Any,
    ) -> HopResult:
        """Route `hop`, reserve its worst case, call the chosen model on
        `messages` (failing over to the nearest eligible model if it raises),
        settle and record the hop.

        Raises:
            NoEligibleModel: no model can serve the decision.
            HopFailed: every model tried raised, or the budget refused the call;
                `HopFailed.records` has one record per attempt.
        """
        hop = self._prepare(hop, messages, tools)
        attempts = self._attempts(hop, messages, pin, ledger)
        spans: list[Span | None] = []
        outcome: AIMessage | Exception | None = None
        while True:
            choice = self._next_attempt(attempts, outcome, spans, ledger)
            if isinstance(choice, HopResult):
                return choice
            span = self.tracing.start_chat(hop, choice, messages)
            spans.append(span)
            try:
                with self.tracing.activate(span):
                    reply = await self._runnable(choice, tools, tool_kwargs).ainvoke(
                        list(messages),
                        None,
                        **output_cap_kwargs(choice.model, hop.max_output_tokens),
                    )
                outcome = _as_ai(reply)
            except Exception as exc:  # handed to the failover logic
                outcome = exc

    def call(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        *,
        pin: Pin | None = None,
        tools: Sequence[Any] | None = None,
        ledger: Ledger | None = None,
        **tool_kwargs: Any,
    ) -> HopResult:
        """Synchronous twin of `acall`."""
        hop = self._prepare(hop, messages, tools)
        attempts = self._attempts(hop, messages, pin, ledger)
        spans: list[Span | None] = []
        outcome: AIMessage | Exception | None = None
        while True:
            choice = self._next_attempt(attempts, outcome, spans, ledger)
            if isinstance(choice, HopResult):
                return choice
            span = self.tracing.start_chat(hop, choice, messages)
            spans.append(span)
            try:
                with self.tracing.activate(span):
                    reply = self._runnable(choice, tools, tool_kwargs).invoke(
                        list(messages),
                        None,
                        **output_cap_kwargs(choice.model, hop.max_output_tokens),
                    )
                outcome = _as_ai(reply)
            except Exception as exc:  # handed to the failover logic
                outcome = exc

    async def arun_specialist(
        self,
        specialist: Specialist,
        messages: Sequence[BaseMessage],
        *,
        step: str = "",
        pins: PinState | None = None,
        tier_hint: str | None = None,
        max_output_tokens: int | None = None,
        ledger: Ledger | None = None,
    ) -> SpecialistRun:
        """Run `specialist` on `messages`: model hops and tool calls until it answers.

        A failing model call (after failover) or a call the budget refuses ends
        the run with `SpecialistRun.error` set and the hop recorded; it does not
        raise, so parallel branches keep their results. A failing tool becomes an
        error `ToolMessage` the model sees.
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
        with self.tracing.agent(specialist.name, step=step):
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
                                ledger=ledger,
                            )
                        except HopFailed as failed:
                            outcome = failed
                    else:
                        with self.tracing.tool(action.call["name"], action.call["id"]):
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
        ledger: Ledger | None = None,
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
        with self.tracing.agent(specialist.name, step=step):
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
                                ledger=ledger,
                            )
                        except HopFailed as failed:
                            outcome = failed
                    else:
                        with self.tracing.tool(action.call["name"], action.call["id"]):
                            outcome = run_tool(action)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def node(
        self, specialist: Specialist
    ) -> Callable[[Mapping[str, Any], RunnableConfig], dict[str, Any]]:
        """A synchronous LangGraph node running `specialist` on ``state["messages"]``.

        The state needs ``messages`` plus the `DispatchState` channels. A failed
        hop is recorded and reported as an AI message saying the specialist
        failed, so the graph keeps every other branch's result. For graphs run
        with ``ainvoke``/``astream``, use `anode`.
        """

        def routed(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
            ledger = self.ledger_for(config, state)
            run = self.run_specialist(
                specialist,
                state.get("messages", []),
                pins=state.get("pins"),
                step=specialist.name,
                ledger=ledger,
            )
            return _node_update(specialist, run, ledger)

        routed.__name__ = specialist.name
        return routed

    def anode(
        self, specialist: Specialist
    ) -> Callable[[Mapping[str, Any], RunnableConfig], Awaitable[dict[str, Any]]]:
        """Async twin of `node`: model calls use the providers' async clients."""

        async def routed(
            state: Mapping[str, Any], config: RunnableConfig
        ) -> dict[str, Any]:
            ledger = self.ledger_for(config, state)
            run = await self.arun_specialist(
                specialist,
                state.get("messages", []),
                pins=state.get("pins"),
                step=specialist.name,
                ledger=ledger,
            )
            return _node_update(specialist, run, ledger)

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


def _node_update(
    specialist: Specialist, run: SpecialistRun, ledger: Ledger
) -> dict[str, Any]:
    new = list(run.messages)
    if run.error is not None:
        new.append(AIMessage(content=f"[{specialist.name} failed: {run.error}]"))
    return {"messages": new, **run.state_update(ledger)}


def routed_node(
    dispatcher: Dispatcher, specialist: Specialist
) -> Callable[[Mapping[str, Any], RunnableConfig], dict[str, Any]]:
    """Same as ``dispatcher.node(specialist)``."""
    return dispatcher.node(specialist)


def _as_ai(reply: BaseMessage) -> AIMessage:
    if not isinstance(reply, AIMessage):
        raise TypeError(
            f"chat model returned {type(reply).__name__}, expected AIMessage"
        )
    return reply
