"""`dispatch cache info` / `clear`: what the encoder caches hold, and emptying them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import cli

from dispatch.routing import CachedEncoder
from dispatch.testing import FakeEncoder


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(root))
    monkeypatch.delenv("DISPATCH_EMBEDDING_CACHE_MB", raising=False)
    return root


def _fill(root: Path) -> None:
    CachedEncoder(FakeEncoder(), path=root / "embeddings.sqlite").encode(
        ["alpha", "beta", "gamma"]
    )
    CachedEncoder(FakeEncoder(dim=8), path=root / "embeddings.sqlite").encode(["alpha"])
    (root / "onnx").mkdir()
    (root / "onnx" / "model-abc-fused1.onnx").write_bytes(b"\0" * 2048)


def test_info_on_an_empty_cache_directory_creates_nothing(cache_dir: Path) -> None:
    code, out, _ = cli("cache", "info", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["cache_dir"] == str(cache_dir)
    assert summary["embeddings"]["exists"] is False
    assert summary["embeddings"]["bound_bytes"] == 512 * 1024 * 1024
    assert summary["onnx"]["files"] == []
    assert not cache_dir.exists()


def test_info_counts_rows_per_encoder_and_lists_the_exports(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(cache_dir)
    monkeypatch.setenv("DISPATCH_EMBEDDING_CACHE_MB", "64")
    code, out, _ = cli("cache", "info", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["embeddings"]["rows_by_encoder"] == {
        "fake-bow-256": 3,
        "fake-bow-8": 1,
    }
    assert summary["embeddings"]["bytes"] > 0
    assert summary["embeddings"]["bound_bytes"] == 64 * 1024 * 1024
    assert summary["onnx"]["files"] == [
        {"name": "model-abc-fused1.onnx", "bytes": 2048}
    ]
    code, out, _ = cli("cache", "info")
    assert code == 0
    assert "fake-bow-256" in out
    assert "model-abc-fused1.onnx" in out


def test_clear_only_embeddings_keeps_the_exports(cache_dir: Path) -> None:
    _fill(cache_dir)
    code, out, _ = cli("cache", "clear", "--only", "embeddings", "--json")
    assert code == 0
    result = json.loads(out)
    assert str(cache_dir / "embeddings.sqlite") in result["removed"]
    assert result["freed_bytes"] > 0
    assert not (cache_dir / "embeddings.sqlite").exists()
    assert (cache_dir / "onnx" / "model-abc-fused1.onnx").exists()
    code, out, _ = cli("cache", "clear")
    assert code == 0
    assert "removed 1 file(s)" in out
    assert list((cache_dir / "onnx").iterdir()) == []


def test_a_corrupt_embedding_cache_is_named_with_the_command_that_deletes_it(
    cache_dir: Path,
) -> None:
    cache_dir.mkdir()
    (cache_dir / "embeddings.sqlite").write_bytes(b"garbage" * 100)
    code, out, err = cli("cache", "info", "--json")
    assert code == 2
    assert json.loads(out)["status"] == "error"
    assert "embeddings.sqlite: not a readable embedding cache" in err
    assert "dispatch cache clear --only embeddings" in err
    assert cli("cache", "clear", "--only", "embeddings")[0] == 0
    assert cli("cache", "info")[0] == 0


def test_a_bad_bound_in_the_environment_fails_the_command(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_EMBEDDING_CACHE_MB", "-5")
    code, out, err = cli("cache", "info", "--json")
    assert code == 2
    assert "DISPATCH_EMBEDDING_CACHE_MB" in json.loads(out)["reason"]
    assert "Traceback" not in err
