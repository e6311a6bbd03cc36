"""The ONNX encoder computes the same vectors as sentence-transformers (real MiniLM);
its int8 twin computes close ones, under its own id."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dispatch.routing._onnx import OnnxEncoder, onnx_available
from dispatch.routing._onnx_export import EXPORT_FORMAT, export_int8, export_onnx
from dispatch.routing._st import SentenceTransformerEncoder, default_model_path

pytestmark = pytest.mark.skipif(
    not onnx_available(), reason="onnxruntime not installed"
)


def test_onnx_vectors_equal_torch_vectors_and_share_the_id(
    minilm_cache: Path,
    minilm_torch: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(minilm_cache))
    exported = _float_exports(minilm_cache)
    onnx, torch = OnnxEncoder(), minilm_torch
    texts = [
        "hello",
        "Write a Python function that reverses a linked list. " * 40,  # truncated
        "Who won the 1998 World Cup?",
    ]
    a, b = onnx.encode(texts), torch.encode(texts)
    # the session exported once; the encoder found that file, it did not export again
    assert len(exported) == 1
    assert _float_exports(minilm_cache) == exported
    assert onnx.id == torch.id
    assert a.shape == b.shape == (3, 384)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_the_cached_export_is_the_fused_graph(
    minilm_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one Attention node per layer: the optimizer recognised the export (the
    # unfused graph gives the same vectors ~2x slower, with only a warning)
    import onnx

    exported = export_onnx(default_model_path(), minilm_cache / "onnx")  # cached
    ops = [node.op_type for node in onnx.load(str(exported)).graph.node]
    assert ops.count("Attention") == 6
    assert "EmbedLayerNormalization" in ops
    assert len(ops) < 60


def _float_exports(cache: Path) -> dict[Path, int]:
    """The float export files (the int8 one may sit beside them) and their mtimes."""
    return {
        p: p.stat().st_mtime_ns
        for p in (cache / "onnx").iterdir()
        if p.name.endswith(f"-{EXPORT_FORMAT}.onnx")
    }


def test_a_batch_is_embedded_text_by_text_unpadded(
    minilm_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # padded batches cost ~5x more per prompt on mixed lengths (README,
    # "Decision latency"), so a batch is its texts one by one: a text's
    # vector is the one it gets alone (bit for bit), whatever its neighbours
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(minilm_cache))
    encoder = OnnxEncoder(threads=2)
    texts = ["short", "a somewhat longer text that would force padding of the first"]
    batch = encoder.encode(texts)
    alone = np.concatenate([encoder.encode([t]) for t in texts])
    np.testing.assert_array_equal(alone, batch)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-6)
    assert encoder.encode([]).shape == (0, 0)


def test_the_thread_count_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dispatch.routing._onnx import DEFAULT_THREADS, THREADS_ENV

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert OnnxEncoder().threads == min(DEFAULT_THREADS, os.cpu_count() or 1)
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


# -- int8 ------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TEXTS = [
    "hello",
    "Write a Python function that reverses a linked list.",
    "Who won the 1998 World Cup?",
    "Prove that the square root of 2 is irrational.",
    "Summarise this incident report for the on-call channel. " * 30,  # truncated
]


def _real_prompts(n: int) -> list[str]:
    """The first `n` real-user prompts of the dev set (as routed: last 800 chars)."""
    from dispatch.routing.features import router_text
    from dispatch.routing.replay import read_replay

    path = DATA / "capabilities_dev.jsonl"
    if not path.is_file():
        pytest.skip(f"shared data absent: {path}")
    rows = read_replay(path)
    real = [r.prompt for r in rows if r.source.startswith(("alpacaeval", "arena"))]
    return [router_text(p) for p in real[:n]]


@pytest.fixture(scope="module")
def float_and_int8(
    minilm_cache: Path,
) -> tuple[OnnxEncoder, OnnxEncoder]:
    """Both precisions over the session's export (the int8 file quantised once)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISPATCH_CACHE_DIR", str(minilm_cache))
        pair = OnnxEncoder(), OnnxEncoder(precision="int8")
        pair[0].encode(["load"]), pair[1].encode(["load"])  # sessions open now
    return pair


