"""The ONNX encoder computes the same vectors as sentence-transformers (real MiniLM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dispatch.routing._onnx import OnnxEncoder, onnx_available
from dispatch.routing._st import SentenceTransformerEncoder

pytestmark = pytest.mark.skipif(
    not onnx_available(), reason="onnxruntime not installed"
)


def test_onnx_vectors_equal_torch_vectors_and_share_the_id(
    minilm_cache: Path,
    minilm_torch: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(minilm_cache))
    exported = {p: p.stat().st_mtime_ns for p in (minilm_cache / "onnx").iterdir()}
    onnx, torch = OnnxEncoder(), minilm_torch
    texts = [
        "hello",
        "Write a Python function that reverses a linked list. " * 40,  # truncated
        "Who won the 1998 World Cup?",
    ]
    a, b = onnx.encode(texts), torch.encode(texts)
    # the session exported once; the encoder found that file, it did not export again
    assert len(exported) == 1
    assert {p: p.stat().st_mtime_ns for p in (minilm_cache / "onnx").iterdir()} == (
        exported
    )
    assert onnx.id == torch.id
    assert a.shape == b.shape == (3, 384)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_the_cached_export_is_the_fused_graph(
    minilm_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one Attention node per layer: the optimizer recognised the export (the
    # unfused graph gives the same vectors ~2x slower, with only a warning)
    import onnx

    (exported,) = (minilm_cache / "onnx").iterdir()
    ops = [node.op_type for node in onnx.load(str(exported)).graph.node]
    assert ops.count("Attention") == 6
    assert "EmbedLayerNormalization" in ops
    assert len(ops) < 60


def test_one_text_alone_gets_the_vector_it_gets_in_a_padded_batch(
    minilm_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the single-prompt path skips padding and the mask; a batch pads
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(minilm_cache))
    encoder = OnnxEncoder(threads=2)
    texts = ["short", "a somewhat longer text that forces padding of the first"]
    batch = encoder.encode(texts)
    alone = np.concatenate([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(alone, batch, atol=1e-6)
    assert alone.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(alone, axis=1), 1.0, atol=1e-6)


def test_the_thread_count_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dispatch.routing._onnx import DEFAULT_THREADS, THREADS_ENV

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert OnnxEncoder().threads == DEFAULT_THREADS
    monkeypatch.setenv(THREADS_ENV, "3")
    assert OnnxEncoder().threads == 3
    assert OnnxEncoder(threads=1).threads == 1


@pytest.mark.parametrize(
    ("threads", "env", "where"),
    [
        (0, None, "OnnxEncoder(threads=...)"),
        (None, "two", "DISPATCH_ONNX_THREADS"),
        (None, "0", "DISPATCH_ONNX_THREADS"),
    ],
)
def test_a_bad_thread_count_is_refused_naming_where_it_came_from(
    threads: int | None, env: str | None, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatch.errors import ConfigError

    if env is not None:
        monkeypatch.setenv("DISPATCH_ONNX_THREADS", env)
    with pytest.raises(ConfigError, match="at least 1") as caught:
        OnnxEncoder(threads=threads)
    assert where in str(caught.value)
