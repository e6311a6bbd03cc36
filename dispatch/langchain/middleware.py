"""`DispatchMiddleware`: graph-dispatch as LangChain v1 agent middleware.

The first way in for agent users::

    mw = DispatchMiddleware(dispatcher, specialist="assistant")
    agent = create_agent(mw.model, tools=[...], middleware=[mw], checkpointer=...)

Every model call the agent makes becomes one hop of the same pure path as
every other way in: `Dispatcher.call` / `acall` route it, reserve its worst
case, settle it from checked usage, fail over and trace it. The only
difference is who makes the call: the middleware hands the agent's own
``handler`` the chosen concrete chat model (``request.override(model=...)``,
capped at the choice's output limit), so `create_agent` keeps binding tools,
applying ``model_settings`` and parsing structured output, whichever model was
chosen. A failover calls ``handler`` again with the next model.

State: `state_schema` adds the ``hops`` / ``pins`` / ``budget`` channels with
the reducers of `dispatch.langgraph.DispatchState`, so ``hops`` accumulate,
pins are read from and written back to the thread (a checkpointer keeps them
across turns and processes), and the run's settled spend is checkpointed.

Budget: each agent run is one workflow with its own ledger
(`dispatch.langgraph.new_workflow`, started in `before_agent`); limit and mode
come from a `DispatchContext` run context (``create_agent(...,
context_schema=DispatchContext)``), ``configurable["budget_usd"]`` /
``["budget_mode"]``, else the dispatcher's default. A named
``workflow_id`` shares one scope across runs.

A hop that fails on every model, or that the budget refuses, ends the agent
cleanly by default (``on_failure="end"``): the reply is an `AIMessage` saying
why (no tool calls, so the agent stops) and the hop's records still reach
``hops`` and ``budget``, so the checkpoint stays consistent and the next turn
works. ``on_failure="raise"`` raises `HopFailed` instead (its ``records`` say
what happened; nothing is written to state for that call).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain.agents.middleware import (
    AgentMiddleware,
    AgentState,
    ExtendedModelResponse,
    ModelRequest,
    ModelResponse,
)
from langchain.agents.structured_output import (
    AutoStrategy,
    ProviderStrategy,
    ToolStrategy,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Command

from dispatch._chat_models import OUTPUT_CAP_SETTINGS
from dispatch.budget import Ledger
from dispatch.dispatcher import Dispatcher
from dispatch.errors import ConfigError
from dispatch.hop import HopResult
from dispatch.langchain.chat_model import RoutedChatModel
from dispatch.langgraph.context import new_workflow, run_ledger
from dispatch.langgraph.node import budget_delta
from dispatch.langgraph.state import DispatchState
from dispatch.pins import RejectedPin, pin_key, pin_to_dict, pins_of
from dispatch.records import record_from_state
from dispatch.specialist import conversation_hop, follows_tool
from dispatch.types import Hop, ModelChoice, Pin

__all__ = ("DispatchAgentState", "DispatchMiddleware", "OnFailure")

OnFailure = Literal["end", "raise"]
"""What a failed or refused hop does: end the agent with a message, or raise."""


class DispatchAgentState(AgentState[Any], DispatchState):
    """The agent's state plus graph-dispatch's ``hops``, ``pins`` and ``budget``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Call:
    """Everything one model call of the agent needs before it is routed."""

    hop: Hop
    messages: list[BaseMessage]
    """What the model is sent: the system message, then the conversation."""
    estimate_tools: list[BaseTool | dict[str, object]]
    """Tools and structured-output schemas, counted toward the input estimate."""
    pins: dict[str, Pin]
    loop_pin: Pin | None
    ledger: Ledger


class _Last:
    """The handler's responses by the reply they carry: the hop's kept reply
    names its response. (Not "the latest": a sync attempt abandoned at its
    deadline may return after the one that succeeded.)"""

    __slots__ = ("responses",)

    def __init__(self) -> None:
        self.responses: dict[int, ModelResponse[Any]] = {}

    def keep(self, response: ModelResponse[Any]) -> BaseMessage:
        reply = _reply(response)
        self.responses[id(reply)] = response  # the dict keeps `reply` alive
        return reply

    def of(self, result: HopResult) -> ModelResponse[Any] | None:
        return self.responses.get(id(result.message)) if result.ok else None


