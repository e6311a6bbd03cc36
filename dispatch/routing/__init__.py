"""Router layers: each decides a hop's capability and tier behind one `Router` protocol.

Names are imported on first use (PEP 562): the rules layer needs nothing heavy,
the learned and semantic layers need numpy and an encoder, so a rules-only
`dispatch route` does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.routing.classifier import CapabilityRouter
    from dispatch.routing.encoder import CachedEncoder, Encoder
    from dispatch.routing.hybrid import HybridRouter
    from dispatch.routing.learned import LearnedArtefact, LearnedRouter
    from dispatch.routing.llm import LLMRouter
    from dispatch.routing.protocol import FixedRouter, Router
    from dispatch.routing.rules import RulesRouter
    from dispatch.routing.semantic import SemanticRouter

__all__ = (
    "CachedEncoder",
    "CapabilityRouter",
    "Encoder",
    "FixedRouter",
    "HybridRouter",
    "LLMRouter",
    "LearnedArtefact",
    "LearnedRouter",
    "Router",
    "RulesRouter",
    "SemanticRouter",
)

_WHERE = {  # public name -> submodule that defines it
    "CachedEncoder": "encoder",
    "CapabilityRouter": "classifier",
    "Encoder": "encoder",
    "FixedRouter": "protocol",
    "HybridRouter": "hybrid",
    "LLMRouter": "llm",
    "LearnedArtefact": "learned",
    "LearnedRouter": "learned",
    "Router": "protocol",
    "RulesRouter": "rules",
    "SemanticRouter": "semantic",
}


def __getattr__(name: str) -> object:
    """Import `name`'s submodule on first access and cache the name here.

    Raises:
        AttributeError: `name` is not one of `__all__` (as for any module).
    """
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'dispatch.routing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dispatch.routing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, so completion shows them before any is imported."""
    return sorted(__all__)
