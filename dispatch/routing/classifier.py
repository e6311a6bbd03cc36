"""The capability classifier layer: a softmax head over the prompt's embedding.

Trained on labelled prompts (`dispatch train`, `capabilities_dev.jsonl`), it
replaces the semantic layer's nearest-centroid rule: one centroid per class
cannot follow the spread of real user requests, a linear classifier over the
same embedding and the prompt's hashed n-grams can, and one softmax part per
(capability, source) lets a capability hold unlike populations
(`dispatch.routing.capability_head`; README, "Routing quality"). The tier comes
from another router (default: the rules layer), as in the semantic layer.
"""

from __future__ import annotations

from collections import OrderedDict

from dispatch.errors import ConfigError
from dispatch.routing.encoder import Encoder
from dispatch.routing.features import TEXT_WINDOW, router_text
from dispatch.routing.heads import CapabilityHead
from dispatch.routing.protocol import Router
from dispatch.routing.rules import RulesRouter
from dispatch.types import Hop, RouteDecision, RouterLayer

__all__ = ("CapabilityRouter",)


class CapabilityRouter:
    """Capability from a trained classifier; confidence is its probability.

    Args:
        encoder: the encoder the head was trained on.
        head: the trained classifier (its classes are the capabilities).
        tier_router: decides the tier (default: `RulesRouter`).
        window: characters of the prompt's end that are embedded.
    """

    def __init__(
        self,
        encoder: Encoder,
        head: CapabilityHead,
        *,
        tier_router: Router | None = None,
        window: int = TEXT_WINDOW,
    ) -> None:
        """Check the head; the default tier router uses the head's classes.

        Raises:
            ConfigError: the head has fewer than two classes (nothing to decide).
        """
        capabilities = head.classes
        if len(capabilities) < 2:
            raise ConfigError(
                "a capability classifier needs at least two classes",
                found=list(capabilities),
                expected="two or more capabilities",
            )
        self.encoder = encoder
        self.head = head
        self.capabilities = tuple(capabilities)
        self.tier_router: Router = tier_router or RulesRouter(
            capabilities=self.capabilities
        )
        self.window = window
        self._cache: OrderedDict[str, dict[str, float]] = OrderedDict()
        self._decisions: OrderedDict[
            tuple[str, str | None, str | None], RouteDecision
        ] = OrderedDict()

    def describe(self) -> str:
        """One line for logs."""
        return f"classifier: {len(self.capabilities)} capabilities ({self.encoder.id})"

    def probabilities(self, prompt: str) -> dict[str, float]:
        """Probability of each capability for `prompt` (kept in an LRU by prompt).

        Both LRUs hold 10,000 entries, so a repeated prompt costs a dictionary
        look-up instead of an embedding (milliseconds).
        """
        hit = self._cache.get(prompt)
        if hit is not None:
            self._cache.move_to_end(prompt)
            return hit
        text = router_text(prompt, self.window)
        _, p = self.head.predict_encoding(prompt, lambda: self.encoder.encode([text]))
        probs = {c: float(v) for c, v in zip(self.capabilities, p, strict=True)}
        self._cache[prompt] = probs
        if len(self._cache) > 10_000:
            self._cache.popitem(last=False)
        return probs

    def decide(self, hop: Hop) -> RouteDecision:
        """The most probable capability; the tier router's tier.

        Decisions are pure functions of the prompt and the hints, so a repeated
        hop is answered from an LRU of decisions (a dictionary look-up).
        """
        key = (hop.prompt, hop.capability_hint, hop.tier_hint)
        cached = self._decisions.get(key)
        if cached is not None:
            self._decisions.move_to_end(key)
            return cached
        decision = self._decide(hop)
        self._decisions[key] = decision
        if len(self._decisions) > 10_000:
            self._decisions.popitem(last=False)
        return decision

    def _decide(self, hop: Hop) -> RouteDecision:
        """A known capability hint from the plan wins (confidence 1, no embedding);
        else the classifier's most probable class. The reason keeps the tier
        router's last clause, so a record says why both halves were chosen."""
        if hop.capability_hint in self.capabilities:
            capability, confidence = hop.capability_hint, 1.0
            why = f"plan hint {capability}"
        else:
            probs = self.probabilities(hop.prompt)
            capability = max(probs, key=probs.__getitem__)
            confidence = probs[capability]
            why = f"{capability} p={confidence:.2f}"
        tier = self.tier_router.decide(hop)
        return RouteDecision(
            capability=capability,
            tier=tier.tier,
            confidence=round(confidence, 3),
            router=RouterLayer.LEARNED,
            reason=f"{why}; {tier.reason.split('; ')[-1]}",
        )
