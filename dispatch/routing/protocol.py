"""The `Router` protocol every layer implements, and the trivial `FixedRouter`.

A protocol, not a base class: layers share no code, and composition
(`HybridRouter`, the dispatcher) needs only `decide` and `describe`. Any
object with both methods routes, including a user's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from dispatch.types import Hop, RouteDecision, RouterLayer

__all__ = ("FixedRouter", "Router", "leaf_layers")


@runtime_checkable
class Router(Protocol):
    """Decides what a hop needs. Pure: no model call, no I/O (except the LLM layer).

    The contract every implementation keeps: `decide` returns a capability
    and a tier from the configured sets, a confidence in [0, 1] (what
    `HybridRouter` compares to its thresholds), and, the LLM layer aside,
    the same decision for the same hop. Which *model* serves the hop is not
    the router's business: the policy picks it from the decision.

    Example:
        >>> from dispatch.routing import FixedRouter
        >>> from dispatch.types import Hop
        >>> FixedRouter("coding", "small").decide(Hop(specialist="c", prompt="x")).tier
        'small'
    """

    def decide(self, hop: Hop) -> RouteDecision:
        """Capability, tier, confidence and reason for `hop`."""
        ...

    def describe(self) -> str:
        """One line saying what this router does, for logs and `dispatch route`."""
        ...


class FixedRouter:
    """Always the same capability and tier; for tests and for pinning a whole graph."""

    def __init__(self, capability: str, tier: str) -> None:
        """Route every hop to `capability`/`tier` (not checked against a registry)."""
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


def leaf_layers(router: object) -> Iterator[object]:
    """The routers that decide inside `router`: its own ``layers`` (a
    `HybridRouter`'s), recursively, else `router` itself."""
    nested = getattr(router, "layers", None)
    if nested is None:
        yield router
        return
    for layer in nested:
        yield from leaf_layers(layer)