def test_int8_vectors_stay_close_to_the_float_ones_on_real_prompts(
    float_and_int8: tuple[OnnxEncoder, OnnxEncoder],
) -> None:
    # measured on the first 300 real-user prompts: cosine min 0.982, mean
    # 0.9937 (README, "Decision latency"); the bounds leave room for another
    # CPU's kernels, not for a broken recipe (u8s8 without reduced range
    # saturated on AVX2: min 0.96; per-tensor int8: min 0.77)
    float_, int8 = float_and_int8
    texts = TEXTS + _real_prompts(60)
    cosine = np.sum(float_.encode(texts) * int8.encode(texts), axis=1)
    assert cosine.min() >= 0.97
    assert cosine.mean() >= 0.99
    assert int8.id != float_.id


def test_an_int8_vector_is_the_same_alone_and_in_a_batch(
    float_and_int8: tuple[OnnxEncoder, OnnxEncoder],
) -> None:
    # activations are quantised per call: batched, a neighbour's range would
    # move the vector; the encoder embeds texts one by one so a cached or
    # trained-on vector is exactly the live hop's
    _, int8 = float_and_int8
    batch = int8.encode(TEXTS)
    alone = np.concatenate([int8.encode([t]) for t in TEXTS])
    np.testing.assert_array_equal(batch, alone)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-6)


def test_the_int8_export_is_quantised_and_cached_beside_the_float_one(
    float_and_int8: tuple[OnnxEncoder, OnnxEncoder], minilm_cache: Path
) -> None:
    import onnx

    float_file = export_onnx(default_model_path(), minilm_cache / "onnx")
    int8_file = export_int8(default_model_path(), minilm_cache / "onnx")
    assert int8_file.parent == float_file.parent
    assert int8_file.name.startswith(float_file.stem)  # keyed like the float file
    ops = [node.op_type for node in onnx.load(str(int8_file)).graph.node]
    assert ops.count("QAttention") == 6  # every layer's attention weights
    assert ops.count("MatMulInteger") == 12 + 6  # two FFN + one projection each
    assert int8_file.stat().st_size < 0.7 * float_file.stat().st_size


# -- appended hidden states ------------------------------------------------------------


def test_layered_vectors_are_the_sentence_vector_then_torchs_hidden_states(
    float_and_int8: tuple[OnnxEncoder, OnnxEncoder],
    minilm_torch: SentenceTransformerEncoder,
    minilm_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the tapped graph is the fused graph with extra outputs: its first 384
    # columns are the plain vector bit for bit, the rest equal the hidden
    # states torch reports (each pooled and normalised on its own)
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(minilm_cache))
    plain, _ = float_and_int8
    layered = OnnxEncoder(layers=(2, 4))
    torch_layered = SentenceTransformerEncoder(minilm_torch.model_path, layers=(2, 4))
    texts = TEXTS[:4]
    rows = layered.encode(texts)
    assert rows.shape == (4, 3 * 384)
    assert layered.id == torch_layered.id == f"{plain.id}:layers-2-4"
    np.testing.assert_array_equal(rows[:, :384], plain.encode(texts))
    np.testing.assert_allclose(rows, torch_layered.encode(texts), atol=1e-5)
    blocks = rows.reshape(4, 3, 384)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-6)
    assert torch_layered.encode([]).shape == layered.encode([]).shape == (0, 0)
    # the hidden states are not copies of the sentence vector
    assert float(np.sum(blocks[:, 0] * blocks[:, 1], axis=1).max()) < 0.99


def test_the_int8_graph_is_tapped_at_the_same_hidden_states(
    float_and_int8: tuple[OnnxEncoder, OnnxEncoder],
    minilm_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISPATCH_CACHE_DIR", str(minilm_cache))
    _, int8 = float_and_int8
    layered = OnnxEncoder(precision="int8", layers=(2, 4))
    float_layered = OnnxEncoder(layers=(2, 4))
    rows = layered.encode(TEXTS)
    np.testing.assert_array_equal(rows[:, :384], int8.encode(TEXTS))
    cosine = np.sum(
        rows.reshape(-1, 3, 384) * float_layered.encode(TEXTS).reshape(-1, 3, 384),
        axis=2,
    )
    assert cosine.min() >= 0.97
    assert layered.id == f"{int8.id}:layers-2-4"
