"""The `Encoder` seam and an embedding cache (memory LRU + optional SQLite on disk).

A repeated prompt costs no encoder call; a second evaluation over the same
texts does not re-encode. The disk cache is keyed by encoder id and the text's
SHA-256 and stores raw float32 bytes in SQLite: no pickle, nothing executable.
It is bounded: past `max_disk_bytes` the least recently used rows go.

A disk cache that cannot be used (its directory cannot be made or is
read-only, the disk is full, the file is damaged, a row holds no valid
vector) is dropped with one warning; the memory cache goes on serving.
The SQLite file itself (schema, row decoding, size, what to do when it
fails) is `dispatch.routing.embedding_db`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import sqlite3
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from dispatch.errors import ConfigError
from dispatch.routing.embedding_db import live_bytes, open_db, remedy, stored_vector
from dispatch.routing.text import well_formed

__all__ = (
    "DEFAULT_DISK_BYTES",
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


DEFAULT_DISK_BYTES = 512 * 1024 * 1024
"""The disk cache's default bound: ~110,000 vectors with two hidden states
appended (~4.7 KB a row), ~350,000 plain ones."""

_KEEP_AFTER_EVICTION = 0.8
"""An eviction shrinks the live rows to this share of the bound, so the next
few batches do not each pay for one."""

_EVICTION_ROUNDS = 4


class CachedEncoder:
    """Wraps an `Encoder` with an in-memory LRU and, optionally, a SQLite file.

    Safe to share between threads (one lock guards the LRU and the
    connection); the encoder itself is called outside the lock, so two threads
    missing on the same text may both encode it, which is harmless.

    The disk file is bounded by `max_disk_bytes` of live pages: when a store
    takes it past the bound, the least recently used rows (by the time they
    were last written or read from disk, shared by every process using the
    file) are deleted down to 80 % of it. Freed pages are reused by later rows,
    so the file itself stops growing near the bound.

    Args:
        encoder: the encoder to call on a miss.
        max_items: entries kept in memory.
        path: SQLite file for a persistent cache (created if missing).
        max_disk_bytes: bound on the disk cache's live size (see above).
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        max_items: int = 10_000,
        path: Path | None = None,
        max_disk_bytes: int = DEFAULT_DISK_BYTES,
    ) -> None:
        if max_disk_bytes <= 0:
            raise ConfigError(
                f"the embedding cache's disk bound must be positive, got {max_disk_bytes} bytes"
            )
        self.encoder = encoder
        self.max_items = max_items
        self.max_disk_bytes = max_disk_bytes
        self.evicted = 0
        """Rows this instance deleted from the disk cache to stay in bound."""
        self._memory: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        """Texts served from a cache."""
        self.misses = 0
        """Texts the encoder had to embed."""
        self._path = path
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = open_db(path)
            except (sqlite3.Error, OSError) as exc:  # OSError: no directory there
                self._give_up_disk(exc)

    @property
    def id(self) -> str:
        """The wrapped encoder's id."""
        return self.encoder.id

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embeddings of `texts`, encoding only those no cache holds (in one batch).

        A text with lone surrogates is embedded (and keyed) as `well_formed` makes it.
        """
        texts = [well_formed(t) for t in texts]
        from_disk: list[str] = []
        rows: list[Vectors | None] = [self._lookup(t, from_disk) for t in texts]
        if from_disk:
            self._touch(from_disk)
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

    def _lookup(self, text: str, from_disk: list[str]) -> Vectors | None:
        """The cached vector of `text` (memory, then disk), or None on a miss.

        A disk hit is promoted into memory so the next lookup skips SQLite,
        and its key is added to `from_disk` (to mark the row recently used).
        """
        with self._lock:
            vector = self._memory.get(text)
            if vector is not None:
                self._memory.move_to_end(text)
                return vector
            if self._db is None:
                return None
            try:
                row = self._db.execute(
                    "SELECT dim, vector FROM embeddings WHERE encoder = ? AND key = ?",
                    (self.encoder.id, self._key(text)),
                ).fetchone()
                vector = None if row is None else stored_vector(row[0], row[1])
            except sqlite3.Error as exc:
                self._give_up_disk(exc)
                return None
        if vector is None:
            return None
        self._remember(text, vector)
        from_disk.append(self._key(text))
        return vector

    def _touch(self, keys: Sequence[str]) -> None:
        """Mark rows read from disk as recently used (one transaction)."""
        now = time.time_ns()
        self._write(
            "UPDATE embeddings SET used = ? WHERE encoder = ? AND key = ?",
            [(now, self.encoder.id, key) for key in keys],
        )

    def _store(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Remember freshly encoded vectors in memory and, if open, on disk."""
        for text, vector in zip(texts, vectors, strict=True):
            self._remember(text, vector)
        if self._db is not None:
            # One transaction per batch: a commit per row made bulk encoding
            # (thousands of prompts for `dispatch train`) disk-bound.
            now = time.time_ns()
            rows = [
                (
                    self.encoder.id,
                    self._key(text),
                    vector.shape[0],
                    np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                    now,
                )
                for text, vector in zip(texts, vectors, strict=True)
            ]
            self._write(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)",
                rows,
                evict=True,
            )

    def _write(
        self, sql: str, rows: Sequence[tuple[object, ...]], *, evict: bool = False
    ) -> None:
        """Run `sql` over `rows` in one transaction (then keep the bound if `evict`)."""
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.executemany(sql, rows)
                if evict:
                    self._evict_past_bound(self._db)
                self._db.commit()
            except sqlite3.Error as exc:  # e.g. disk full, file replaced
                self._give_up_disk(exc)

    def _give_up_disk(self, exc: sqlite3.Error | OSError) -> None:
        """Go on with the memory cache alone after the disk cache failed.

        A cache is never worth failing a hop or an evaluation for: the vectors
        are recomputed on a miss. Warns once, naming the file, the error class
        and what to do (`remedy`): point ``$DISPATCH_CACHE_DIR`` elsewhere
        when the directory cannot be made or written (there, deleting the file
        would fail too) or the disk is full, else delete the bad file (SQLite's
        and the OS's messages hold no secrets). Called with the lock held, or
        from `__init__`.
        """
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        what, fix = remedy(exc, self._path)
        warnings.warn(
            f"embedding cache {self._path} is unusable ({type(exc).__name__}: "
            f"{what}); going on with the memory cache only. {fix}",
            RuntimeWarning,
            stacklevel=3,
        )

    def disk_bytes(self) -> int:
        """Live size of the disk cache (its pages in use), 0 without one."""
        with self._lock:
            return 0 if self._db is None else live_bytes(self._db)

    def _evict_past_bound(self, db: sqlite3.Connection) -> None:
        """Delete the least recently used rows once the live pages pass the bound.

        Page counts are O(1) to read, so the common case (within bound) costs
        two pragmas per stored batch. Rows are assumed about equally large
        (one encoder's vectors are), so the share of rows to drop is the share
        of bytes to free; a few more rounds cover pages a deletion leaves
        partly filled.
        """
        for _ in range(_EVICTION_ROUNDS):
            live = live_bytes(db)
            if live <= self.max_disk_bytes:
                return
            count = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            if count == 0:
                return  # the pages are the schema's: nothing left to drop
            keep = _KEEP_AFTER_EVICTION * self.max_disk_bytes / live
            drop = max(1, math.ceil(count * (1.0 - keep)))
            db.execute(
                "DELETE FROM embeddings WHERE rowid IN "
                "(SELECT rowid FROM embeddings ORDER BY used LIMIT ?)",
                (drop,),
            )
            self.evicted += min(drop, count)

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
