"""A cache directory that cannot be made (``$DISPATCH_CACHE_DIR`` names a file): the
embedding cache goes on in memory with a warning; the ONNX export, which has no
fallback of its own, is one error naming the directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.errors import DispatchError
from dispatch.routing import CachedEncoder
from dispatch.routing._onnx_export import check_cache_dir, export_onnx
from dispatch.testing import FakeEncoder


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-dir"
    path.write_text("a regular file where a directory should be")
    return path


def test_an_embedding_cache_under_a_file_warns_and_serves_from_memory(
    a_file: Path,
) -> None:
    fake = FakeEncoder()
    with pytest.warns(RuntimeWarning) as caught:
        cache = CachedEncoder(fake, path=a_file / "embeddings.sqlite")
    message = str(caught[0].message)
    assert str(a_file / "embeddings.sqlite") in message
    assert "memory cache only" in message and "$DISPATCH_CACHE_DIR" in message
    cache.encode(["alpha", "beta"])
    cache.encode(["alpha"])
    assert fake.texts == 2  # encoded once, then served from memory
    assert cache.disk_bytes() == 0
    assert a_file.read_text().startswith("a regular file")  # left as it was


def test_an_onnx_export_under_a_file_names_the_directory(
    a_file: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(DispatchError) as caught:
        export_onnx(model, a_file / "onnx")
    # not a ValueError: a learned router's probe must not take it for a bad artefact
    assert not isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert str(a_file / "onnx") in message and "Not a directory" in message
    assert "$DISPATCH_CACHE_DIR" in message


def test_an_export_dir_that_can_never_be_made_is_refused_without_making_anything(
    a_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(DispatchError, match=f"{a_file} is not a directory"):
        check_cache_dir(a_file / "deeper" / "onnx")
    fresh = tmp_path / "new" / "cache" / "onnx"
    check_cache_dir(fresh)  # can be made: fine, and still not made
    assert not (tmp_path / "new").exists()


def test_an_onnx_encoder_checks_its_cache_dir_when_built(
    monkeypatch: pytest.MonkeyPatch, a_file: Path
) -> None:
    from dispatch.routing._onnx import OnnxEncoder, onnx_available

    if not onnx_available():
        pytest.skip("onnxruntime not installed")
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(a_file))
    with pytest.raises(DispatchError, match=r"\$DISPATCH_CACHE_DIR"):
        OnnxEncoder()
