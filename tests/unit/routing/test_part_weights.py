from __future__ import annotations

import numpy as np
import pytest

from dispatch.routing.part_weights import balanced_part_weights, error_scaled


def test_error_scaled_gives_the_mean_error_part_its_share_and_keeps_the_mean() -> None:
    scale = error_scaled({"easy": 0.0, "mean": 0.1, "hard": 0.2})
    assert scale["easy"] < scale["mean"] < scale["hard"]
    assert scale["hard"] / scale["easy"] == pytest.approx(3.0)
    assert sum(scale.values()) / 3 == pytest.approx(1.0)


def test_error_free_parts_all_keep_weight_one() -> None:
    assert error_scaled({"a": 0.0, "b": 0.0}) == {"a": 1.0, "b": 1.0}
    assert error_scaled({}) == {}


def overlapping_and_separable() -> tuple[np.ndarray, list[str], dict[str, str]]:
    """Two capabilities; `coding|arena` sits on top of `general|alpaca` (hard),
    `coding|mbpp` far away from everything (easy)."""
    rng = np.random.default_rng(0)
    centres = {
        "coding|mbpp": (8.0, 0.0),
        "coding|arena": (0.0, 0.3),
        "general|alpaca": (0.0, -0.3),
    }
    rows, parts = [], []
    for part, centre in centres.items():
        rows.append(np.asarray(centre) + rng.standard_normal((40, 2)))
        parts += [part] * 40
    capability_of = {p: p.split("|")[0] for p in centres}
    return np.concatenate(rows).astype(np.float32), parts, capability_of


def test_a_part_the_cheap_model_confuses_weighs_more_than_a_separable_one() -> None:
    x, parts, capability_of = overlapping_and_separable()
    weights = balanced_part_weights(parts, capability_of, x)
    assert weights["coding|arena"] > weights["coding|mbpp"]
    assert weights["general|alpaca"] > weights["coding|mbpp"]
    # Equal sizes: balanced alone would give every part 1.0; the mean stays 1.
    assert sum(weights.values()) / 3 == pytest.approx(1.0)


def test_too_small_a_part_for_an_error_estimate_keeps_balanced_weights() -> None:
    x = np.eye(5, dtype=np.float32)
    parts = ["a|x", "a|x", "a|x", "b|y", "b|y"]
    weights = balanced_part_weights(parts, {"a|x": "a", "b|y": "b"}, x)
    assert weights == pytest.approx({"a|x": 5 / 6, "b|y": 5 / 4})
