"""Over a registry that declares only some of the artefact's capabilities, the
learned router picks among the declared ones: an undeclared capability would
find no model for the hop."""

from __future__ import annotations

import numpy as np
from _general_specs import general_spec

from dispatch import Hop
from dispatch.registry import Registry
from dispatch.routing.heads import CapabilityHead, LinearHeads
from dispatch.routing.learned import LearnedArtefact, LearnedRouter
from dispatch.testing import FakeEncoder

DIM = 8


def artefact() -> LearnedArtefact:
    """Capability head: analysis 0.6, coding 0.3, general 0.1 for every prompt."""
    p = np.asarray((0.8,), dtype=np.float32)
    return LearnedArtefact(
        encoder=FakeEncoder(DIM).id,
        models=("m:one",),
        quality=LinearHeads(
            weights=np.zeros((DIM, 1), dtype=np.float32),
            bias=np.log(p / (1 - p)).astype(np.float32),
        ),
        bar=0.5,
        bar_mode="absolute",
        capability=CapabilityHead(
            classes=("analysis", "coding", "general"),
            embedding_weights=np.zeros((DIM, 3), dtype=np.float32),
            bias=np.log(np.asarray((0.6, 0.3, 0.1), dtype=np.float32)),
        ),
        capabilities=("analysis", "coding", "general"),
    )


def decide(capabilities: list[str]) -> tuple[str, float]:
    reg = Registry(
        [general_spec("m:one", "small", "1")],
        tiers=[("small", 0.5)],
        capabilities=capabilities,
    )
    router = LearnedRouter(artefact(), FakeEncoder(DIM), specs=reg, tiers=reg.tiers)
    decision = router.decide(Hop(specialist="s", prompt="anything"))
    return decision.capability, decision.confidence


def test_the_most_probable_capability_wins_when_the_registry_declares_it() -> None:
    assert decide(["analysis", "coding", "general"]) == ("analysis", 0.6)


def test_an_undeclared_capability_is_passed_over_for_the_best_declared_one() -> None:
    capability, confidence = decide(["coding", "general"])
    assert capability == "coding"
    assert confidence == round(0.3 / 0.4, 3)  # renormalised over what is declared