class DispatchMiddleware(AgentMiddleware[DispatchAgentState, Any, Any]):
    """Routes every model call of a `create_agent` agent through a `Dispatcher`.

    Args:
        dispatcher: routes, selects, prices and traces each call.
        specialist: name the calls are pinned and recorded under.
        capability: capability hint for every call; None lets the router decide.
        tier: tier hint for every call; None lets the router decide.
        max_output_tokens: output cap of every call; None takes the cap in the
            request's ``model_settings`` (``max_tokens`` or a provider's
            spelling), else the registry's default.
        on_failure: ``"end"`` (a failed or refused hop ends the agent with a
            message saying why) or ``"raise"`` (`HopFailed`).

    Raises:
        ConfigError: an unknown `on_failure` or a cap below 1.
    """

    state_schema = DispatchAgentState

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        specialist: str = "general",
        capability: str | None = None,
        tier: str | None = None,
        max_output_tokens: int | None = None,
        on_failure: OnFailure = "end",
    ) -> None:
        if on_failure not in ("end", "raise"):
            raise ConfigError(
                "DispatchMiddleware: unknown on_failure",
                path="on_failure",
                found=on_failure,
                expected="'end' or 'raise'",
            )
        if max_output_tokens is not None and max_output_tokens < 1:
            raise ConfigError(
                "DispatchMiddleware: the output cap must be positive",
                path="max_output_tokens",
                found=max_output_tokens,
                expected="an integer >= 1",
            )
        dispatcher.registry.check_hints(
            "DispatchMiddleware", capability=capability, tier=tier
        )
        self.dispatcher = dispatcher
        self.specialist = specialist
        self.capability = capability
        self.tier = tier
        self.max_output_tokens = max_output_tokens
        self.on_failure: OnFailure = on_failure
        self.tools = ()
        self._model: RoutedChatModel | None = None

    @property
    def model(self) -> BaseChatModel:
        """The ``model=`` to give `create_agent` next to this middleware.

        The middleware replaces it on every call; should a call bypass the
        middleware, this `RoutedChatModel` still routes it.
        """
        if self._model is None:
            self._model = RoutedChatModel(
                dispatcher=self.dispatcher,
                specialist=self.specialist,
                capability=self.capability,
                tier=self.tier,
            )
        return self._model

    # -- the run's budget ---------------------------------------------------------------

    def before_agent(
        self, state: DispatchAgentState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Start this run's workflow: a fresh ledger and ``budget`` channel."""
        _, write = new_workflow(self.dispatcher, get_config(), state)
        return {"budget": write}

    async def abefore_agent(
        self, state: DispatchAgentState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async twin of `before_agent` (no I/O)."""
        return self.before_agent(state, runtime)

    # -- one model call -----------------------------------------------------------------

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any] | AIMessage | ExtendedModelResponse[Any]:
        """Route the call: the dispatcher calls `handler` with each chosen model."""
        call = self._prepare(request)
        last = _Last()

        def model_call(choice: ModelChoice) -> BaseMessage:
            return last.keep(handler(_routed(request, self._chosen(choice), choice)))

        result = self.dispatcher.call(
            call.hop,
            call.messages,
            pins=call.pins,
            loop_pin=call.loop_pin,
            tools=call.estimate_tools,
            ledger=call.ledger,
            model_call=model_call,
        )
        return self._finish(call, result, last.of(result))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any] | AIMessage | ExtendedModelResponse[Any]:
        """Async twin of `wrap_model_call`."""
        call = self._prepare(request)
        last = _Last()

        async def model_call(choice: ModelChoice) -> BaseMessage:
            return last.keep(
                await handler(_routed(request, self._chosen(choice), choice))
            )

        result = await self.dispatcher.acall(
            call.hop,
            call.messages,
            pins=call.pins,
            loop_pin=call.loop_pin,
            tools=call.estimate_tools,
            ledger=call.ledger,
            model_call=model_call,
        )
        return self._finish(call, result, last.of(result))

    def _chosen(self, choice: ModelChoice) -> BaseChatModel:
        """The concrete chat model of `choice`, capped at its output limit."""
        return self.dispatcher.chat_model_for(choice.model, choice.max_output_tokens)

    def _prepare(self, request: ModelRequest[Any]) -> _Call:
        """The hop, pins, tool-loop pin and ledger of one agent model call."""
        state: Mapping[str, Any] = request.state
        messages: list[BaseMessage] = list(request.messages)
        if request.system_message is not None:
            messages.insert(0, request.system_message)
        pins = pins_of(state.get("pins"))
        loop_pin = (
            _loop_pin(state.get("hops") or (), self.specialist, pins)
            if follows_tool(messages)
            else None
        )
        settings = request.model_settings
        cap = (
            self.max_output_tokens
            or next((settings[n] for n in OUTPUT_CAP_SETTINGS if settings.get(n)), None)
            or self.dispatcher.registry.max_output_tokens
        )
        hop = conversation_hop(
            messages,
            specialist=self.specialist,
            capability=self.capability,
            tier=self.tier,
            max_output_tokens=int(cap),
        )
        return _Call(
            hop=hop,
            messages=messages,
            estimate_tools=[*request.tools, *_format_tools(request.response_format)],
            pins=pins,
            loop_pin=loop_pin,
            ledger=run_ledger(self.dispatcher, get_config(), state),
        )

    def _finish(
        self,
        call: _Call,
        result: HopResult,
        response: ModelResponse[Any] | None,
    ) -> ExtendedModelResponse[Any]:
        """The agent's response plus the ``hops``/``pins``/``budget`` writes."""
        update: dict[str, Any] = {
            "hops": [r.as_dict() for r in result.records],
            "budget": budget_delta(call.ledger, result.records),
        }
        if result.pin is not None and call.pins.get(result.pin_scope) != result.pin:
            update["pins"] = {result.pin_scope: pin_to_dict(result.pin)}
        if result.ok and response is not None:
            return ExtendedModelResponse(
                model_response=response, command=Command(update=update)
            )
        if self.on_failure == "raise":
            result.raise_for_failure()
        failed = AIMessage(content=f"[{self.specialist} failed: {result.error}]")
        return ExtendedModelResponse(
            model_response=ModelResponse(result=[failed]),
            command=Command(update=update),
        )


def _routed(
    request: ModelRequest[Any], model: BaseChatModel, choice: ModelChoice
) -> ModelRequest[Any]:
    """`request` on the chosen `model`; an output cap in its settings is lowered
    to the choice's, so a call never declares more output than was reserved."""
    settings = request.model_settings
    caps = {
        name: min(int(settings[name]), choice.max_output_tokens)
        for name in OUTPUT_CAP_SETTINGS
        if settings.get(name)
    }
    if not caps:
        return request.override(model=model)
    return request.override(model=model, model_settings={**settings, **caps})


def _reply(response: ModelResponse[Any]) -> BaseMessage:
    """The model's message in a handler response (structured output may add a
    `ToolMessage` after it)."""
    for message in response.result:
        if isinstance(message, AIMessage):
            return message
    kinds = ", ".join(type(m).__name__ for m in response.result) or "nothing"
    raise TypeError(f"the agent's model handler returned {kinds}, expected AIMessage")


def _loop_pin(hops: Sequence[Any], specialist: str, pins: dict[str, Pin]) -> Pin | None:
    """The model of the current tool loop: the last answered hop of `specialist`.

    A record that is not one (state is input too) gives a `RejectedPin`: the
    hop drops it and says why (`dispatch.pin_screening.screened_pins`).
    """
    for i in range(len(hops) - 1, -1, -1):
        try:
            record = record_from_state(hops[i], f"hops[{i}]")
        except ConfigError as exc:
            return RejectedPin(model="", tier="", reason="", problem=str(exc))
        if record.specialist == specialist and record.error is None:
            key = pin_key(specialist, record.tier)
            return pins.get(key) or Pin(
                model=record.model, tier=record.tier, reason="the tool loop's model"
            )
    return None


def _format_tools(response_format: object) -> list[BaseTool | dict[str, object]]:
    """A response format's schemas as tool definitions (for the input estimate
    only: `create_agent` binds them itself)."""
    if isinstance(response_format, AutoStrategy):
        response_format = ToolStrategy(schema=response_format.schema)
    if isinstance(response_format, ToolStrategy):
        specs = list(response_format.schema_specs)
    elif isinstance(response_format, ProviderStrategy):
        specs = [response_format.schema_spec]
    else:
        return []
    return [
        {
            "type": "function",
            "function": {
                "name": s.name,
                "description": s.description,
                "parameters": s.json_schema,
            },
        }
        for s in specs
    ]
