"""A chat model that injects provider faults, for stress tests and ``bench.faults``.

`FaultyChatModel` wraps any chat model (a `SimChatModel`, a `FakeChatModel`, a
real one) and, on a seeded share of calls, replaces the call with one of the
`Fault`s a production provider produces: errors shaped like the SDKs' (status
code, ``Retry-After`` header, optionally an API key echoed in the message, as
real providers do), timeouts, calls that hang until cancelled, replies with
missing, malformed, negative or absurd usage, empty replies and bad tool calls.
Every call's outcome is logged in order (`FaultyChatModel.log`), so a test can
assert on exactly what was injected.

The injected exceptions carry the attributes `dispatch.faults.error_facts`
reads (``status_code``, ``headers``); they do not need any provider SDK.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, Field

from dispatch._injected import (
    ALL_FAULTS,
    Fault,
    InjectedConnectionError,
    InjectedError,
    InjectedTimeout,
    InternalServerError,
    RateLimitError,
)
from dispatch.registry import Registry
from dispatch.sim import SimChatModel
from dispatch.types import ModelSpec

__all__ = (
    "ALL_FAULTS",
    "Fault",
    "FaultyChatModel",
    "InjectedConnectionError",
    "InjectedError",
    "InjectedTimeout",
    "InternalServerError",
    "RateLimitError",
    "faulty_factory",
)


@dataclass
class _Shared:
    """State shared by a model and its tool-bound copies: one RNG, one log."""

    rng: random.Random
    """Drawn under `lock`, so the sequence of faults is the sequence of calls."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[Fault | None] = field(default_factory=list)
    """One entry per call, appended with the draw."""
    release: threading.Event = field(default_factory=threading.Event)
    """Set by `release_hangs`: ends every blocked sync hang at once."""


