"""Build a LangChain chat model for a `ModelSpec`, and cap its output per provider.

Each provider spells the output cap differently and honours only its own
spelling, so `with_output_cap` sets it where that provider reads it:

| provider                         | on the wire                          |
| -------------------------------- | ------------------------------------ |
| OpenAI (``api.openai.com``)      | ``max_completion_tokens``            |
| OpenAI-compatible server         | ``max_tokens`` (vLLM, llama.cpp, …)  |
| Anthropic                        | ``max_tokens``                       |
| Google Generative Language       | ``generationConfig.maxOutputTokens`` |
| Ollama                           | ``options.num_predict``              |

The cap is set on a shallow copy of the model (the HTTP client is shared), not
passed as a call keyword: Ollama's client rejects ``num_predict`` as a keyword,
and a per-call ``options`` or ``extra_body`` would replace the model's own.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel

from dispatch.errors import ModelUnavailable
from dispatch.sim import SimChatModel
from dispatch.types import ModelSpec

__all__ = (
    "ALLOW_PROVIDER_MODELS",
    "build_chat_model",
    "credentials_present",
    "install_command",
    "missing_provider_packages",
    "with_output_cap",
)

ALLOW_PROVIDER_MODELS = True
"""Tests set this to False so that no real provider model can be built by accident."""

OPENAI_HOST = "api.openai.com"
"""Host of OpenAI's own API; any other OpenAI base URL is an OpenAI-compatible server."""

_NO_KEY = "no-key"
"""Placeholder handed to the OpenAI client for a keyless server: it insists on a
key at construction, but the ``Authorization`` header is omitted from every
request, so this value is never sent."""


@dataclass(frozen=True, slots=True)
class _Provider:
    """What graph-dispatch needs to know about one provider."""

    package: str
    """Module of the LangChain integration (``langchain_openai``)."""
    extra: str
    """The graph-dispatch extra that installs it."""
    env: tuple[str, ...]
    """Variables any one of which makes the provider reachable."""


_PROVIDERS: Mapping[str, _Provider] = {
    "openai": _Provider(
        "langchain_openai", "openai", ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    ),
    "anthropic": _Provider("langchain_anthropic", "anthropic", ("ANTHROPIC_API_KEY",)),
    "google_genai": _Provider(
        "langchain_google_genai", "google", ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    ),
    "ollama": _Provider("langchain_ollama", "ollama", ("OLLAMA_HOST",)),
}


def credentials_present(spec: ModelSpec, env: Mapping[str, str] | None = None) -> bool:
    """True when the environment holds what `spec`'s provider needs to be called.

    Local models need their server's address (``OLLAMA_HOST`` for Ollama); an
    OpenAI-compatible server is reached by setting ``OPENAI_BASE_URL``, with or
    without ``OPENAI_API_KEY``.
    """
    env = os.environ if env is None else env
    known = _PROVIDERS.get(spec.provider)
    names = known.env if known else (f"{spec.provider.upper()}_API_KEY",)
    return any(env.get(n) for n in names)


def install_command(provider: str) -> str:
    """The pip command that installs `provider`'s LangChain integration."""
    known = _PROVIDERS.get(provider)
    if known is None:
        return f"pip install langchain-{provider.replace('_', '-')}"
    return f"pip install 'graph-dispatch[{known.extra}]'"


def missing_provider_packages(providers: set[str]) -> dict[str, str]:
    """Provider -> install command, for each of `providers` whose package is absent.

    Checked without importing the package (``importlib.util.find_spec``), so the
    check is cheap enough to run at start-up.
    """
    missing: dict[str, str] = {}
    for provider in sorted(providers):
        known = _PROVIDERS.get(provider)
        if known is not None and importlib.util.find_spec(known.package) is None:
            missing[provider] = install_command(provider)
    return missing


def build_chat_model(
    spec: ModelSpec, *, simulate: bool, env: Mapping[str, str] | None = None
) -> BaseChatModel:
    """A chat model for `spec`: a `SimChatModel` if `simulate`, else the provider's.

    Where the model is served comes from the environment the provider's own
    client reads, with two rules of graph-dispatch's:

    * OpenAI: ``spec.base_url``, else ``OPENAI_BASE_URL``. A base URL without
      ``OPENAI_API_KEY`` is a keyless OpenAI-compatible server (vLLM,
      llama.cpp): no ``Authorization`` header is sent.
    * Ollama: ``OLLAMA_HOST`` (the variable that makes Ollama reachable also
      says where it runs), else ``spec.base_url``, else Ollama's default.

    Raises:
        ModelUnavailable: the provider's LangChain package is not installed,
            OpenAI has neither key nor base URL, Anthropic or Google has no
            key (and the spec no ``base_url``), or provider models are
            disabled (`ALLOW_PROVIDER_MODELS`). Its message names what to
            set or install, and the hop's record keeps it.
    """
    if simulate:
        return SimChatModel(model=spec.id)
    if not ALLOW_PROVIDER_MODELS:
        raise ModelUnavailable(spec.id, "provider models are disabled (tests)")
    env = os.environ if env is None else env
    _check_key(spec, env)
    kwargs = _provider_kwargs(spec, env)
    from langchain.chat_models import init_chat_model  # noqa: PLC0415 - slow import

    try:
        model: BaseChatModel = init_chat_model(
            spec.name, model_provider=spec.provider, **kwargs
        )
    except ImportError as exc:
        raise ModelUnavailable(
            spec.id, f"{exc}; install it with: {install_command(spec.provider)}"
        ) from exc
    return model


