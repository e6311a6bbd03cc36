"""Build a LangChain chat model for a `ModelSpec`: a real provider model or a sim stand-in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel

from dispatch.errors import ModelUnavailable
from dispatch.sim import SimChatModel
from dispatch.types import ModelSpec

__all__ = (
    "ALLOW_PROVIDER_MODELS",
    "build_chat_model",
    "credentials_present",
    "output_cap_kwargs",
)

ALLOW_PROVIDER_MODELS = True
"""Tests set this to False so that no real provider model can be built by accident."""

_CREDENTIALS: Mapping[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google_genai": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "ollama": ("OLLAMA_HOST",),
}


def credentials_present(spec: ModelSpec, env: Mapping[str, str] | None = None) -> bool:
    """True when the environment holds what `spec`'s provider needs to be called.

    Local models need their server's address (``OLLAMA_HOST`` for Ollama); an
    OpenAI-compatible server is reached by setting ``OPENAI_BASE_URL``.
    """
    env = os.environ if env is None else env
    names = _CREDENTIALS.get(spec.provider, (f"{spec.provider.upper()}_API_KEY",))
    return any(env.get(n) for n in names)


def build_chat_model(spec: ModelSpec, *, simulate: bool) -> BaseChatModel:
    """A chat model for `spec`: a `SimChatModel` if `simulate`, else the provider's.

    Raises:
        ModelUnavailable: the provider's LangChain package is not installed, or
            provider models are disabled (`ALLOW_PROVIDER_MODELS`).
    """
    if simulate:
        return SimChatModel(model=spec.id)
    if not ALLOW_PROVIDER_MODELS:
        raise ModelUnavailable(spec.id, "provider models are disabled (tests)")
    from langchain.chat_models import init_chat_model  # noqa: PLC0415 - slow import

    kwargs: dict[str, Any] = {}
    if spec.base_url:
        kwargs["base_url"] = spec.base_url
    try:
        model: BaseChatModel = init_chat_model(
            spec.name, model_provider=spec.provider, **kwargs
        )
    except ImportError as exc:
        raise ModelUnavailable(
            spec.id,
            f"{exc}. Install the provider extra, e.g. graph-dispatch[{spec.provider}]",
        ) from exc
    return model


_OUTPUT_CAP_KWARG: Mapping[str, str] = {
    "google_genai": "max_output_tokens",
    "ollama": "num_predict",
}


def output_cap_kwargs(spec: ModelSpec, max_output_tokens: int) -> dict[str, int]:
    """The call keyword that caps output tokens, in `spec`'s provider's spelling."""
    return {_OUTPUT_CAP_KWARG.get(spec.provider, "max_tokens"): max_output_tokens}
