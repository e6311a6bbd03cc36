"""The `Encoder` seam and an embedding cache (memory LRU + optional SQLite on disk).

A repeated prompt costs no encoder call; a second evaluation over the same
texts does not re-encode. The disk cache is keyed by encoder id and the text's
SHA-256 and stores raw float32 bytes in SQLite: no pickle, nothing executable.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from dispatch.errors import ConfigError

__all__ = (
    "CachedEncoder",
    "Encoder",
    "Vectors",
    "base_width",
    "layers_suffix",
    "split_layers",
)

Vectors = npt.NDArray[np.float32]
"""Rows of L2-normalised float32 embeddings."""


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised embeddings.

    The seam between routing and any embedding library: the semantic,
    classifier and learned layers take an `Encoder` and never import
    sentence-transformers or onnxruntime themselves, so tests inject a fake
    and the adapters (`_st`, `_onnx`) stay lazy.

    Implementations must be deterministic for a given `id`: cached vectors
    (in memory and on disk) are reused as if freshly computed.
    """

    @property
    def id(self) -> str:
        """Identifies the model and its settings (part of every cache key).

        Change it whenever the vectors would change (another model, another
        truncation); an artefact records it and refuses a different encoder.
        """
        ...

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text, in order: ``(len(texts), dim)``."""
        ...


class CachedEncoder:
    """Wraps an `Encoder` with an in-memory LRU and, optionally, a SQLite file.

    Safe to share between threads (one lock guards the LRU and the
    connection); the encoder itself is called outside the lock, so two threads
    missing on the same text may both encode it, which is harmless.

    Args:
        encoder: the encoder to call on a miss.
        max_items: entries kept in memory.
        path: SQLite file for a persistent cache (created if missing).
    """

    def __init__(
        self, encoder: Encoder, *, max_items: int = 10_000, path: Path | None = None
    ) -> None:
        self.encoder = encoder
        self.max_items = max_items
        self._memory: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        """Texts served from a cache."""
        self.misses = 0
        """Texts the encoder had to embed."""
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False)
            # A cache, not a record: every row can be recomputed. In WAL mode
            # with synchronous=NORMAL a commit does not wait for the disk (only
            # checkpoints do), so storing a new prompt's vector on the live
            # hop costs ~0.2 ms instead of two flushes (~11 ms per new prompt
            # measured here with the default rollback journal). A power loss
            # can drop the last rows; the file stays consistent.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                "encoder TEXT, key TEXT, dim INTEGER, vector BLOB, PRIMARY KEY (encoder, key))"
            )

    @property
    def id(self) -> str:
        """The wrapped encoder's id."""
        return self.encoder.id

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embeddings of `texts`, encoding only those no cache holds (in one batch)."""
        rows: list[Vectors | None] = [self._lookup(t) for t in texts]
        missing = [i for i, row in enumerate(rows) if row is None]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.encoder.encode([texts[i] for i in missing])
            for i, vector in zip(missing, fresh, strict=True):
                rows[i] = vector
            self._store([texts[i] for i in missing], fresh)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        if len(rows) == 1 and rows[0] is not None:  # one prompt per hop: no copy
            return rows[0][np.newaxis].astype(np.float32, copy=False)
        return np.stack([r for r in rows if r is not None]).astype(
            np.float32, copy=False
        )

    def _key(self, text: str) -> str:
        """The disk key: SHA-256 of the text (fixed length; the text is not stored)."""
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _lookup(self, text: str) -> Vectors | None:
        """The cached vector of `text` (memory, then disk), or None on a miss.

        A disk hit is promoted into memory so the next lookup skips SQLite.
        """
        with self._lock:
            vector = self._memory.get(text)
            if vector is not None:
                self._memory.move_to_end(text)
                return vector
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT dim, vector FROM embeddings WHERE encoder = ? AND key = ?",
                (self.encoder.id, self._key(text)),
            ).fetchone()
        if row is None:
            return None
        vector = np.frombuffer(row[1], dtype=np.float32).reshape(row[0])
        self._remember(text, vector)
        return vector

    def _store(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Remember freshly encoded vectors in memory and, if open, on disk."""
        for text, vector in zip(texts, vectors, strict=True):
            self._remember(text, vector)
        if self._db is not None:
            # One transaction per batch: a commit per row made bulk encoding
            # (thousands of prompts for `dispatch train`) disk-bound.
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                    [
                        (
                            self.encoder.id,
                            self._key(text),
                            vector.shape[0],
                            np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                        )
                        for text, vector in zip(texts, vectors, strict=True)
                    ],
                )
                self._db.commit()

    def _remember(self, text: str, vector: Vectors) -> None:
        """Put `text` at the LRU's recent end; evict the oldest past `max_items`."""
        vector = vector.view()
        vector.flags.writeable = False  # callers get views of it: never edit in place
        with self._lock:
            self._memory[text] = vector
            self._memory.move_to_end(text)
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)

    def close(self) -> None:
        """Close the disk cache; the memory cache keeps serving, misses re-encode."""
        if self._db is not None:
            self._db.close()
            self._db = None


_LAYERS_PREFIX = ":layers-"


def layers_suffix(layers: Sequence[int]) -> str:
    """What an encoder id gains for appended hidden states: ``:layers-2-4``
    (nothing without)."""
    return f"{_LAYERS_PREFIX}{'-'.join(str(k) for k in layers)}" if layers else ""


def split_layers(encoder_id: str) -> tuple[str, tuple[int, ...]]:
    """``(id without the layers suffix, layers)`` of an encoder id.

    Raises:
        ConfigError: the suffix is not dash-separated whole numbers.
    """
    base, sep, tail = encoder_id.rpartition(_LAYERS_PREFIX)
    if not sep:
        return encoder_id, ()
    try:
        return base, tuple(int(k) for k in tail.split("-"))
    except ValueError:
        raise ConfigError(
            "malformed layers in an encoder id",
            found=encoder_id,
            expected="...:layers-2-4",
        ) from None


def base_width(encoder_id: str, width: int) -> int:
    """Columns of a row that are the plain sentence vector: all of them, or the
    first ``width / (1 + layers)`` when the id appends hidden states."""
    return width // (1 + len(split_layers(encoder_id)[1]))
