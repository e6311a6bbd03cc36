"""The `Dispatcher`: registry, router, tracing and model factory, plus the drivers.

A hop's decisions are pure (`dispatch.hop`, `dispatch.policy`,
`dispatch.budget`); this module only makes the calls. `call` / `acall` drive
one hop's failover loop (`dispatch.hop.hop_flow`), and `run_specialist` /
`arun_specialist` drive a specialist's tool loop (`dispatch.specialist`). Each
pair is written twice, once with ``await``, and each fits on a screen.

The ways in for frameworks live apart: `dispatch.langgraph` (graph nodes, state
channels, run budgets, resume) and `dispatch.langchain` (`RoutedChatModel`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage

from dispatch import specialist_run
from dispatch._chat_models import OUTPUT_CAP_SETTINGS, build_chat_model, with_output_cap
from dispatch.budget import BudgetSpec, Ledger, Ledgers
from dispatch.config import DEFAULT_CONFIG, load_config
from dispatch.cost import INPUT_SAFETY, reserved_input_tokens
from dispatch.deadline import call_with_deadline
from dispatch.health import ModelHealth
from dispatch.hop import Attempt, HopResult
from dispatch.hop_flow import hop_flow
from dispatch.pins import PinDict
from dispatch.policy import select
from dispatch.records import HopRecord
from dispatch.registry import Registry
from dispatch.resilience import CircuitBreaker
from dispatch.routing import FixedRouter, Router, RulesRouter
from dispatch.routing.protocol import leaf_layers
from dispatch.routing_charges import attach, decide_charged, with_charges
from dispatch.specialist import Specialist, SpecialistRun
from dispatch.tracing import Tracing
from dispatch.types import Hop, ModelChoice, ModelSpec, Pin

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool
    from opentelemetry.trace import Span

    from dispatch.privacy import PrivacyScanner

__all__ = ("Dispatcher", "ModelFactory")

ModelFactory = Callable[[ModelSpec], "BaseChatModel"]
"""Builds the chat model for a spec; injected in tests (`dispatch.testing`)."""

_Flow = Generator[Attempt, AIMessage | BaseException, HopResult]


class Dispatcher:
    """Routes every hop to the cheapest good-enough model and records it.

    Args:
        registry: models, tiers and capabilities.
        router: decides capability and tier; defaults to `RulesRouter`.
        simulate: build ``sim:`` stand-ins instead of provider models.
        model_factory: overrides how chat models are built (tests, custom clients);
            one with a ``check_registry(registry)`` method (`fake_factory`'s) is
            checked against `registry` here.
        clock: monotonic seconds, for hop durations.
        tracing: spans and metrics (default: the global OpenTelemetry providers,
            no-ops until an SDK is installed).
        budget: default budget of a workflow whose run names none.
        health: retries, circuit breaker and rate limits shared by every hop
            this dispatcher makes (default: a new `ModelHealth`).
        max_failovers: other models tried after the chosen one fails for good
            (retries of the same model not counted).
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
        health: ModelHealth | None = None,
        max_failovers: int = 2,
        input_safety: float = INPUT_SAFETY,
        privacy: PrivacyScanner | None = None,
    ) -> None:
        if not isinstance(registry, Registry):  # e.g. a config path: from_config
            raise TypeError(
                f"Dispatcher(registry): expected a Registry, found "
                f"{type(registry).__name__} (for a config file: Dispatcher.from_config)"
            )
        self.registry = registry
        self.router: Router = router or RulesRouter(
            tiers=registry.tiers, capabilities=registry.capabilities
        )
        for layer in leaf_layers(self.router):  # a fixed route's typo routes nowhere
            if isinstance(layer, FixedRouter):
                registry.check_hints(
                    "FixedRouter", capability=layer.capability, tier=layer.tier
                )
        attach(self.router, registry)  # an LLM layer's calls are charged as hops
        check_factory = getattr(model_factory, "check_registry", None)
        if check_factory is not None:  # fake_factory: a fake under a typo never serves
            check_factory(registry)
        self.simulate = simulate
        self._factory: ModelFactory = model_factory or (
            lambda spec: build_chat_model(spec, simulate=simulate)
        )
        self._models: dict[tuple[str, int | None], BaseChatModel] = {}
        self._clock = clock
        self.tracing = tracing or Tracing()
        self.budget = budget or BudgetSpec()
        self.ledgers = Ledgers()
        """Ledgers of the workflows and named budget scopes this dispatcher served."""
        self.health = health or ModelHealth(
            max_models=max_failovers + 1,
            breaker=CircuitBreaker(
                on_change=lambda model, old, new: self.tracing.circuit(model, old, new)
            ),
        )
        self.max_failovers = max_failovers
        self.input_safety = input_safety
        self.privacy = privacy
        """Scans each call's input; what it finds keeps the hop on local models."""

    @classmethod
    def from_config(
        cls,
        source: str | Path = DEFAULT_CONFIG,
        *,
        router: Router | None = None,
        simulate: bool = False,
        model_factory: ModelFactory | None = None,
        tracing: Tracing | None = None,
    ) -> Dispatcher:
        """A dispatcher over the registry in `source` (``"default"``: the shipped one).

        Without a `router`, the learned artefact named by the config's
        ``routing.artefact`` (if any) is loaded here, at start-up; else the
        rules layer decides.
        """
        config, specs = load_config(source)
        privacy = None
        if config.privacy.enabled:
            from dispatch.privacy import PrivacyScanner  # noqa: PLC0415 - opt-in

            privacy = PrivacyScanner(
                kinds=config.privacy.kinds, phone_region=config.privacy.phone_region
            )
        registry = Registry.from_specs(config, specs)
        if router is None and config.routing.artefact is not None:
            # the trained layer named in the config replaces the priors
            from dispatch.routing.learned_loading import configured_learned_router  # noqa: PLC0415

            router = configured_learned_router(config, source, registry)
        return cls(
            registry,
            router=router,
            simulate=simulate,
            model_factory=model_factory,
            tracing=tracing,
            budget=BudgetSpec(config.budget.limit_usd, config.budget.mode),
            privacy=privacy,
        )

    def plan(self, hop: Hop, pin: Pin | None = None) -> ModelChoice:
        """Route `hop` and select its model, without calling it (pure)."""
        return select(self.router.decide(hop), hop, self.registry, pin=pin)

    def chat_model_for(self, spec: ModelSpec, cap: int | None = None) -> BaseChatModel:
        """The (cached) chat model serving `spec`, its output capped at `cap` if
        given (a copy per cap: copying a provider model on every hop was slow)."""
        model = self._models.get((spec.id, cap))
        if model is None:
            if len(self._models) > 256:  # caps from callers: keep the cache bounded
                self._models.clear()
            model = self._models[spec.id, cap] = (
                self._factory(spec)
                if cap is None
                else with_output_cap(self.chat_model_for(spec), spec, cap)
            )
        return model

    # -- one hop ----------------------------------------------------------------------

    def _flow(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        tools: Sequence[Any] | None,
        pins: dict[str, Pin] | None,
        loop_pin: Pin | None,
        ledger: Ledger | None,
    ) -> tuple[Hop, _Flow, list[HopRecord]]:
        if not hop.input_tokens:
            tokens = reserved_input_tokens(messages, tools, self.input_safety)
            hop = replace(hop, input_tokens=tokens)
        if self.privacy is not None:
            found = self.privacy.scan_messages(messages)
            if found:
                hop = replace(hop, sensitive=found)
        # an LLM layer's call is a hop of its own, charged to the same ledger
        decision, charges = decide_charged(self.router.decide, hop, ledger)
        flow = hop_flow(
            hop,
            messages,
            decision=decision,
            registry=self.registry,
            pins=pins,
            loop_pin=loop_pin,
            ledger=ledger,
            health=self.health,
            clock=self._clock,
            simulate=self.simulate,
        )
        return hop, flow, charges

    def _runnable(
        self, choice: ModelChoice, tools: Sequence[Any] | None, kwargs: dict[str, Any]
    ) -> Runnable[Any, BaseMessage]:
        """The chosen model, capped at the choice's output limit in the parameter
        its provider honours, with `tools` bound; a cap among `kwargs` is dropped
        (it would override the one the ledger reserved for)."""
        model = self.chat_model_for(choice.model, choice.max_output_tokens)
        bound = {k: v for k, v in kwargs.items() if k not in OUTPUT_CAP_SETTINGS}
        return model.bind_tools(list(tools), **bound) if tools else model

    def _advance(
        self,
        flow: _Flow,
        outcome: AIMessage | BaseException | None,
        span: Span | None,
        ledger: Ledger | None,
    ) -> Attempt | HopResult:
        """Send `outcome` into the flow; end the span of the attempt it finished."""
        try:
            step = flow.send(outcome)  # type: ignore[arg-type]
        except StopIteration as done:
            result: HopResult = done.value
            if span is not None or outcome is not None:
                self.tracing.end_chat(
                    span, result.record, remaining=_left(ledger), reply=result.message
                )
            if result.refused:
                self.tracing.refused(result.record)
            return result
        if step.failed is not None:
            self.tracing.end_chat(span, step.failed, remaining=_left(ledger))
        return step

    async def acall(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        *,
        pin: Pin | None = None,
        pins: dict[str, Pin] | None = None,
        loop_pin: Pin | None = None,
        tools: Sequence[BaseTool | dict[str, object]] | None = None,
        ledger: Ledger | None = None,
        model_call: Callable[[ModelChoice], Awaitable[BaseMessage]] | None = None,
        **tool_kwargs: Any,
    ) -> HopResult:
        """Route `hop`, reserve its worst case, call the chosen model on
        `messages` (failing over to the nearest eligible model if it raises),
        settle and record it. Never raises for a failed or refused hop: check
        `HopResult.ok` or call `HopResult.raise_for_failure`.

        `pin` is the pin of the hop's scope (a shortcut for `pins`); `loop_pin`
        the model of the current tool loop. `model_call`, when given, makes each
        attempt's call itself (agent middleware hands the chosen model to the
        agent's own handler); `tools` then only count toward the input estimate.
        """
        if pin is not None:
            loop_pin = loop_pin or pin
        invoke = model_call or (
            lambda choice: self._runnable(choice, tools, tool_kwargs).ainvoke(
                list(messages)
            )
        )
        hop, flow, charges = self._flow(hop, messages, tools, pins, loop_pin, ledger)
        outcome: AIMessage | BaseException | None = None
        span: Span | None = None
        with closing(flow):
            while True:
                step = self._advance(flow, outcome, span, ledger)
                if isinstance(step, HopResult):
                    return with_charges(step, charges)
                if step.delay_s:
                    await asyncio.sleep(step.delay_s)
                span = self.tracing.start_chat(hop, step.choice, messages)
                try:
                    with self.tracing.activate(span):
                        call = invoke(step.choice)
                        reply = await asyncio.wait_for(
                            call, step.choice.model.timeout_s
                        )
                    outcome = _as_ai(reply)
                except BaseException as exc:  # handed to the failover logic
                    outcome = exc
                    if not isinstance(exc, Exception):  # cancelled: record, re-raise
                        self._advance(flow, outcome, span, ledger)
                        raise

    def call(
        self,
        hop: Hop,
        messages: Sequence[BaseMessage],
        *,
        pin: Pin | None = None,
        pins: dict[str, Pin] | None = None,
        loop_pin: Pin | None = None,
        tools: Sequence[BaseTool | dict[str, object]] | None = None,
        ledger: Ledger | None = None,
        model_call: Callable[[ModelChoice], BaseMessage] | None = None,
        **tool_kwargs: Any,
    ) -> HopResult:
        """Synchronous twin of `acall` (its deadline: `dispatch.deadline`)."""
        if pin is not None:
            loop_pin = loop_pin or pin

        def invoke(choice: ModelChoice) -> Callable[[], BaseMessage]:
            if model_call is not None:
                return partial(model_call, choice)
            runnable = self._runnable(choice, tools, tool_kwargs)  # on this thread
            return partial(runnable.invoke, list(messages))

        hop, flow, charges = self._flow(hop, messages, tools, pins, loop_pin, ledger)
        outcome: AIMessage | BaseException | None = None
        span: Span | None = None
        with closing(flow):
            while True:
                step = self._advance(flow, outcome, span, ledger)
                if isinstance(step, HopResult):
                    return with_charges(step, charges)
                if step.delay_s:
                    time.sleep(step.delay_s)
                span = self.tracing.start_chat(hop, step.choice, messages)
                try:
                    with self.tracing.activate(span):
                        call = invoke(step.choice)
                        reply = call_with_deadline(call, step.choice.model.timeout_s)
                    outcome = _as_ai(reply)
                except BaseException as exc:  # handed to the failover logic
                    outcome = exc
                    if not isinstance(exc, Exception):  # interrupted: record, re-raise
                        self._advance(flow, outcome, span, ledger)
                        raise

    # -- one specialist run -----------------------------------------------------------
    async def arun_specialist(
        self,
        specialist: Specialist,
        messages: Sequence[BaseMessage],
        *,
        step: str = "",
        pins: dict[str, PinDict] | None = None,
        tier_hint: str | None = None,
        max_output_tokens: int | None = None,
        ledger: Ledger | None = None,
    ) -> SpecialistRun:
        """Run `specialist` on `messages`: model hops and tool calls until it answers.

        A failing or refused hop ends the run with `SpecialistRun.error` set and
        every attempt recorded; it does not raise, so parallel branches keep their
        results. A failing tool becomes an error `ToolMessage` the model sees. A
        specialist with a `verifier` escalates a rejected answer one tier up
        (`dispatch.cascade`). See `dispatch.specialist_run`.
        """
        return await specialist_run.arun_specialist(
            self, specialist, messages, step=step, pins=pins, tier_hint=tier_hint,
            max_output_tokens=max_output_tokens, ledger=ledger,
        )  # fmt: skip

    def run_specialist(
        self,
        specialist: Specialist,
        messages: Sequence[BaseMessage],
        *,
        step: str = "",
        pins: dict[str, PinDict] | None = None,
        tier_hint: str | None = None,
        max_output_tokens: int | None = None,
        ledger: Ledger | None = None,
    ) -> SpecialistRun:
        """Synchronous twin of `arun_specialist`."""
        return specialist_run.run_specialist(
            self, specialist, messages, step=step, pins=pins, tier_hint=tier_hint,
            max_output_tokens=max_output_tokens, ledger=ledger,
        )  # fmt: skip


def _left(ledger: Ledger | None) -> Decimal | None:
    return ledger.remaining if ledger is not None else None


def _as_ai(reply: BaseMessage) -> AIMessage:
    if not isinstance(reply, AIMessage):
        raise TypeError(
            f"chat model returned {type(reply).__name__}, expected AIMessage"
        )
    return reply
