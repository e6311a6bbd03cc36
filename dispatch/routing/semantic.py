"""The semantic layer: prompt embeddings against labelled example utterances.

Each capability is the centroid of its examples' embeddings (the project ships
examples in ``dispatch/data/utterances.yaml``; train on your own labelled prompts
with `SemanticRouter.from_jsonl`). The decision is the nearest centroid by
cosine similarity; the confidence grows with the margin over the runner-up.
The tier comes from another router (default: the rules layer's length and
difficulty signals), since the wording of a request says little about its size.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from dispatch.errors import ConfigError
from dispatch.routing.encoder import Encoder, Vectors
from dispatch.routing.protocol import Router
from dispatch.routing.replay import read_replay
from dispatch.routing.rules import MEMO_MAX_CHARS, MEMO_SIZE, RulesRouter
from dispatch.types import Hop, RouteDecision, RouterLayer

__all__ = ("SemanticRouter", "default_utterances")


def default_utterances() -> dict[str, list[str]]:
    """The project's example utterances per capability.

    Read from the installed package (`importlib.resources`), so it works from
    a wheel or a zip as well as a checkout.
    """
    text = (
        resources.files("dispatch").joinpath("data/utterances.yaml").read_text("utf-8")
    )
    data = yaml.safe_load(text)
    return {str(k): [str(u) for u in v] for k, v in data.items()}


class SemanticRouter:
    """Nearest capability centroid; confidence from the margin.

    Args:
        encoder: embeds prompts and examples (wrap it in `CachedEncoder`).
        examples: capability -> example utterances (at least one each).
        tier_router: decides the tier (default: `RulesRouter`).
        margin_scale: margin at which confidence reaches 1 (``0.5 + margin / (2 *
            margin_scale)``); calibrate it on labelled data.
    """

    def __init__(
        self,
        encoder: Encoder,
        examples: Mapping[str, Sequence[str]],
        *,
        tier_router: Router | None = None,
        margin_scale: float = 0.15,
    ) -> None:
        """Embed every example once, here; `decide` embeds only the prompt.

        Raises:
            ConfigError: fewer than two capabilities, or one with no example.
            ValueError: `margin_scale` is not positive.
        """
        empty = [c for c, texts in examples.items() if not texts]
        if len(examples) < 2 or empty:
            raise ConfigError(
                "a semantic router needs examples for at least two capabilities",
                found=sorted(empty) or sorted(examples),
                expected="non-empty example lists",
            )
        if margin_scale <= 0:
            raise ValueError(f"margin_scale must be > 0, got {margin_scale}")
        self.encoder = encoder
        self.capabilities = tuple(examples)
        self.tier_router: Router = tier_router or RulesRouter(
            capabilities=self.capabilities
        )
        self.margin_scale = margin_scale
        self.centroids = self._centroids(examples)
        self._memo = functools.lru_cache(maxsize=MEMO_SIZE)(self._nearest)
        self._decisions = functools.lru_cache(maxsize=MEMO_SIZE)(self._remembered)

    def _centroids(self, examples: Mapping[str, Sequence[str]]) -> Vectors:
        """One unit-length mean embedding per capability, in `capabilities` order.

        Renormalised after averaging so the dot product with a (normalised)
        prompt vector is a cosine similarity.
        """
        rows = []
        for capability in self.capabilities:
            centroid = self.encoder.encode(list(examples[capability])).mean(axis=0)
            rows.append(centroid / (np.linalg.norm(centroid) or 1.0))
        return np.stack(rows).astype(np.float32)

    @classmethod
    def from_jsonl(
        cls, encoder: Encoder, path: Path, **kwargs: object
    ) -> SemanticRouter:
        """Train on a replay file: lines with ``prompt`` and ``capability``.

        Raises:
            ConfigError: naming the file and line of a malformed record.
        """
        examples: dict[str, list[str]] = {}
        for record in read_replay(path, need_capability=True):
            examples.setdefault(str(record.capability), []).append(record.prompt)
        return cls(encoder, examples, **kwargs)  # type: ignore[arg-type]

    def describe(self) -> str:
        """One line for logs."""
        n = len(self.capabilities)
        return f"semantic: nearest of {n} capability centroids ({self.encoder.id})"

    def scores(self, prompt: str) -> dict[str, float]:
        """Cosine similarity of `prompt` to each capability centroid."""
        vector = self.encoder.encode([prompt])[0]
        sims = self.centroids @ vector
        return dict(zip(self.capabilities, sims.tolist(), strict=True))

    def _nearest(self, prompt: str) -> tuple[str, float, str]:
        """The nearest capability, the confidence and the why."""
        ranked = sorted(self.scores(prompt).items(), key=lambda kv: -kv[1])
        (capability, best), (runner_up, second) = ranked[0], ranked[1]
        margin = best - second
        confidence = float(min(1.0, max(0.0, 0.5 + margin / (2 * self.margin_scale))))
        return (
            capability,
            confidence,
            f"{capability} {best:.2f} vs {runner_up} {second:.2f}",
        )

    def decide(self, hop: Hop) -> RouteDecision:
        """Nearest centroid for the capability; the tier router for the tier.

        A capability hint from the plan wins with confidence 1 and no
        embedding. Otherwise confidence is 0.5 at a tie with the runner-up,
        rising linearly to 1 at a margin of `margin_scale`.

        With the rules layer as tier router (the default) the decision reads
        only the prompt and the two hints, so it is remembered by them, as the
        rules layer's own is: the same turn again (a re-run, a parallel
        branch) costs no numpy and no new decision.
        """
        if len(hop.prompt) <= MEMO_MAX_CHARS and type(self.tier_router) is RulesRouter:
            return self._decisions(hop.prompt, hop.capability_hint, hop.tier_hint)
        return self._decide(hop)

    def _remembered(
        self, prompt: str, capability_hint: str | None, tier_hint: str | None
    ) -> RouteDecision:
        hop = Hop(
            specialist="", prompt=prompt, capability_hint=capability_hint,
            tier_hint=tier_hint,
        )  # fmt: skip
        return self._decide(hop)

    def _decide(self, hop: Hop) -> RouteDecision:
        if hop.capability_hint in self.capabilities:
            capability, confidence = hop.capability_hint, 1.0
            why = f"plan hint {capability}"
        elif len(hop.prompt) > MEMO_MAX_CHARS:
            capability, confidence, why = self._nearest(hop.prompt)
        else:
            capability, confidence, why = self._memo(hop.prompt)
        tier = self.tier_router.decide(hop)
        return RouteDecision(
            capability=capability,
            tier=tier.tier,
            confidence=round(confidence, 3),
            router=RouterLayer.SEMANTIC,
            reason=f"{why}; {tier.reason.split('; ')[-1]}",
        )
