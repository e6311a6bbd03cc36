"""A prompt with lone surrogates (undecodable bytes Python kept) routes like its
repaired text: the embedding layers never raise on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dispatch.routing import CachedEncoder, SemanticRouter
from dispatch.routing.text import well_formed
from dispatch.testing import FakeEncoder
from dispatch.types import Hop

BROKEN = "fix the caf\udce9 python bug"  # b"caf\xe9" decoded with surrogateescape
REPAIRED = "fix the caf\ufffd python bug"

EXAMPLES = {
    "coding": ["fix this python bug", "write a function"],
    "search": ["who won the cup", "find the capital"],
}


def test_well_formed_replaces_lone_surrogates_and_keeps_good_text() -> None:
    assert well_formed(BROKEN) == REPAIRED
    text = "naïve café 😀"
    assert well_formed(text) is text


def test_the_cached_encoder_embeds_and_stores_the_repaired_text(tmp_path: Path) -> None:
    encoder = CachedEncoder(FakeEncoder(), path=tmp_path / "e.sqlite")
    broken = encoder.encode([BROKEN])
    assert np.array_equal(broken, encoder.encode([REPAIRED]))
    assert encoder.hits == 1  # one key for both: the second was a hit
    reread = CachedEncoder(FakeEncoder(), path=tmp_path / "e.sqlite")
    assert np.array_equal(reread.encode([BROKEN]), broken)


def test_the_semantic_router_decides_on_a_prompt_with_a_lone_surrogate() -> None:
    router = SemanticRouter(CachedEncoder(FakeEncoder()), EXAMPLES)
    decision = router.decide(Hop(specialist="s", prompt=BROKEN))
    assert decision.capability == "coding"
