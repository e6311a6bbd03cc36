"""`ShareRouter`: a fixed share of strong calls, whatever the score distribution.

The behaviour that matters for transfer: trained on one task, the scores of
another task shift. A threshold fixed in score space then sends nearly every
prompt (or none) to the strong model; the running quantile keeps sending the
calibrated share, and the policy picks the model the decision names.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from dispatch import ConfigError, Hop
from dispatch.policy import select
from dispatch.registry import Registry
from dispatch.routing.heads import LinearHeads
from dispatch.routing.share import (
    RunningQuantile,
    ShareArtefact,
    ShareRouter,
    question_text,
    scores_of,
    view_text,
)
from dispatch.testing import FakeEncoder
from dispatch.types import ModelSpec, RouterLayer

DIM = 256
ENCODER = FakeEncoder(DIM)


def spec(model_id: str, tier: str, price: str) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        tier=tier,
        quality={"general": 0.9},
        input_per_mtok=Decimal(price),
        output_per_mtok=Decimal(price),
        context_window=100_000,
        max_output_tokens=4096,
    )


REGISTRY = Registry(
    [spec("p:weak", "medium", "0.2"), spec("p:strong", "large", "20")],
    tiers=[("small", 0.0), ("medium", 0.0), ("large", 0.0)],
    capabilities=["general"],
)


def hard_word_head() -> LinearHeads:
    """Scores high for prompts that contain the word 'prove', low otherwise."""
    direction = ENCODER.encode(["prove"])[0]
    return LinearHeads(
        weights=(8.0 * direction)[:, np.newaxis].astype(np.float32),
        bias=np.array([-3.0], dtype=np.float32),
    )


def artefact(share: float = 0.5, reference: np.ndarray | None = None) -> ShareArtefact:
    ref = np.linspace(0.0, 1.0, 101) if reference is None else reference
    return ShareArtefact(
        encoder=ENCODER.id,
        strong="p:strong",
        weak="p:weak",
        head=hard_word_head(),
        share=share,
        reference=np.sort(ref).astype(np.float32),
    )


def hop(prompt: str) -> Hop:
    return Hop(specialist="s", prompt=prompt, input_tokens=50, max_output_tokens=50)


def test_question_text_drops_answered_demonstrations() -> None:
    prompt = (
        "Q: 2+2?\nA) 4\nB) 5\nAnswer:\nA\n\n"
        "Q: 3+3?\nA) 7\nB) 6\nAnswer:\nB\n\n"
        "Q: 9*9?\nA) 81\nB) 72\nAnswer:"
    )
    assert question_text(prompt) == "Q: 9*9?\nA) 81\nB) 72\nAnswer:"


def test_question_text_keeps_a_zero_shot_prompt_whole() -> None:
    prompt = "Find the degree of Q(sqrt 2) over Q.\nA. 1\nB. 2\nAnswer:"
    assert question_text(prompt) == prompt


def test_question_text_keeps_the_prompt_when_nothing_follows_the_last_answer() -> None:
    prompt = "Q: 2+2?\nAnswer:\n4\n\n   "
    assert question_text(prompt) == prompt


def test_the_tail_view_reads_demonstrations_and_the_question_view_does_not() -> None:
    prompt = "Q: 1?\nAnswer:\nA\n\nQ: 2?\nAnswer:"
    assert view_text(prompt, "tail") == prompt
    assert view_text(prompt, "question") == "Q: 2?\nAnswer:"


def test_running_quantile_is_the_exact_quantile_of_the_window() -> None:
    rng = np.random.default_rng(1)
    values = rng.random(500)
    rq = RunningQuantile(0.7, window=100)
    for v in values:
        rq.add(float(v))
    window = np.sort(values[-100:])
    assert len(rq) == 100
    assert rq.value() == window[int(0.7 * 99)]


def test_running_quantile_forgets_its_seed_as_live_values_arrive() -> None:
    rq = RunningQuantile(0.5, window=10, seed=[100.0] * 10)
    assert rq.value() == 100.0
    for v in range(10):
        rq.add(float(v))
    assert rq.value() == 4.0


def test_an_empty_running_quantile_has_no_value() -> None:
    assert np.isnan(RunningQuantile(0.5).value())


@pytest.mark.parametrize(("q", "window"), [(-0.1, 10), (1.5, 10), (0.5, 0)])
def test_running_quantile_rejects_bad_arguments(q: float, window: int) -> None:
    with pytest.raises(ConfigError, match="running quantile"):
        RunningQuantile(q, window=window)


def test_a_high_score_goes_to_the_strong_model_through_the_policy() -> None:
    router = ShareRouter(artefact(0.5), ENCODER, specs=REGISTRY, adaptive=False)
    hard, easy = hop("prove the theorem"), hop("say hello")
    d_hard, d_easy = router.decide(hard), router.decide(easy)
    assert d_hard.router is RouterLayer.LEARNED
    assert (d_hard.tier, d_easy.tier) == ("large", "medium")
    assert select(d_hard, hard, REGISTRY).model.id == "p:strong"
    assert select(d_easy, easy, REGISTRY).model.id == "p:weak"


@pytest.mark.parametrize("adaptive", [True, False])
def test_the_share_of_strong_calls_under_a_shifted_score_distribution(
    adaptive: bool,
) -> None:
    # Trained where scores spread over [0, 1]; the new task scores 0.8-1.0
    # (every prompt "looks hard" to the head).
    router = ShareRouter(
        artefact(0.3), ENCODER, specs=REGISTRY, adaptive=adaptive, window=200
    )
    rng = np.random.default_rng(0)
    strong = []
    for i, score in enumerate(0.8 + 0.2 * rng.random(1000)):
        threshold = router.observe(float(score))
        decision = router.decision(hop(f"p{i}"), float(score), threshold)
        strong.append(select(decision, hop(f"p{i}"), REGISTRY).model.id == "p:strong")
    live_share = float(np.mean(strong[200:]))
    if adaptive:
        assert live_share == pytest.approx(0.3, abs=0.05)
    else:
        assert live_share == 1.0  # a fixed threshold (0.7) sends everything


def test_the_first_hop_routes_at_the_training_threshold() -> None:
    router = ShareRouter(artefact(0.3), ENCODER, specs=REGISTRY, window=200)
    assert router.observe(0.69) == pytest.approx(0.7, abs=0.02)


def test_a_repeated_prompt_gets_the_same_decision_and_is_counted_once() -> None:
    router = ShareRouter(artefact(0.5), ENCODER, specs=REGISTRY, window=50)
    first = router.decide(hop("prove it"))
    window_before = list(router._quantile._fifo)
    assert router.decide(hop("prove it")) is first
    assert list(router._quantile._fifo) == window_before


def test_scores_of_many_prompts_equal_one_at_a_time() -> None:
    art = artefact()
    router = ShareRouter(art, ENCODER, specs=REGISTRY)
    prompts = ["prove the claim", "say hi", "prove it twice"]
    batch = scores_of(art, ENCODER, prompts)
    assert batch == pytest.approx([router.score(p) for p in prompts])
    assert batch[0] > 0.5 > batch[1]


def test_the_artefact_round_trips_through_npz(tmp_path: Path) -> None:
    art = dataclasses.replace(artefact(0.42), view="tail")
    path = tmp_path / "share.npz"
    art.save(path)
    loaded = ShareArtefact.load(path)
    assert (loaded.strong, loaded.weak, loaded.share) == ("p:strong", "p:weak", 0.42)
    assert loaded.view == "tail"
    x = ENCODER.encode(["prove this", "hello"])
    assert loaded.score(x) == pytest.approx(art.score(x))
    assert loaded.threshold() == art.threshold()


def test_loading_a_file_that_is_not_a_share_artefact_fails_clearly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, header=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(ConfigError, match="unsupported share artefact format"):
        ShareArtefact.load(path)
    with pytest.raises(ConfigError, match="cannot read share artefact"):
        ShareArtefact.load(tmp_path / "missing.npz")


def test_the_router_refuses_another_encoder_or_unregistered_models() -> None:
    with pytest.raises(ConfigError, match="another encoder"):
        ShareRouter(artefact(), FakeEncoder(DIM + 1), specs=REGISTRY)
    with pytest.raises(ConfigError, match="not registered"):
        ShareRouter(artefact(), ENCODER, specs=[spec("p:weak", "medium", "1")])
    with pytest.raises(ConfigError, match="share must be"):
        ShareRouter(artefact(), ENCODER, specs=REGISTRY, share=1.5)


def test_describe_names_the_pair_and_the_share() -> None:
    text = ShareRouter(artefact(0.25), ENCODER, specs=REGISTRY).describe()
    assert "25.0%" in text and "p:strong" in text and "running" in text
