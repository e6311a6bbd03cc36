"""How much each part of the capability classifier's training set weighs.

Every part (a capability within one source, see `CapabilityHead`) first gets
the same total weight, whatever its size ("balanced"), so 150 Arena prompts
count as much as 1,340 MATH ones. Equal is not enough: templated benchmark
parts (MBPP, NQ, MATH) are separable almost perfectly, while the parts made of
real users' prompts are where the errors are, and a boundary drawn with equal
weights spends its margin on the easy parts. So a part's weight is also
scaled by how often a cheap out-of-fold model (embedding and structural
features, no n-grams: under a second on 4,500 prompts) gets its capability
wrong: a part with the mean error rate keeps its share, a part the cheap
model never misses gets half of it, and one with three times the mean error
rate gets twice it. No source is named anywhere: the weights come from the
training data alone.

Measured on `capabilities_dev.jsonl` (README, "Routing quality"): the
real-user accuracy of the 5-fold cross-validation rose from 0.794 to 0.811 and
on the held-out half from 0.770 to 0.791, with overall accuracy and macro-F1
unchanged within 0.002. Weighting the real-user sources by name (x5) did about
as well (0.819 / 0.799) but needs a list of which sources are "real", which a
user's own labelled file does not carry.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

__all__ = ("balanced_part_weights", "error_scaled")

MIN_PER_PART = 3
"""Below this many rows in its smallest part, a set is too small for an
out-of-fold error estimate and every part keeps its balanced weight."""


def balanced_part_weights(
    parts: Sequence[str],
    capability_of: dict[str, str],
    features: npt.NDArray[np.float32],
    *,
    folds: int = 5,
    seed: int = 1,
) -> dict[str, float]:
    """Class weights for a part-level classifier: balanced, then `error_scaled`.

    Args:
        parts: one part label per training row.
        capability_of: each part's capability (errors are counted between
            capabilities: a MBPP prompt taken for a HumanEval one is right).
        features: the cheap model's (n, d) features for the same rows.
        folds: out-of-fold splits for the error estimate (fewer if a part is
            smaller).
        seed: the splits' shuffle.

    Returns:
        ``{part: weight}``, for scikit-learn's ``class_weight``.
    """
    counts = Counter(parts)
    balanced = {p: len(parts) / (len(counts) * n) for p, n in counts.items()}
    smallest = min(counts.values(), default=0)
    if len(counts) < 2 or smallest < MIN_PER_PART:
        return balanced
    labels = np.asarray(parts)
    splitter = StratifiedKFold(min(folds, smallest), shuffle=True, random_state=seed)
    cheap = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
    with warnings.catch_warnings():
        # A cheap model that stops short of convergence still ranks the parts.
        warnings.simplefilter("ignore", category=UserWarning)
        predicted = cross_val_predict(cheap, features, labels, cv=splitter)
    wrong = np.array(
        [
            capability_of[a] != capability_of[b]
            for a, b in zip(predicted, labels, strict=True)
        ]
    )
    error = {p: float(wrong[labels == p].mean()) for p in counts}
    scale = error_scaled(error)
    return {p: balanced[p] * scale[p] for p in counts}


def error_scaled(error: dict[str, float]) -> dict[str, float]:
    """``1 + error / mean error`` per part, normalised to a mean of 1.

    All parts error-free (or no parts): every part 1.0.
    """
    if not error:
        return {}
    mean = sum(error.values()) / len(error)
    if mean <= 0:
        return dict.fromkeys(error, 1.0)
    raw = {p: 1.0 + e / mean for p, e in error.items()}
    norm = sum(raw.values()) / len(raw)
    return {p: w / norm for p, w in raw.items()}
