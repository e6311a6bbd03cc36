from __future__ import annotations

from dispatch import Hop
from dispatch.routing.classifier import CapabilityRouter
from dispatch.routing.train import fit_capability, oof_capability
from dispatch.testing import FakeEncoder
from dispatch.types import RouterLayer

PROMPTS = {
    "coding": [
        f"fix the python function bug number {i} in def f(x): return x"
        for i in range(12)
    ],
    "search": [f"who won the world cup in year {1950 + i}" for i in range(12)],
    "general": [
        f"write a short poem about autumn leaves, version {i}" for i in range(12)
    ],
}


def training() -> tuple[list[str], list[str]]:
    texts = [t for texts in PROMPTS.values() for t in texts]
    labels = [c for c, texts in PROMPTS.items() for _ in texts]
    return texts, labels


def test_the_classifier_learns_capabilities_from_words_and_embeddings() -> None:
    encoder = FakeEncoder(32)
    texts, labels = training()
    head = fit_capability(encoder.encode(texts), labels, prompts=texts)
    assert head.lexical is not None and set(head.classes) == set(PROMPTS)
    router = CapabilityRouter(encoder, head)
    d = router.decide(Hop(specialist="s", prompt="who won the cup in 2002"))
    assert (d.capability, d.router) == ("search", RouterLayer.LEARNED)
    assert 0.34 < d.confidence <= 1.0
    assert (
        router.decide(Hop(specialist="s", prompt="python def bug")).capability
        == "coding"
    )
    hinted = router.decide(Hop(specialist="s", prompt="x", capability_hint="general"))
    assert (hinted.capability, hinted.confidence) == ("general", 1.0)


def test_out_of_fold_predictions_cover_every_prompt() -> None:
    encoder = FakeEncoder(32)
    texts, labels = training()
    predicted = oof_capability(encoder.encode(texts), labels, prompts=texts, folds=3)
    assert len(predicted) == len(labels)
    assert sum(p == t for p, t in zip(predicted, labels, strict=True)) >= 30


def test_the_fast_single_prompt_path_equals_the_sklearn_transform() -> None:
    import numpy as np

    from dispatch.routing.lexical import BUCKETS, LexicalFeatures

    prompts = [
        "Write a Python function: def f(x): return x**2 (naïve café)",
        "who won the world cup in 1998?",
        "x" * 5000 + " hello world",
        "",
        # ~2,500 distinct grams in 65,536 buckets: several share a bucket
        " ".join(f"w{i}q{i * 7}z" for i in range(400)),
    ]
    lexical = LexicalFeatures.fit(prompts * 2)
    weights = (
        np.random.default_rng(0).standard_normal((2 * BUCKETS, 3)).astype(np.float32)
    )
    for prompt in prompts:
        np.testing.assert_allclose(
            lexical.logits(prompt, weights),
            (lexical.transform([prompt]) @ weights)[0],
            atol=1e-5,
        )
