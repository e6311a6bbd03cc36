"""Router layers: each decides a hop's capability and tier behind one `Router` protocol."""

from __future__ import annotations

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
