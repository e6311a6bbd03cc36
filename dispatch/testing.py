"""Test doubles for graph-dispatch users and for the project's own tests.

No network, no key: `FakeChatModel` replays scripted replies (or raises), and
`fake_factory` hands a dispatcher the fakes to use per model id.

Public, like httpx's ``MockTransport``: a user tests their own graph through
the real dispatcher (routing, pins, budget, spans) with only the model call
replaced, instead of mocking the library's internals. The fakes are real
LangChain chat models, so anything that accepts a `BaseChatModel` takes them.
`dispatch.testing_faults` adds a wrapper that injects provider faults.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, Field, PrivateAttr

from dispatch.sim import SimChatModel
from dispatch.types import ModelSpec

if TYPE_CHECKING:
    from dispatch.registry import Registry

__all__ = ("FakeChatModel", "FakeEncoder", "fake_factory")


class FakeChatModel(BaseChatModel):
    """Replays `replies` in order (cycling the last); an `Exception` item is raised.

    Each reply reports ``usage_metadata`` of `input_tokens`/`output_tokens`
    unless `report_usage` is False (to exercise estimates). Every request is kept
    in `requests`, and the tools bound to it in `bound_tools`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Any] = Field(default_factory=lambda: [AIMessage(content="ok")])
    """`AIMessage`s to reply with, or exceptions to raise, in order."""
    input_tokens: int = 100
    """Input tokens reported on every reply (fixed: cost assertions stay exact)."""
    output_tokens: int = 20
    """Output tokens reported on every reply."""
    report_usage: bool = True
    """False: replies carry no ``usage_metadata``, so the hop must estimate."""
    name_: str = "fake"
    """Reported as ``response_metadata["model_name"]`` (the response model)."""
    requests: list[list[BaseMessage]] = Field(default_factory=list)
    """Every request received, in order, for assertions on prompts."""
    bound_tools: list[Any] = Field(default_factory=list)
    """The tools of the last `bind_tools` call."""
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _next: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        """LangChain's model-type tag."""
        return "dispatch-fake"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tools and bind them like a provider model would."""
        self.bound_tools = list(tools)
        return self.bind(tools=list(tools), **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The next scripted reply (a deep copy, so callers cannot edit the script).

        Thread-safe: parallel branches calling one fake each get the next item.
        """
        with self._lock:
            self.requests.append(list(messages))
            item = self.replies[min(self._next, len(self.replies) - 1)]
            self._next += 1
        if isinstance(item, BaseException):
            raise item
        reply = item.model_copy(deep=True)
        if self.report_usage:
            reply.usage_metadata = {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "total_tokens": self.input_tokens + self.output_tokens,
            }
        reply.response_metadata = {"model_name": self.name_}
        return ChatResult(generations=[ChatGeneration(message=reply)])


def fake_factory(
    models: Mapping[str, BaseChatModel] | None = None,
    *,
    default: Callable[[ModelSpec], BaseChatModel] | None = None,
) -> Callable[[ModelSpec], BaseChatModel]:
    """A `Dispatcher(model_factory=...)` serving `models` by id.

    Ids not in `models` get `default(spec)`, or a `SimChatModel` when no default.
    The same instance is returned for an id every time, so its `requests`
    show every call the dispatcher made on that model.

    The `Dispatcher` checks the ids against its registry when it is built
    (the factory's ``check_registry``): a fake keyed by an id no registered
    model has is a typo that would never serve, so it is a `ConfigError`
    naming the unknown ids and the registered ones.

    Example:
        >>> from dispatch import Dispatcher, Registry
        >>> coder = FakeChatModel(replies=[AIMessage(content="def f(): ...")])
        >>> registry = Registry.from_config()
        >>> dispatcher = Dispatcher(
        ...     registry, model_factory=fake_factory({registry.baseline.id: coder})
        ... )
    """
    return _FakeFactory(dict(models or {}), default)


class _FakeFactory:
    """`fake_factory`'s factory: callable per spec, checkable against a registry."""

    def __init__(
        self,
        models: dict[str, BaseChatModel],
        default: Callable[[ModelSpec], BaseChatModel] | None,
    ) -> None:
        self._models = models
        self._default = default

    def __call__(self, spec: ModelSpec) -> BaseChatModel:
        if spec.id in self._models:
            return self._models[spec.id]
        return self._default(spec) if self._default else SimChatModel(model=spec.id)

    def check_registry(self, registry: Registry) -> None:
        """Refuse fakes keyed by ids `registry` does not have (they never serve).

        Raises:
            ConfigError: naming the unknown ids and the registered ones.
        """
        registry.check_ids("fake_factory", self._models)


class FakeEncoder:
    """A deterministic bag-of-words `Encoder`: each lower-cased word hashes to one
    of `dim` buckets; texts sharing words are similar. Counts its calls.

    Words hash with blake2b, not `hash`, so vectors are the same in every
    process (Python salts `str` hashes per run). The call counters let a test
    prove a cache spared the encoder.
    """

    def __init__(self, dim: int = 256) -> None:
        """`dim` buckets; more buckets, fewer collisions between words."""
        self.dim = dim
        self.calls = 0
        """`encode` calls so far."""
        self.texts = 0
        """Texts encoded so far."""

    @property
    def id(self) -> str:
        """``fake-bow-<dim>``: a cache never mixes fake and real vectors."""
        return f"fake-bow-{self.dim}"

    def encode(self, texts: Sequence[str]) -> Any:
        """Normalised float32 rows; a text with no words is an all-zero row."""
        import numpy as np  # noqa: PLC0415 - numpy only when used

        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                word = word.strip(".,?!:;\"'()")
                if word:
                    digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                    out[row, int.from_bytes(digest, "big") % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out