class FaultyChatModel(BaseChatModel):
    """Wraps `inner`; each call is replaced by a fault with probability `rate`.

    Faults are drawn uniformly from `faults` with a `random.Random(seed)`, under a
    lock, in call order. `bind_tools` binds the inner model and returns a copy
    sharing the RNG and the log. Sync hangs block until `release_hangs()` (or
    `hang_s`), async hangs sleep `hang_s` and end early only by cancellation.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: Any
    """The wrapped chat model (or a tool-bound runnable of it)."""
    rate: float = 0.3
    """Share of calls that get a fault, 0..1."""
    faults: Sequence[Fault] = ALL_FAULTS
    """Faults to draw from."""
    seed: int = 0
    """RNG seed: the same seed and call order inject the same faults."""
    retry_after_s: float = 2.0
    """``Retry-After`` of injected 429s."""
    hang_s: float = 3600.0
    """How long a hang lasts if nobody cancels or releases it."""
    secret: str = ""
    """Text (e.g. the test's fake API key) echoed in error messages, as some
    providers echo the key; lets tests prove it never reaches stored text."""
    tool_names: tuple[str, ...] = ()
    """Names of the tools bound (for `Fault.INVALID_TOOL_ARGS`)."""
    max_tokens: int | None = None
    """The hop's output cap (set by `dispatch._chat_models.with_output_cap`),
    passed on to `inner` so the wrapped model answers within it."""
    shared: Any = Field(default=None)
    """Internal: the RNG and log shared with tool-bound copies."""

    def model_post_init(self, context: Any, /) -> None:
        """Validate and create the shared RNG."""
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(
                f"FaultyChatModel rate must be within 0..1, got {self.rate}"
            )
        if not self.faults:
            raise ValueError("FaultyChatModel needs at least one fault to draw")
        if self.shared is None:
            self.shared = _Shared(rng=random.Random(self.seed))

    @property
    def _llm_type(self) -> str:
        """LangChain's model-type tag (callbacks and tracing show it)."""
        return "dispatch-faulty"

    @property
    def log(self) -> list[Fault | None]:
        """Per call in order: the injected fault, or None for a clean call."""
        with self.shared.lock:
            return list(self.shared.log)

    def release_hangs(self) -> None:
        """End every blocked sync hang (they raise `InjectedTimeout`)."""
        self.shared.release.set()

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind the inner model; the copy shares the RNG and the log."""
        bound = self._capped().bind_tools(tools, tool_choice=tool_choice, **kwargs)
        names = tuple(n for n in (_tool_name(t) for t in tools) if n)
        return self.model_copy(update={"inner": bound, "tool_names": names})

    def _capped(self) -> Any:
        """`inner` with this model's output cap (a tool-bound inner has it already)."""
        fields = getattr(type(self.inner), "model_fields", {})
        if self.max_tokens is None or "max_tokens" not in fields:
            return self.inner
        return self.inner.model_copy(update={"max_tokens": self.max_tokens})

    def _draw(self) -> Fault | None:
        """Decide this call's fault (or None) and log it, atomically."""
        with self.shared.lock:
            rng = self.shared.rng
            fault = rng.choice(list(self.faults)) if rng.random() < self.rate else None
            self.shared.log.append(fault)
            return fault

    def _raise(self, fault: Fault) -> None:
        """Raise the provider-shaped exception of an error `fault`.

        Faults that corrupt a reply instead (usage, content, tool calls) fall
        through; `_corrupt` applies them to the inner model's answer.
        """
        echo = f" (key: {self.secret})" if self.secret else ""
        if fault is Fault.EXCEPTION:
            raise InjectedError(f"injected unexpected failure{echo}")
        if fault is Fault.RATE_LIMIT:
            raise RateLimitError(
                f"Rate limit reached{echo}",
                status_code=429,
                headers={"retry-after": f"{self.retry_after_s:g}"},
            )
        if fault is Fault.SERVER:
            raise InternalServerError(f"Service unavailable{echo}", status_code=503)
        if fault is Fault.CONNECTION:
            raise InjectedConnectionError(f"Connection reset by peer{echo}")
        if fault is Fault.TIMEOUT:
            raise InjectedTimeout(f"Request timed out{echo}")

    def _corrupt(self, fault: Fault | None, reply: AIMessage) -> AIMessage:
        """`reply` damaged as `fault` says; the usage values are ones real
        providers have sent (missing, strings, negative, a billion tokens)."""
        if fault is None:
            return reply
        update: dict[str, Any] = {}
        if fault is Fault.MISSING_USAGE:
            update["usage_metadata"] = None
        elif fault is Fault.MALFORMED_USAGE:
            update["usage_metadata"] = {"input_tokens": "many", "total_tokens": None}
        elif fault is Fault.NEGATIVE_USAGE:
            update["usage_metadata"] = {
                "input_tokens": -500,
                "output_tokens": -1_000_000,
                "total_tokens": -1_000_500,
            }
        elif fault is Fault.HUGE_USAGE:
            update["usage_metadata"] = {
                "input_tokens": 10**9,
                "output_tokens": 10**9,
                "total_tokens": 2 * 10**9,
            }
        elif fault is Fault.EMPTY_CONTENT:
            update.update(content="", tool_calls=[], invalid_tool_calls=[])
        elif fault is Fault.UNKNOWN_TOOL:
            update.update(content="", tool_calls=[_call("no_such_tool", {"x": 1})])
        elif fault is Fault.INVALID_TOOL_ARGS:
            if self.tool_names:
                # a wrong type and an unknown key, required keys missing
                bad = {"code": 12345, "__unexpected__": True}
                update.update(content="", tool_calls=[_call(self.tool_names[0], bad)])
            else:
                update.update(
                    content="",
                    tool_calls=[],
                    invalid_tool_calls=[
                        {
                            "name": "unknown",
                            "args": "{not json",
                            "id": _call_id(),
                            "error": "injected: arguments are not JSON",
                            "type": "invalid_tool_call",
                        }
                    ],
                )
        return reply.model_copy(update=update)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Draw a fault; raise it, hang, or call `inner` and corrupt its reply."""
        fault = self._draw()
        if fault is Fault.HANG:
            self.shared.release.wait(self.hang_s)
            raise InjectedTimeout("injected hang ended without a reply")
        if fault is not None:
            self._raise(fault)
        reply = self._capped().invoke(messages, stop=stop, **kwargs)
        return ChatResult(
            generations=[ChatGeneration(message=self._corrupt(fault, reply))]
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Async `_generate`; a hang is a sleep, so a timeout can cancel it."""
        fault = self._draw()
        if fault is Fault.HANG:
            await asyncio.sleep(self.hang_s)  # only cancellation ends it early
            raise InjectedTimeout("injected hang ended without a reply")
        if fault is not None:
            self._raise(fault)
        reply = await self._capped().ainvoke(messages, stop=stop, **kwargs)
        return ChatResult(
            generations=[ChatGeneration(message=self._corrupt(fault, reply))]
        )


def _call_id() -> str:
    """A fresh provider-style tool-call id."""
    return f"call_{uuid.uuid4().hex[:12]}"


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": _call_id(), "type": "tool_call"}


def _tool_name(tool: object) -> str | None:
    """The name of any form `bind_tools` accepts (tool, OpenAI dict, function)."""
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, dict):
        function = tool.get("function", tool)
        name = function.get("name") if isinstance(function, dict) else None
        return str(name) if name else None
    return getattr(tool, "__name__", None)


