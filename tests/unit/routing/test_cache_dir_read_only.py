"""An embedding cache directory that exists but cannot be written, a disk with no
room, and a cache file whose rows are damaged: one warning naming the file and
what to do, then the memory cache alone; every text still gets its vector.

Like a directory that cannot be made (``test_cache_dir_unusable``). Deleting the
file (`dispatch cache clear`) is no remedy in a read-only directory or on a
full disk, so there the warning points ``$DISPATCH_CACHE_DIR`` elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dispatch.routing import CachedEncoder
from dispatch.testing import FakeEncoder

as_root = pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root writes into a 0o555 directory regardless of its mode",
)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "cache"
    directory.mkdir()
    yield directory
    directory.chmod(0o755)  # so pytest can remove it


def fill(path: Path, *texts: str) -> None:
    """Leave a disk cache at `path` holding `texts`."""
    cache = CachedEncoder(FakeEncoder(), path=path)
    cache.encode(list(texts))
    cache.close()


def served_from_memory(path: Path) -> tuple[CachedEncoder, FakeEncoder, str]:
    """A cache on `path` after encoding twice; with its one warning's text."""
    fake = FakeEncoder()
    with pytest.warns(RuntimeWarning) as caught:
        cache = CachedEncoder(fake, path=path)
        first = cache.encode(["alpha", "beta"])
        again = cache.encode(["alpha", "beta"])
    assert len(caught) == 1, [str(w.message) for w in caught]
    np.testing.assert_array_equal(first, FakeEncoder().encode(["alpha", "beta"]))
    np.testing.assert_array_equal(again, first)
    return cache, fake, str(caught[0].message)


@as_root
def test_a_read_only_cache_dir_warns_once_and_serves_from_memory(
    cache_dir: Path,
) -> None:
    cache_dir.chmod(0o555)
    path = cache_dir / "embeddings.sqlite"
    cache, fake, message = served_from_memory(path)
    assert str(path) in message and "memory cache only" in message
    assert f"{cache_dir} is read-only" in message
    assert "Point $DISPATCH_CACHE_DIR at a writable directory" in message
    assert "cache clear" not in message  # it could not delete the file there
    assert fake.texts == 2  # encoded once, then served from memory
    assert cache.disk_bytes() == 0
    assert list(cache_dir.iterdir()) == []


@as_root
def test_a_cache_file_in_a_read_only_dir_is_left_as_it_was(cache_dir: Path) -> None:
    path = cache_dir / "embeddings.sqlite"
    fill(path, "alpha")
    before = path.read_bytes()
    cache_dir.chmod(0o555)
    _, _, message = served_from_memory(path)
    assert f"{cache_dir} is read-only" in message and "$DISPATCH_CACHE_DIR" in message
    assert path.read_bytes() == before
    assert [p.name for p in cache_dir.iterdir()] == ["embeddings.sqlite"]


@contextlib.contextmanager
def no_room_for_files() -> Iterator[None]:
    """Every write to a regular file past byte 0 fails (EFBIG), as on a full
    disk, for root too; SIGXFSZ ignored so the process survives it."""
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)


def test_a_disk_that_fills_under_the_cache_points_the_cache_elsewhere(
    cache_dir: Path,
) -> None:
    path = cache_dir / "embeddings.sqlite"
    fake = FakeEncoder()
    cache = CachedEncoder(fake, path=path)
    cache.encode(["alpha"])  # on disk
    with pytest.warns(RuntimeWarning) as caught, no_room_for_files():
        cache.encode(["beta", "gamma"])
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(path) in message and "memory cache only" in message
    assert "Free disk space, or point $DISPATCH_CACHE_DIR" in message
    assert "cache clear" not in message
    cache.encode(["alpha", "beta", "gamma"])
    assert fake.texts == 3  # the memory cache serves all three
    assert cache.disk_bytes() == 0


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param("UPDATE embeddings SET vector = substr(vector, 1, 10)", id="cut"),
        pytest.param("UPDATE embeddings SET vector = NULL", id="null"),
        pytest.param("UPDATE embeddings SET vector = 'text', dim = 'x'", id="text"),
        pytest.param("UPDATE embeddings SET dim = dim + 1", id="width"),
    ],
)
def test_a_damaged_row_is_encoded_afresh_and_the_file_dropped(
    cache_dir: Path, damage: str
) -> None:
    path = cache_dir / "embeddings.sqlite"
    fill(path, "alpha", "beta")
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(damage)
        db.commit()
    cache, fake, message = served_from_memory(path)
    assert str(path) in message and "a stored vector is damaged" in message
    assert "`dispatch cache clear --only embeddings` deletes the file" in message
    assert fake.texts == 2  # the damaged rows were not served
    assert cache.disk_bytes() == 0
