"""Quality heads fitted by `dispatch.routing.train`, matrix factorisation first.

The synthetic prompts have one hidden difficulty (a direction in embedding
space) and models of increasing skill: a model answers well when the prompt is
easier than its skill. That is the structure matrix factorisation shares across
models, so it should recover it from all models' outcomes jointly.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dispatch.routing.heads import LinearHeads
from dispatch.routing.train import fit_factorised, fit_quality, oof_quality

DIM = 24
SKILLS = np.array([-1.0, 0.0, 1.0])
RNG = np.random.default_rng(5)
DIRECTION = RNG.normal(size=DIM) / np.sqrt(DIM)


def prompts(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.normal(size=(n, DIM)).astype(np.float32)
    difficulty = x @ DIRECTION * 2 + RNG.normal(0, 0.3, n)
    quality = (difficulty[:, None] < SKILLS[None, :]).astype(np.float64)
    return x, quality


def test_matrix_factorisation_learns_the_shared_difficulty() -> None:
    x, quality = prompts(600)
    head = fit_factorised(x, quality, c=1.0, rank=2)
    assert isinstance(head, LinearHeads)  # served as one matrix product
    assert head.weights.shape == (DIM, 3)
    x_new, truth = prompts(400)
    predicted = head.predict(x_new)
    for j in range(3):
        assert roc_auc_score(truth[:, j], predicted[:, j]) > 0.9
    # Skill orders the mean predictions, as it orders the outcomes.
    assert list(np.argsort(predicted.mean(axis=0))) == [0, 1, 2]


def test_missing_outcomes_are_left_out_of_the_loss() -> None:
    x, quality = prompts(400)
    holed = quality.copy()
    holed[::2, 2] = np.nan  # the strongest model ran on half the prompts
    head = fit_quality(x, holed, kind="mf", c=1.0, rank=2)
    assert np.isfinite(head.predict(x)).all()
    assert roc_auc_score(quality[:, 2], head.predict(x)[:, 2]) > 0.85


def test_out_of_fold_predictions_of_every_kind_cover_every_row() -> None:
    x, quality = prompts(100)
    for kind in ("logreg", "knn", "mf"):
        oof = oof_quality(x, quality, kind=kind, c=1.0, k=5, rank=2, folds=4)
        assert oof.shape == quality.shape and np.isfinite(oof).all()
        assert ((oof >= 0) & (oof <= 1)).all()


def test_an_unknown_head_kind_is_a_clear_error() -> None:
    x, quality = prompts(10)
    with pytest.raises(ValueError, match="unknown head kind 'tree'"):
        fit_quality(x, quality, kind="tree")
