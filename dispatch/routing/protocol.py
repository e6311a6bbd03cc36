"""The `Router` protocol every layer implements, and the trivial `FixedRouter`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dispatch.types import Hop, RouteDecision, RouterLayer

__all__ = ("FixedRouter", "Router")


@runtime_checkable
class Router(Protocol):
    """Decides what a hop needs. Pure: no model call, no I/O (except the LLM layer)."""

    def decide(self, hop: Hop) -> RouteDecision:
        """Capability, tier, confidence and reason for `hop`."""
        ...

    def describe(self) -> str:
        """One line saying what this router does, for logs and `dispatch route`."""
        ...


class FixedRouter:
    """Always the same capability and tier; for tests and for pinning a whole graph."""

    def __init__(self, capability: str, tier: str) -> None:
        self.capability = capability
        self.tier = tier

    def decide(self, hop: Hop) -> RouteDecision:
        """The fixed decision, with confidence 1."""
        return RouteDecision(
            capability=self.capability,
            tier=self.tier,
            confidence=1.0,
            router=RouterLayer.FIXED,
            reason=f"fixed route {self.capability}/{self.tier}",
        )

    def describe(self) -> str:
        """E.g. ``fixed: coding/small``."""
        return f"fixed: {self.capability}/{self.tier}"
