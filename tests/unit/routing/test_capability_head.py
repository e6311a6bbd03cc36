from __future__ import annotations

import numpy as np
import pytest

from dispatch.routing.capability_head import CapabilityHead
from dispatch.routing.structure import STRUCTURE_NAMES
from dispatch.routing.train import fit_capability, oof_capability


def two_populations_per_class() -> tuple[np.ndarray, list[str], list[str]]:
    """`analysis` sits at +-e1, `general` at +-e2: no single linear boundary
    per class separates them, one per (class, population) part does."""
    rng = np.random.default_rng(0)
    centres = {
        ("analysis", "east"): (1.0, 0.0),
        ("analysis", "west"): (-1.0, 0.0),
        ("general", "north"): (0.0, 1.0),
        ("general", "south"): (0.0, -1.0),
    }
    rows, labels, groups = [], [], []
    for (label, group), centre in centres.items():
        rows.append(np.asarray(centre) + 0.1 * rng.standard_normal((20, 2)))
        labels += [label] * 20
        groups += [group] * 20
    return np.concatenate(rows).astype(np.float32), labels, groups


def accuracy(head: CapabilityHead, x: np.ndarray, labels: list[str]) -> float:
    predicted = [head.classes[i] for i in head.predict([""] * len(x), x).argmax(1)]
    return float(np.mean([p == t for p, t in zip(predicted, labels, strict=True)]))


def test_parts_let_a_capability_hold_two_unlike_populations() -> None:
    x, labels, groups = two_populations_per_class()
    plain = fit_capability(x, labels)
    parted = fit_capability(x, labels, groups=groups)
    assert plain.parts is None and parted.classes == ("analysis", "general")
    assert parted.parts is not None and sorted(parted.parts) == [0, 0, 1, 1]
    assert accuracy(parted, x, labels) == 1.0
    assert accuracy(plain, x, labels) < 0.8


def test_part_probabilities_add_up_per_capability() -> None:
    x, labels, groups = two_populations_per_class()
    head = fit_capability(x, labels, groups=groups)
    probs = head.predict([""] * 3, x[:3])
    assert probs.shape == (3, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_out_of_fold_predictions_use_the_parts() -> None:
    x, labels, groups = two_populations_per_class()
    predicted = oof_capability(x, labels, groups=groups, folds=4)
    assert predicted == labels


def test_a_head_with_parts_round_trips_through_its_arrays() -> None:
    x, labels, groups = two_populations_per_class()
    head = fit_capability(x, labels, groups=groups)
    back = CapabilityHead.from_arrays(
        head.arrays("capability"), "capability", head.classes
    )
    assert back.parts == head.parts
    np.testing.assert_array_equal(
        back.predict([""] * 5, x[:5]), head.predict([""] * 5, x[:5])
    )


def test_arrays_saved_before_parts_existed_load_as_a_plain_softmax() -> None:
    x, labels, _ = two_populations_per_class()
    old = fit_capability(x, labels).arrays("capability")
    assert "capability.parts" not in old
    head = CapabilityHead.from_arrays(old, "capability", ("analysis", "general"))
    assert head.parts is None and head.predict([""], x[:1]).shape == (1, 2)


def test_parts_that_miss_a_class_are_refused() -> None:
    with pytest.raises(ValueError, match="do not cover the 2 classes"):
        CapabilityHead(
            classes=("analysis", "general"),
            embedding_weights=np.zeros((2, 2), dtype=np.float32),
            bias=np.zeros(2, dtype=np.float32),
            parts=(0, 0),
        )


def test_groups_must_match_the_labels() -> None:
    x, labels, groups = two_populations_per_class()
    with pytest.raises(ValueError, match="79 groups for 80 labels"):
        fit_capability(x, labels, groups=groups[:-1])


def test_a_head_with_lexical_and_structural_features_round_trips() -> None:
    x, labels, groups = two_populations_per_class()
    prompts = [
        f"```\ndef f{i}(): pass\n```" if y == "analysis" else f"poem {i}?"
        for i, y in enumerate(labels)
    ]
    head = fit_capability(x, labels, prompts=prompts, groups=groups)
    assert head.structure_weights is not None
    assert head.structure_weights.shape == (len(STRUCTURE_NAMES), 4)
    back = CapabilityHead.from_arrays(head.arrays("c"), "c", head.classes)
    for prompt, row in zip(prompts[:3], x[:3], strict=True):  # the one-prompt path
        np.testing.assert_allclose(
            back.predict([prompt], row[None]),
            head.predict([prompt], row[None]),
            atol=1e-6,
        )
    np.testing.assert_allclose(
        back.predict(prompts[:3], x[:3]), head.predict(prompts[:3], x[:3]), atol=1e-6
    )


def test_structure_weights_of_another_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="structure weights of shape"):
        CapabilityHead(
            classes=("analysis", "general"),
            embedding_weights=np.zeros((2, 2), dtype=np.float32),
            bias=np.zeros(2, dtype=np.float32),
            structure_weights=np.zeros((3, 2), dtype=np.float32),
        )


def test_the_live_path_gives_the_batch_path_numbers() -> None:
    """One prompt with its text features computed beside the encoder call
    (`predict_encoding`) scores as the scipy batch path scores it."""
    x, labels, groups = two_populations_per_class()
    prompts = [
        f"```\ndef f{i}(): pass\n```" if y == "analysis" else f"poem {i}?"
        for i, y in enumerate(labels)
    ]
    head = fit_capability(x, labels, prompts=prompts, groups=groups)
    batch = head.predict(prompts[:6], x[:6])
    for i, prompt in enumerate(prompts[:6]):
        row, probs = head.predict_encoding(prompt, lambda i=i: x[i : i + 1])
        assert row is not None and probs.shape == (2,)
        np.testing.assert_allclose(probs, batch[i], atol=1e-6)


def test_an_embedding_only_head_has_no_text_logits() -> None:
    x, labels, _ = two_populations_per_class()
    head = fit_capability(x, labels)
    assert head.text_logits("anything") is None
    _, probs = head.predict_encoding("anything", lambda: x[:1])
    np.testing.assert_allclose(probs, head.predict([""], x[:1])[0], atol=1e-7)