class _FaultyFactory:
    """See `faulty_factory`; callable as a ``model_factory``, one model per id.

    Models are cached so every hop on a model id shares its RNG and log, and
    a test can read `injected()` after the run.
    """

    def __init__(
        self,
        rate: float,
        seed: int,
        faults: Sequence[Fault],
        base: Callable[[ModelSpec], BaseChatModel],
        per_model: Mapping[str, tuple[float, Sequence[Fault]]],
        options: dict[str, Any],
    ) -> None:
        self.rate, self.seed, self.faults = rate, seed, tuple(faults)
        self.base, self.per_model, self.options = base, dict(per_model), options
        self.models: dict[str, FaultyChatModel] = {}
        """The wrapper built per model id, to read their `log`s."""
        self._lock = threading.Lock()

    def check_registry(self, registry: Registry) -> None:
        """Refuse `per_model` entries for ids `registry` does not have, and
        pass the check on to `base` when it has one (a `fake_factory`).

        Raises:
            ConfigError: naming the unknown ids and the registered ones.
        """
        registry.check_ids("faulty_factory per_model", self.per_model)
        check_base = getattr(self.base, "check_registry", None)
        if callable(check_base):
            check_base(registry)

    def __call__(self, spec: ModelSpec) -> FaultyChatModel:
        """The (cached) faulty model for `spec`, built on first request."""
        with self._lock:
            model = self.models.get(spec.id)
            if model is None:
                rate, faults = self.per_model.get(spec.id, (self.rate, self.faults))
                # a per-model seed that does not depend on build order
                digest = hashlib.blake2b(
                    f"{self.seed}:{spec.id}".encode(), digest_size=8
                )
                model = self.models[spec.id] = FaultyChatModel(
                    inner=self.base(spec),
                    rate=rate,
                    faults=faults,
                    seed=int.from_bytes(digest.digest(), "big"),
                    **self.options,
                )
            return model

    def release_hangs(self) -> None:
        """Release every sync hang of every model built."""
        with self._lock:
            models = list(self.models.values())
        for model in models:
            model.release_hangs()

    def injected(self) -> dict[Fault, int]:
        """How often each fault was injected, over all models."""
        counts: dict[Fault, int] = {}
        with self._lock:
            models = list(self.models.values())
        for model in models:
            for fault in model.log:
                if fault is not None:
                    counts[fault] = counts.get(fault, 0) + 1
        return counts


def faulty_factory(
    rate: float,
    *,
    seed: int = 0,
    faults: Sequence[Fault] = ALL_FAULTS,
    base: Callable[[ModelSpec], BaseChatModel] | None = None,
    per_model: Mapping[str, tuple[float, Sequence[Fault]]] | None = None,
    **options: Any,
) -> _FaultyFactory:
    """A ``Dispatcher(model_factory=...)`` whose models inject faults.

    Each model id gets one `FaultyChatModel` around ``base(spec)`` (default: the
    offline `SimChatModel`), seeded from `seed` and the id so runs are
    reproducible whatever order models are built in. `per_model` overrides
    ``(rate, faults)`` per id, e.g. ``{"tiny:model": (1.0, [Fault.RATE_LIMIT])}``
    for a model that always answers 429. `options` go to every
    `FaultyChatModel` (``retry_after_s``, ``hang_s``, ``secret``).

    Example:
        >>> factory = faulty_factory(0.3, seed=7)
        >>> # Dispatcher(registry, model_factory=factory); run; then:
        >>> factory.injected()  # nothing built or called yet
        {}
    """
    return _FaultyFactory(
        rate,
        seed,
        faults,
        base or (lambda spec: SimChatModel(model=spec.id)),
        per_model or {},
        options,
    )
