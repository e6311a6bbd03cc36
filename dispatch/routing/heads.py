"""Prediction heads over prompt embeddings, stored as plain arrays (npz, no pickle).

Two shapes cover what cross-validation on the dev files chose between
(see README, "Routing quality"):

- `LinearHeads`: one logistic regression per output (per model: "answers this
  prompt well"; per capability: softmax). A 384 x M matrix product: microseconds.
- `KnnHeads`: the mean outcome of the k nearest training prompts (cosine).

Both are fitted by `dispatch.routing.train` and evaluated here in numpy only, so
a decision never touches scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dispatch.routing.capability_head import CapabilityHead

__all__ = ("CapabilityHead", "Heads", "KnnHeads", "LinearHeads", "heads_from_arrays")

Array = npt.NDArray[np.float32]
"""Everything is float32: half the artefact size, and what the encoders emit."""


@dataclass(frozen=True, slots=True, eq=False)
class LinearHeads:
    """``sigmoid(X @ weights + bias)`` per column, or a softmax across columns."""

    weights: Array
    """(dim, outputs)."""
    bias: Array
    """(outputs,)."""
    softmax: bool = False
    """True for one multi-class output (capabilities), False for independent ones."""

    def predict(self, x: Array) -> Array:
        """(n, outputs) probabilities for (n, dim) embeddings."""
        logits = x @ self.weights + self.bias
        if self.softmax:
            logits = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            probs: Array = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
            return probs
        sigmoid: Array = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return sigmoid

    def arrays(self, prefix: str) -> dict[str, Array]:
        """Arrays to save under `prefix`; the softmax flag as a 1-element array,
        because an ``.npz`` holds arrays only."""
        kind = np.array([1 if self.softmax else 0], dtype=np.float32)
        return {
            f"{prefix}.linear.weights": self.weights,
            f"{prefix}.linear.bias": self.bias,
            f"{prefix}.linear.softmax": kind,
        }


@dataclass(frozen=True, slots=True, eq=False)
class KnnHeads:
    """Mean target of the `k` most similar training rows (cosine, normalised rows)."""

    points: Array
    """(n_train, dim) normalised embeddings."""
    targets: Array
    """(n_train, outputs)."""
    k: int = 25
    """Neighbours averaged; capped at the number of training rows."""

    def predict(self, x: Array) -> Array:
        """(n, outputs) averages of the neighbours' targets."""
        sims = x @ self.points.T
        k = min(self.k, self.points.shape[0])
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        mean: Array = self.targets[idx].mean(axis=1).astype(np.float32)
        return mean

    def arrays(self, prefix: str) -> dict[str, Array]:
        """Arrays to save under `prefix`."""
        return {
            f"{prefix}.knn.points": self.points,
            f"{prefix}.knn.targets": self.targets,
            f"{prefix}.knn.k": np.array([self.k], dtype=np.float32),
        }


Heads = LinearHeads | KnnHeads
"""Per-model quality heads: both predict ``(n, models)`` from ``(n, dim)``."""


def heads_from_arrays(arrays: dict[str, Array], prefix: str) -> Heads:
    """Inverse of ``heads.arrays(prefix)``.

    Raises:
        KeyError: the arrays hold no head under `prefix`.
    """
    if f"{prefix}.linear.weights" in arrays:
        return LinearHeads(
            weights=arrays[f"{prefix}.linear.weights"].astype(np.float32),
            bias=arrays[f"{prefix}.linear.bias"].astype(np.float32),
            softmax=bool(arrays[f"{prefix}.linear.softmax"][0]),
        )
    if f"{prefix}.knn.points" in arrays:
        return KnnHeads(
            points=arrays[f"{prefix}.knn.points"].astype(np.float32),
            targets=arrays[f"{prefix}.knn.targets"].astype(np.float32),
            k=int(arrays[f"{prefix}.knn.k"][0]),
        )
    raise KeyError(f"no head {prefix!r} in the artefact")
