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
