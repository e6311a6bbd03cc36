"""What the embedding routers read of a prompt, and bulk encoding with a cache.

`router_text` keeps the *end* of a long prompt. MiniLM reads 256 word pieces;
in a few-shot prompt (RouterBench ARC/Winogrande) or a long chat the question
being asked comes last, while the head is shared boilerplate. Cross-validation
on `routerbench_train.jsonl` preferred the tail (README, "Routing quality").
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing.encoder import (
    DEFAULT_DISK_BYTES,
    CachedEncoder,
    Encoder,
    Vectors,
    split_layers,
)

__all__ = (
    "CAPABILITY_LAYERS",
    "MEMORY_CACHE_BYTES",
    "TEXT_WINDOW",
    "default_encoder",
    "disk_cache_bound",
    "embed",
    "router_text",
)

TEXT_WINDOW = 800
"""Characters of a prompt's end that the embedding routers read.

The encoder keeps the *first* 256 word pieces of what it is given, so the window
must fit in them or the end of a long prompt (the question of a few-shot
prompt) is cut off: 1,500 characters were 340 word pieces on RouterBench's
5-shot prompts, and all 887 Winogrande prompts embedded to one vector. 800
characters are at most 256 pieces on 99.9 % of them (p95 207)."""


CAPABILITY_LAYERS = (2, 4)
"""Hidden states of MiniLM that trained artefacts append to the sentence vector.

The sentence vector is the mean of the *last* layer, tuned for semantic
similarity: two requests about the same topic land close whatever they ask
for. The middle layers keep more of the surface: which words, which syntax,
code or prose. Appending the mean-pooled, L2-normalised outputs of blocks 2
and 4 (`OnnxEncoder(layers=...)`: the same run, extra graph outputs, no extra
time) gave the capability classifier (`dispatch train`'s 5-fold CV on
`capabilities_dev.jsonl`, README "Routing quality") accuracy 0.953 -> 0.959,
macro-F1 0.940 -> 0.947 and real-user accuracy 0.813 -> 0.838, and on the
held-out half 0.946 / 0.931 / 0.782 -> 0.959 / 0.948 / 0.835; in a scratch CV,
hidden state 3 alone 0.959 / 0.947 / 0.827, all five 0.957 / 0.944 / 0.824.
The quality heads read only the leading sentence-vector columns
(`dispatch.routing.artefact.LearnedArtefact.predict_quality`), so the learned layer's routing is
what it was (RouterBench half A: 0.960 at 0.291, as before)."""


_MINILM_DIM = 384
"""Width of one MiniLM state (the sentence vector, each appended layer)."""

MEMORY_CACHE_BYTES = 50_000 * 4 * _MINILM_DIM
"""The in-memory embedding cache's budget in `default_encoder` (~77 MB): a
bound on vectors, not rows, so appended layers do not triple it."""


def router_text(prompt: str, window: int = TEXT_WINDOW) -> str:
    """The last `window` characters of `prompt` (the whole prompt when shorter)."""
    return prompt if len(prompt) <= window else prompt[-window:]


def embed(
    encoder: Encoder,
    prompts: Sequence[str],
    *,
    window: int = TEXT_WINDOW,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> Vectors:
    """Embeddings of `prompts` (via `router_text`), in batches.

    Args:
        encoder: a (cached) encoder.
        prompts: raw prompts.
        window: see `router_text`.
        batch_size: prompts per encoder call.
        progress: called with the number of prompts finished after each batch.
    """
    texts = [router_text(p, window) for p in prompts]
    parts = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        parts.append(encoder.encode(batch))
        if progress is not None:
            progress(len(batch))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def default_encoder(
    *,
    disk_cache: bool = True,
    encoder_id: str | None = None,
    layers: Sequence[int] = (),
) -> CachedEncoder:
    """The configured MiniLM encoder, wrapped in a memory + disk cache.

    ``$DISPATCH_ENCODER`` chooses (`dispatch.routing._onnx.configured_encoder`):
    by default ONNX Runtime when `onnxruntime` and `tokenizers` import, else
    sentence-transformers on torch; ``onnx-int8`` opts into the quantised
    encoder. `encoder_id` (a trained artefact's) overrides the variable and
    `layers` (hidden states appended to each vector, e.g. `CAPABILITY_LAYERS`). The
    disk cache (SQLite, keyed by encoder id and text hash) lives in the cache
    directory (``$DISPATCH_CACHE_DIR``), bounded by `disk_cache_bound`
    (``$DISPATCH_EMBEDDING_CACHE_MB``, default 512; 0: none); the memory cache holds up to
    `MEMORY_CACHE_BYTES` of vectors (50,000 plain rows, a third as many with
    two layers appended).
    """
    from dispatch.routing._onnx import (  # noqa: PLC0415 - heavy, optional
        cache_dir,
        configured_encoder,
    )

    bound = disk_cache_bound() if disk_cache else None
    inner = configured_encoder(encoder_id=encoder_id, layers=layers)
    layer_count = len(split_layers(inner.id)[1])
    path: Path | None = cache_dir() / "embeddings.sqlite" if bound is not None else None
    row_bytes = 4 * _MINILM_DIM * (1 + layer_count)
    return CachedEncoder(
        inner,
        path=path,
        max_items=MEMORY_CACHE_BYTES // row_bytes,
        max_disk_bytes=bound or DEFAULT_DISK_BYTES,
    )


EMBEDDING_CACHE_ENV = "DISPATCH_EMBEDDING_CACHE_MB"


def disk_cache_bound() -> int | None:
    """The disk embedding cache's bound in bytes from ``$DISPATCH_EMBEDDING_CACHE_MB``.

    Unset: `DEFAULT_DISK_BYTES` (512 MB). ``0``: no disk cache at all (None).
    Anything else must be a non-negative number of megabytes (MiB).

    Raises:
        ConfigError: the variable is not a finite, non-negative number.
    """
    raw = os.environ.get(EMBEDDING_CACHE_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_DISK_BYTES
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = math.nan
    if not math.isfinite(megabytes) or megabytes < 0:
        raise ConfigError(
            f"${EMBEDDING_CACHE_ENV} must be a number of megabytes >= 0 "
            f"(0 turns the disk cache off), got {raw!r}"
        )
    if megabytes == 0:
        return None
    return max(1, int(megabytes * 1024 * 1024))
