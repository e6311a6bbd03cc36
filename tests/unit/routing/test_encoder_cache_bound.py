"""The disk embedding cache stays within its bound, dropping the least recently used rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dispatch.errors import ConfigError
from dispatch.routing import CachedEncoder
from dispatch.routing.features import disk_cache_bound
from dispatch.testing import FakeEncoder

BOUND = 256 * 1024  # ~200 rows of the fake encoder's 1 KB vectors


def _fill(cache: CachedEncoder, start: int, stop: int, batch: int = 50) -> None:
    for first in range(start, stop, batch):
        cache.encode(
            [f"prompt number {i}" for i in range(first, min(stop, first + batch))]
        )


def test_the_disk_cache_never_outgrows_its_bound(tmp_path: Path) -> None:
    cache = CachedEncoder(
        FakeEncoder(), path=tmp_path / "emb.sqlite", max_disk_bytes=BOUND
    )
    for first in range(0, 2_000, 50):
        _fill(cache, first, first + 50)
        assert cache.disk_bytes() <= BOUND
    assert cache.evicted > 1_500  # 2,000 rows written, about 200 fit
    kept = (
        sqlite3.connect(tmp_path / "emb.sqlite")
        .execute("SELECT COUNT(*) FROM embeddings")
        .fetchone()[0]
    )
    assert 100 < kept < 260
    # the file stops growing too: freed pages are reused by later rows
    assert (tmp_path / "emb.sqlite").stat().st_size < 2 * BOUND


def test_rows_read_again_outlive_rows_nobody_asked_for(tmp_path: Path) -> None:
    db = tmp_path / "emb.sqlite"
    writer = CachedEncoder(FakeEncoder(), path=db, max_disk_bytes=BOUND)
    _fill(writer, 0, 150)
    # another process (a fresh instance: empty memory) reads the oldest rows
    reader_encoder = FakeEncoder()
    reader = CachedEncoder(reader_encoder, path=db, max_disk_bytes=BOUND)
    reader.encode([f"prompt number {i}" for i in range(10)])
    assert reader_encoder.texts == 0  # served from disk
    _fill(writer, 150, 200)  # past the bound (~175 rows): the oldest ~60 must go
    assert writer.evicted > 0

    later_encoder = FakeEncoder()
    later = CachedEncoder(later_encoder, path=db, max_disk_bytes=BOUND)
    later.encode([f"prompt number {i}" for i in range(10)])
    assert later_encoder.texts == 0  # the rows read again were kept
    later.encode([f"prompt number {i}" for i in range(10, 20)])
    assert later_encoder.texts == 10  # the untouched ones of the same age were not


def test_a_cache_file_from_before_the_bound_is_upgraded_in_place(
    tmp_path: Path,
) -> None:
    db = tmp_path / "emb.sqlite"
    fake = FakeEncoder()
    old = sqlite3.connect(db)
    old.execute(
        "CREATE TABLE embeddings (encoder TEXT, key TEXT, dim INTEGER, vector BLOB, "
        "PRIMARY KEY (encoder, key))"
    )
    legacy = CachedEncoder(fake)  # to compute the old file's row like the old code
    vector = legacy.encode(["kept from before"])[0]
    old.execute(
        "INSERT INTO embeddings VALUES (?, ?, ?, ?)",
        (fake.id, legacy._key("kept from before"), vector.shape[0], vector.tobytes()),
    )
    old.commit()
    old.close()

    reader_encoder = FakeEncoder()
    cache = CachedEncoder(reader_encoder, path=db, max_disk_bytes=BOUND)
    again = cache.encode(["kept from before", "new"])
    assert reader_encoder.texts == 1  # the old row still serves
    assert (again[0] == vector).all()


def test_a_non_positive_bound_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="positive"):
        CachedEncoder(FakeEncoder(), path=tmp_path / "emb.sqlite", max_disk_bytes=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 512 * 1024 * 1024),
        ("", 512 * 1024 * 1024),
        ("64", 64 * 1024 * 1024),
        ("0.5", 512 * 1024),
        ("0", None),
    ],
)
def test_the_bound_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: int | None
) -> None:
    if value is None:
        monkeypatch.delenv("DISPATCH_EMBEDDING_CACHE_MB", raising=False)
    else:
        monkeypatch.setenv("DISPATCH_EMBEDDING_CACHE_MB", value)
    assert disk_cache_bound() == expected


@pytest.mark.parametrize("value", ["lots", "-1", "nan", "inf", "1e400"])
def test_a_bad_bound_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DISPATCH_EMBEDDING_CACHE_MB", value)
    with pytest.raises(ConfigError, match=r"\$DISPATCH_EMBEDDING_CACHE_MB .*megabytes"):
        disk_cache_bound()


def test_a_corrupt_cache_file_warns_and_the_memory_cache_carries_on(
    tmp_path: Path,
) -> None:
    db = tmp_path / "emb.sqlite"
    db.write_bytes(b"not a database, just bytes " * 100)
    fake = FakeEncoder()
    with pytest.warns(RuntimeWarning, match=r"emb\.sqlite is unusable \(DatabaseError"):
        cache = CachedEncoder(fake, path=db)
    cache.encode(["alpha", "beta"])
    cache.encode(["alpha"])
    assert fake.texts == 2  # encoded once, then served from memory
    assert db.read_bytes().startswith(b"not a database")  # the file is left as it was


def test_a_disk_cache_that_fails_mid_run_is_dropped_not_raised(tmp_path: Path) -> None:
    fake = FakeEncoder()
    cache = CachedEncoder(fake, path=tmp_path / "emb.sqlite")
    cache.encode(["alpha"])
    assert cache._db is not None
    cache._db.close()  # as if the file vanished or the disk filled up
    with pytest.warns(RuntimeWarning, match="memory cache only"):
        vectors = cache.encode(["beta", "alpha"])
    assert vectors.shape == (2, fake.dim)
    cache.encode(["gamma"])  # no second warning, no error
    assert fake.texts == 3
