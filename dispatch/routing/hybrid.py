"""Layers in order; the first confident answer wins.

The cheap layers go first so the expensive ones run only when needed: the
rules answer in microseconds, an embedding layer costs a few ms, an LLM
classifier a model call. This module imports no concrete layer; it
composes whatever `Router` objects it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

from dispatch.routing.protocol import Router
from dispatch.types import Hop, RouteDecision

__all__ = ("HybridRouter",)


class HybridRouter:
    """Asks `layers` in order and returns the first decision whose confidence is at
    least that layer's threshold; the last layer always answers.

    Args:
        layers: e.g. ``[RulesRouter(), SemanticRouter(...), LLMRouter(...)]``.
        thresholds: one per layer but the last; calibrate them on labelled data.
    """

    def __init__(self, layers: Sequence[Router], thresholds: Sequence[float]) -> None:
        """Check the layer/threshold pairing once, so `decide` can trust it.

        Raises:
            ValueError: no layers, not exactly one threshold fewer than
                layers, or a threshold outside [0, 1].
        """
        if not layers:
            raise ValueError("HybridRouter needs at least one layer")
        if len(thresholds) != len(layers) - 1:
            raise ValueError(
                f"{len(layers)} layers need {len(layers) - 1} thresholds, got {len(thresholds)}"
            )
        if any(not 0 <= t <= 1 for t in thresholds):
            raise ValueError(f"thresholds must be in [0, 1], got {list(thresholds)}")
        self.layers = tuple(layers)
        self.thresholds = tuple(thresholds)

    def describe(self) -> str:
        """E.g. ``hybrid: rules>=0.8 -> semantic`` (each layer's name, threshold)."""
        parts = [
            f"{layer.describe().split(':')[0]}>={t}"
            for layer, t in zip(self.layers, self.thresholds, strict=False)
        ]
        return "hybrid: " + " -> ".join(
            [*parts, self.layers[-1].describe().split(":")[0]]
        )

    def decide(self, hop: Hop) -> RouteDecision:
        """The first confident layer's decision (the last layer's otherwise).

        The returned decision keeps its own layer's `router` field, so a hop
        record shows which layer actually decided.
        """
        for layer, threshold in zip(self.layers, self.thresholds, strict=False):
            decision = layer.decide(hop)
            if decision.confidence >= threshold:
                return decision
        return self.layers[-1].decide(hop)
