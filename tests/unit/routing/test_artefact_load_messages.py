"""Errors loading an artefact say which side is which and read like the rest.

- An artefact of another encoder named the encoder this process built as
  "found" and the artefact's as "expected": a user read that the artefact held
  the encoder it did not.
- A path that is a directory printed Python's ``[Errno 21] Is a directory:
  'router.npz'`` (the path twice), where every other reader says
  ``cannot read ...: Is a directory``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from dispatch import ConfigError
from dispatch.registry import Registry
from dispatch.routing.heads import LinearHeads
from dispatch.routing.learned import (
    LearnedArtefact,
    LearnedRouter,
)
from dispatch.routing.learned_loading import load_learned_router
from dispatch.testing import FakeEncoder
from dispatch.types import ModelSpec

DIM = 8
MODELS = ("p:cheap", "p:dear")
REGISTRY = Registry(
    [
        ModelSpec(
            id=model_id,
            tier=tier,
            quality={"general": 0.9},
            input_per_mtok=Decimal(price),
            output_per_mtok=Decimal(price),
            context_window=100_000,
            max_output_tokens=4096,
        )
        for model_id, tier, price in (
            ("p:cheap", "small", "1"),
            ("p:dear", "large", "9"),
        )
    ],
    tiers=[("small", 0.5), ("large", 0.85)],
    capabilities=["general"],
)


def artefact(encoder_id: str) -> LearnedArtefact:
    return LearnedArtefact(
        encoder=encoder_id,
        models=MODELS,
        quality=LinearHeads(
            weights=np.zeros((DIM, len(MODELS)), dtype=np.float32),
            bias=np.zeros(len(MODELS), dtype=np.float32),
        ),
        bar=0.5,
        bar_mode="absolute",
    )


def test_another_encoders_artefact_names_its_encoder_as_found() -> None:
    ours = FakeEncoder(DIM)
    with pytest.raises(ConfigError) as caught:
        LearnedRouter(artefact("st:model:other-model"), ours, specs=REGISTRY)
    message = str(caught.value)
    assert "trained with another encoder" in message
    assert "found 'st:model:other-model'" in message
    assert f"expected {ours.id}" in message


def test_an_artefact_path_that_is_a_directory_is_one_plain_reason(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "router.npz"
    folder.mkdir()
    with pytest.raises(ConfigError) as caught:
        load_learned_router(folder, REGISTRY, encoder=FakeEncoder(DIM))
    assert str(caught.value) == f"{folder}: cannot read artefact: Is a directory"


def test_another_encoders_share_artefact_names_its_encoder_as_found() -> None:
    from dispatch.routing.share import ShareArtefact, ShareRouter

    art = ShareArtefact(
        encoder="st:model:other-model",
        strong="p:dear",
        weak="p:cheap",
        head=LinearHeads(
            weights=np.zeros((DIM, 1), dtype=np.float32),
            bias=np.zeros(1, dtype=np.float32),
        ),
        share=0.5,
        reference=np.linspace(0.0, 1.0, 11, dtype=np.float32),
    )
    ours = FakeEncoder(DIM)
    with pytest.raises(ConfigError) as caught:
        ShareRouter(art, ours, specs=REGISTRY)
    assert "found 'st:model:other-model'" in str(caught.value)
    assert f"expected {ours.id}" in str(caught.value)
