"""The ONNX export keeps a working graph when the fusion step cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.routing._onnx_export import _fuse


def test_a_folder_the_optimizer_cannot_fuse_keeps_its_plain_graph_with_a_warning(
    tmp_path: Path,
) -> None:
    # not BERT-shaped (no attention-head count): the plain export is still a
    # correct encoder, only slower, so it is kept and the user is told once
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"hidden_size": 8}))
    plain, out = tmp_path / "plain.onnx", tmp_path / "out.onnx"
    plain.write_bytes(b"graph")
    with pytest.warns(RuntimeWarning, match="unfused.*num_attention_heads"):
        _fuse(plain, out, folder)
    assert out.read_bytes() == b"graph"
    assert not plain.exists()