_KEYED = frozenset({"anthropic", "google_genai"})
"""Providers whose client needs a key from the environment (OpenAI's rule,
key or base URL, is `_where`'s; Ollama needs none)."""


def _check_key(spec: ModelSpec, env: Mapping[str, str]) -> None:
    """Refuse to build a keyed provider's model without its key: its client
    would fail at the first call with a validation error that says less."""
    if spec.provider not in _KEYED or spec.base_url or credentials_present(spec, env):
        return
    names = " or ".join(_PROVIDERS[spec.provider].env)
    raise ModelUnavailable(spec.id, f"no key in the environment: set {names}")


def _provider_kwargs(spec: ModelSpec, env: Mapping[str, str]) -> dict[str, Any]:
    kwargs = _where(spec, env)
    # graph-dispatch retries (with backoff, honouring Retry-After) and fails over
    # itself, so the SDKs' own retries would only multiply attempts and hide them.
    if spec.provider == "ollama":
        if spec.timeout_s:
            kwargs["client_kwargs"] = {"timeout": spec.timeout_s}
    elif spec.provider in ("openai", "anthropic", "google_genai"):
        kwargs["max_retries"] = 0
        if spec.timeout_s:
            kwargs["timeout"] = spec.timeout_s
    return kwargs


def _where(spec: ModelSpec, env: Mapping[str, str]) -> dict[str, Any]:
    """Endpoint and credentials of `spec`'s provider."""
    kwargs: dict[str, Any] = {}
    if spec.provider == "ollama":
        host = env.get("OLLAMA_HOST") or spec.base_url
        if host:
            kwargs["base_url"] = host
        return kwargs
    if spec.provider != "openai":
        if spec.base_url:
            kwargs["base_url"] = spec.base_url
        return kwargs
    base = spec.base_url or env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_BASE")
    if base:
        kwargs["base_url"] = base
    if env.get("OPENAI_API_KEY"):
        kwargs["api_key"] = env["OPENAI_API_KEY"]
    elif base:
        kwargs["api_key"] = _NO_KEY
        kwargs["model_kwargs"] = {"extra_headers": {"Authorization": _omit()}}
    else:
        raise ModelUnavailable(
            spec.id,
            "set OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server",
        )
    return kwargs


def _omit() -> Any:
    """The OpenAI client's marker that drops a header from a request."""
    try:
        from openai import Omit  # noqa: PLC0415 - only with the openai extra
    except ImportError as exc:
        raise ModelUnavailable("openai", f"{exc}; {install_command('openai')}") from exc
    return Omit()


def with_output_cap(
    model: BaseChatModel, spec: ModelSpec, max_output_tokens: int
) -> BaseChatModel:
    """`model` with its output capped at `max_output_tokens`, in the parameter
    `spec`'s provider honours (see the module docstring).

    Returns a shallow copy (sharing the HTTP client), so the cached model keeps
    its own settings and concurrent hops with different caps do not interfere.
    Other settings are kept: an Ollama model's ``temperature`` stays in
    ``options`` beside ``num_predict``, an OpenAI-compatible model's
    ``extra_body`` keeps its other keys. A model with no known cap field (a
    test double) is returned as it is.
    """
    if max_output_tokens < 1:
        raise ValueError(f"max_output_tokens must be >= 1, got {max_output_tokens}")
    fields = type(model).model_fields
    if "openai_api_base" in fields:  # ChatOpenAI and its subclasses
        if spec.provider == "openai" and _is_openai_compatible(model):
            extra = dict(getattr(model, "extra_body", None) or {})
            extra["max_tokens"] = max_output_tokens
            return model.model_copy(update={"extra_body": extra, "max_tokens": None})
        return model.model_copy(update={"max_tokens": max_output_tokens})
    for name in (_CAP_FIELD.get(spec.provider), *_CAP_FIELD.values()):
        if name is not None and name in fields:
            return model.model_copy(update={name: max_output_tokens})
    return model


OUTPUT_CAP_SETTINGS = (
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "num_predict",
)
"""Per-call settings that name an output cap in one provider or another. Bound
to a call, any of them would override the cap `with_output_cap` put on the
model, so the dispatcher never forwards them: the hop's cap (what the ledger
reserved for) is the only one sent."""


_CAP_FIELD: Mapping[str, str] = {
    "ollama": "num_predict",
    "google_genai": "max_output_tokens",
    "anthropic": "max_tokens",
}
"""The model field each provider's LangChain class sends as its output cap."""


def _is_openai_compatible(model: BaseChatModel) -> bool:
    """True when a ChatOpenAI talks to a server other than OpenAI's own.

    Reads the base URL the client really uses (it may come from
    ``OPENAI_BASE_URL``), else the model's configured one.
    """
    client = getattr(model, "root_client", None)
    base = getattr(client, "base_url", None) or getattr(model, "openai_api_base", None)
    if not base:
        return False
    return (urlsplit(str(base)).hostname or "") != OPENAI_HOST
