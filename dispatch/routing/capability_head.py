"""The capability classifier's head: a softmax over *parts* of capabilities.

One linear boundary per capability cannot hold a class made of unlike
populations: ``analysis`` is both MATH's LaTeX exercises and an Arena user's
question about a business margin, ``general`` both a poem request and an
AlpacaEval how-to. The head therefore scores one softmax column per *part*
(a capability within one source of the training data) and a capability's
probability is the sum over its parts. On `capabilities_dev.jsonl` this lifted
cross-validated real-user accuracy from 0.754 to 0.787 and macro-F1 from 0.921
to 0.931 over a softmax with one column per capability (README, "Routing
quality"). A head trained without parts has one part per capability, which is
the plain softmax.

Everything is numpy at decision time; the arrays are saved in the learned
artefact (``.npz``, no pickle) and the class names in its JSON header.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dispatch.routing.lexical import LexicalFeatures
from dispatch.routing.overlap import overlap
from dispatch.routing.structure import STRUCTURE_NAMES, structure_matrix

__all__ = ("CapabilityHead",)

Array = npt.NDArray[np.float32]
"""float32, as the encoders emit and the artefact stores."""


@dataclass(frozen=True, slots=True, eq=False)
class CapabilityHead:
    """Softmax over parts from the embedding plus (optionally) lexical n-grams."""

    classes: tuple[str, ...]
    """Capability names, in the order of the predicted columns."""
    embedding_weights: Array
    """(dim, parts)."""
    bias: Array
    """(parts,)."""
    lexical: LexicalFeatures | None = None
    """The n-gram idf weights, or None for an embedding-only head."""
    lexical_weights: Array | None = None
    """(2 * BUCKETS, parts), when `lexical` is set."""
    parts: tuple[int, ...] | None = None
    """The class index of each softmax column; None: column i is class i."""
    structure_weights: Array | None = None
    """(len(STRUCTURE_NAMES), parts) over `structure`'s features, or None."""

    def __post_init__(self) -> None:
        """Check that the parts cover every class once at least.

        Raises:
            ValueError: a part names no class, or a class has no part; the
                weights would predict a class that cannot be named or never
                predict one that can.
        """
        columns = self.bias.shape[0]
        rows = len(STRUCTURE_NAMES)
        if self.structure_weights is not None and self.structure_weights.shape != (
            rows,
            columns,
        ):
            raise ValueError(
                f"capability head: structure weights of shape "
                f"{self.structure_weights.shape}, expected {(rows, columns)} "
                "(an artefact from another version of the structural features)"
            )
        parts = self.parts if self.parts is not None else tuple(range(columns))
        if len(parts) != columns or set(parts) != set(range(len(self.classes))):
            raise ValueError(
                f"capability head: {columns} softmax columns with parts {parts} "
                f"do not cover the {len(self.classes)} classes {self.classes}"
            )

    def predict(self, prompts: Sequence[str], x: Array) -> Array:
        """(n, classes) probabilities for `prompts` and their embeddings `x`.

        `prompts` are only read when the head has lexical or structural
        features; one prompt takes the pure-numpy `text_logits` path (the live
        hop), several the scipy `transform` (training and evaluation).
        """
        if len(prompts) == 1:
            return self.probabilities(x, self.text_logits(prompts[0]))
        logits = x @ self.embedding_weights + self.bias
        if self.lexical is not None and self.lexical_weights is not None:
            logits = logits + self.lexical.transform(prompts) @ self.lexical_weights
        if self.structure_weights is not None:
            logits = logits + structure_matrix(prompts) @ self.structure_weights
        return self._softmax(logits)

    def text_logits(self, prompt: str) -> Array | None:
        """The part of one prompt's logits that reads its text, not its
        embedding: lexical n-grams plus structure, ``(parts,)``, or None for
        an embedding-only head.

        Needs no encoder, so a live hop computes it while the encoder runs
        (`predict_encoding`).
        """
        out: Array | None = None
        if self.lexical is not None and self.lexical_weights is not None:
            out = self.lexical.logits(prompt, self.lexical_weights)
        if self.structure_weights is not None:
            block = structure_matrix([prompt])[0] @ self.structure_weights
            out = block if out is None else out + block
        return out

    def probabilities(self, x: Array, text_logits: Array | None) -> Array:
        """(n, classes) probabilities from embeddings `x` and `text_logits`
        (one prompt's, broadcast over the rows; None adds nothing)."""
        logits = x @ self.embedding_weights + self.bias
        if text_logits is not None:
            logits = logits + text_logits
        return self._softmax(logits)

    def predict_encoding(
        self, prompt: str, encode: Callable[[], Array]
    ) -> tuple[Array, Array]:
        """One live prompt: its embedding (``encode()``) and its ``(classes,)``
        probabilities, the text features computed meanwhile on another thread.

        The encoder spends most of a decision in onnxruntime or torch, which
        release the GIL and leave a core idle part of the time; the n-gram and
        structural features (~0.2-0.3 ms of Python on a short prompt) fit in
        that time (`dispatch.routing.overlap`). Same numbers as
        ``predict([prompt], encode())``.
        """
        x, text = overlap(encode, lambda: self.text_logits(prompt))
        return x, self.probabilities(x, text)[0]

    def _softmax(self, logits: Array) -> Array:
        """Softmax over the parts, summed into their classes."""
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        probs = e / e.sum(axis=1, keepdims=True)
        if self.parts is not None:
            summed = np.zeros((probs.shape[0], len(self.classes)))
            np.add.at(summed.T, np.asarray(self.parts), probs.T)
            probs = summed
        out: Array = np.asarray(probs, dtype=np.float32)
        return out

    def arrays(self, prefix: str) -> dict[str, Array]:
        """Arrays to save under `prefix` (class names live in the JSON header)."""
        out = {
            f"{prefix}.embedding_weights": self.embedding_weights,
            f"{prefix}.bias": self.bias,
        }
        if self.lexical is not None and self.lexical_weights is not None:
            out[f"{prefix}.lexical_idf"] = self.lexical.idf
            out[f"{prefix}.lexical_weights"] = self.lexical_weights
        if self.structure_weights is not None:
            out[f"{prefix}.structure_weights"] = self.structure_weights
        if self.parts is not None:
            out[f"{prefix}.parts"] = np.asarray(self.parts, dtype=np.float32)
        return out

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, Array], prefix: str, classes: Sequence[str]
    ) -> CapabilityHead:
        """Inverse of `arrays`; `KeyError` when the head is absent.

        An artefact written before parts existed has no ``parts`` array and
        loads as the plain softmax it was.

        Raises:
            KeyError: the arrays hold no capability head under `prefix`.
            ValueError: the parts do not match the classes (a corrupt file).
        """
        lexical = None
        weights = None
        if f"{prefix}.lexical_idf" in arrays:
            lexical = LexicalFeatures(idf=arrays[f"{prefix}.lexical_idf"])
            weights = arrays[f"{prefix}.lexical_weights"].astype(np.float32)
        structure = arrays.get(f"{prefix}.structure_weights")
        parts = None
        if f"{prefix}.parts" in arrays:
            parts = tuple(int(v) for v in arrays[f"{prefix}.parts"])
        return cls(
            classes=tuple(classes),
            embedding_weights=arrays[f"{prefix}.embedding_weights"].astype(np.float32),
            bias=arrays[f"{prefix}.bias"].astype(np.float32),
            lexical=lexical,
            lexical_weights=weights,
            parts=parts,
            structure_weights=None
            if structure is None
            else structure.astype(np.float32),
        )
