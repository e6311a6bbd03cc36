"""The embedding cache's disk file is a write-ahead log that commits without a flush."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from dispatch.routing import CachedEncoder
from dispatch.testing import FakeEncoder


def test_storing_a_new_prompt_does_not_wait_for_the_disk(tmp_path: Path) -> None:
    # the live hop writes one row per new prompt: with the default rollback
    # journal each commit waited for two flushes (~11 ms here); in WAL mode with
    # synchronous=NORMAL a commit is a write to the log and nothing more
    db = tmp_path / "emb.sqlite"
    cache = CachedEncoder(FakeEncoder(), path=db)
    cache.encode(["alpha"])
    assert cache._db is not None
    assert cache._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    with sqlite3.connect(db) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_reader_sees_committed_rows_while_the_cache_keeps_writing(
    tmp_path: Path,
) -> None:
    # another process (e.g. `dispatch eval` next to a running graph) reads the
    # file while this one is inserting: WAL never blocks the reader
    db = tmp_path / "emb.sqlite"
    cache = CachedEncoder(FakeEncoder(), path=db)
    cache.encode(["alpha", "beta"])
    done = threading.Event()

    def write() -> None:
        for i in range(50):
            cache.encode([f"text {i}"])
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    with sqlite3.connect(db, timeout=0.5) as other:
        rows = other.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    writer.join()
    assert done.is_set()
    assert rows >= 2
    reader = FakeEncoder()
    again = CachedEncoder(reader, path=db)
    again.encode(["alpha", "text 49"])
    assert reader.texts == 0  # both were on disk
