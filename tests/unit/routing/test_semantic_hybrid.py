from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dispatch import ConfigError, FixedRouter, Hop, RulesRouter
from dispatch.routing import CachedEncoder, HybridRouter, Router, SemanticRouter
from dispatch.routing.semantic import default_utterances
from dispatch.testing import FakeEncoder
from dispatch.types import RouterLayer

EXAMPLES = {
    "coding": ["fix the python bug", "write a python function", "debug this code"],
    "search": ["find the runbook page", "search the wiki docs", "find the policy page"],
    "general": ["write a thank you note", "summarise the meeting notes"],
}


def semantic(encoder: FakeEncoder | None = None) -> SemanticRouter:
    return SemanticRouter(CachedEncoder(encoder or FakeEncoder()), EXAMPLES)


def test_nearest_centroid_wins_with_margin_confidence() -> None:
    router = semantic()
    d = router.decide(Hop(specialist="s", prompt="please fix my python function"))
    assert (d.capability, d.router) == ("coding", RouterLayer.SEMANTIC)
    assert 0.5 < d.confidence <= 1.0
    assert (
        router.decide(Hop(specialist="s", prompt="find the wiki page")).capability
        == "search"
    )
    tie = router.decide(Hop(specialist="s", prompt="zebra"))
    assert tie.confidence == 0.5  # no signal: no margin


def test_the_same_turn_again_is_decided_without_encoding_or_scoring() -> None:
    encoder = FakeEncoder()
    router = SemanticRouter(encoder, EXAMPLES)  # no CachedEncoder: every encode counts
    prompt = "please fix my python function"
    first = router.decide(Hop(specialist="a", prompt=prompt))
    calls = encoder.calls
    again = router.decide(Hop(specialist="b", prompt=prompt, round=1))
    assert again == first
    assert encoder.calls == calls
    router.decide(Hop(specialist="a", prompt=prompt + " today"))
    assert encoder.calls == calls + 1


def test_with_the_rules_tier_router_the_whole_decision_is_remembered() -> None:
    router = semantic()
    prompt = "please fix my python function"
    first = router.decide(Hop(specialist="a", prompt=prompt))
    assert router.decide(Hop(specialist="b", prompt=prompt, round=2)) is first
    hinted = router.decide(Hop(specialist="a", prompt=prompt, tier_hint="large"))
    assert hinted.tier == "large" and hinted.capability == first.capability


def test_another_tier_router_is_asked_on_every_hop() -> None:
    class CountingTiers:
        calls = 0

        def decide(self, hop: Hop) -> object:
            CountingTiers.calls += 1
            return FixedRouter("general", "medium").decide(hop)

    router = SemanticRouter(FakeEncoder(), EXAMPLES, tier_router=CountingTiers())  # type: ignore[arg-type]
    hop = Hop(specialist="s", prompt="find the wiki page")
    assert router.decide(hop) == router.decide(hop)
    assert CountingTiers.calls == 2  # it may read more of the hop than the prompt


def test_hint_wins_and_tier_comes_from_the_tier_router() -> None:
    router = SemanticRouter(
        FakeEncoder(), EXAMPLES, tier_router=FixedRouter("general", "large")
    )
    d = router.decide(
        Hop(specialist="s", prompt="find the wiki page", capability_hint="coding")
    )
    assert (d.capability, d.tier, d.confidence) == ("coding", "large", 1.0)


def test_training_from_a_labelled_file_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "train.jsonl"
    good.write_text(
        "\n".join(
            json.dumps({"id": f"{c}-{t}", "prompt": t, "capability": c})
            for c, texts in EXAMPLES.items()
            for t in texts
        )
        + "\n\n"
    )
    router = SemanticRouter.from_jsonl(FakeEncoder(), good)
    assert router.capabilities == ("coding", "search", "general")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "capability": "coding"}\n{"prompt": "b"}\n')
    with pytest.raises(
        ConfigError, match=r"bad.jsonl: line 2: 'capability' is missing"
    ):
        SemanticRouter.from_jsonl(FakeEncoder(), bad)
    with pytest.raises(ConfigError, match="at least two capabilities"):
        SemanticRouter(FakeEncoder(), {"coding": ["x"], "search": []})


def test_a_repeated_prompt_costs_no_encoder_call() -> None:
    encoder = FakeEncoder()
    router = semantic(encoder)
    before = encoder.texts
    for _ in range(5):
        router.decide(Hop(specialist="s", prompt="fix the python bug please"))
    assert encoder.texts == before + 1


def test_disk_cache_survives_a_restart_and_keys_by_encoder(tmp_path: Path) -> None:
    db = tmp_path / "emb.sqlite"
    first = FakeEncoder()
    cache = CachedEncoder(first, path=db)
    vectors = cache.encode(["alpha beta", "gamma"])
    cache.close()
    second = FakeEncoder()
    again = CachedEncoder(second, path=db).encode(["gamma", "alpha beta", "new text"])
    assert second.texts == 1  # only the new text was encoded
    np.testing.assert_array_equal(again[0], vectors[1])
    other = FakeEncoder(dim=64)
    CachedEncoder(other, path=db).encode(["gamma"])
    assert other.texts == 1  # another encoder id never reuses these vectors


def test_the_shipped_utterances_cover_every_capability() -> None:
    utterances = default_utterances()
    assert set(utterances) == {"coding", "search", "analysis", "general"}
    assert all(len(v) >= 10 for v in utterances.values())


def test_hybrid_takes_the_first_confident_layer() -> None:
    rules = RulesRouter()
    hybrid = HybridRouter([rules, semantic()], thresholds=[0.8])
    sure = hybrid.decide(Hop(specialist="s", prompt="```python\nprint(1)\n```"))
    assert sure.router is RouterLayer.RULES
    unsure = hybrid.decide(Hop(specialist="s", prompt="write a thank you note"))
    assert unsure.router is RouterLayer.SEMANTIC and unsure.capability == "general"
    assert "rules>=0.8 -> semantic" in hybrid.describe()
    with pytest.raises(ValueError, match="need 1 thresholds"):
        HybridRouter([rules, semantic()], thresholds=[])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        HybridRouter([rules, semantic()], thresholds=[2])


@pytest.mark.parametrize(
    "router",
    [semantic(), HybridRouter([RulesRouter(), semantic()], thresholds=[0.9])],
    ids=["semantic", "hybrid"],
)
@pytest.mark.parametrize(
    "prompt", ["", "hello", "```py\nx\n```", "x" * 20_000, "¿Dónde? 🤔"]
)
def test_router_contract(router: Router, prompt: str) -> None:
    hop = Hop(specialist="t", prompt=prompt)
    first, second = router.decide(hop), router.decide(hop)
    assert first == second
    assert 0.0 <= first.confidence <= 1.0
    assert first.reason and router.describe()
