"""Which encoder a deployment gets, and why float and int8 vectors never mix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from dispatch.errors import ConfigError
from dispatch.routing import CachedEncoder
from dispatch.routing._onnx import (
    ENCODER_ENV,
    OnnxEncoder,
    configured_encoder,
    onnx_available,
)
from dispatch.routing._onnx_export import INT8_FORMAT
from dispatch.routing._st import SentenceTransformerEncoder
from dispatch.routing.encoder import Vectors, base_width, layers_suffix, split_layers
from dispatch.testing import FakeEncoder

needs_onnx = pytest.mark.skipif(
    not onnx_available(), reason="onnxruntime not installed"
)

FLOAT_ID = SentenceTransformerEncoder().id  # lazy: reads no weights
INT8_ID = f"{FLOAT_ID}:onnx-int8-{INT8_FORMAT}"


def _choose(env: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set `ENCODER_ENV` to `env`, or unset it for None."""
    if env is None:
        monkeypatch.delenv(ENCODER_ENV, raising=False)
    else:
        monkeypatch.setenv(ENCODER_ENV, env)


@needs_onnx
def test_the_int8_encoder_has_its_own_id_carrying_the_recipe_version() -> None:
    # the float id is the torch encoder's (same vectors); the int8 id is not,
    # and names the quantisation recipe, so a new recipe is a new id
    float_, int8 = OnnxEncoder(), OnnxEncoder(precision="int8")
    assert float_.id == SentenceTransformerEncoder().id
    assert int8.id == f"{float_.id}:onnx-int8-{INT8_FORMAT}"


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(ConfigError, match="precision") as caught:
        OnnxEncoder(precision="int4")  # type: ignore[arg-type]
    assert "float32 or int8" in str(caught.value)


@needs_onnx
@pytest.mark.parametrize(
    ("env", "kind", "precision"),
    [
        (None, OnnxEncoder, "float32"),
        ("auto", OnnxEncoder, "float32"),
        ("onnx", OnnxEncoder, "float32"),
        ("onnx-int8", OnnxEncoder, "int8"),
        ("torch", SentenceTransformerEncoder, None),
    ],
)
def test_the_environment_chooses_the_encoder(
    env: str | None,
    kind: type,
    precision: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _choose(env, monkeypatch)
    encoder = configured_encoder()
    assert type(encoder) is kind
    assert getattr(encoder, "precision", None) == precision


def test_an_unknown_encoder_name_says_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENCODER_ENV, "onnx-int4")
    with pytest.raises(ConfigError, match="unknown encoder") as caught:
        configured_encoder()
    assert ENCODER_ENV in str(caught.value)
    assert "onnx-int8" in str(caught.value)


@needs_onnx
@pytest.mark.parametrize(("env", "artefact_id"), [("onnx", INT8_ID), (None, INT8_ID)])
def test_an_int8_artefact_gets_the_int8_encoder_whatever_the_environment_says(
    env: str | None, artefact_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _choose(env, monkeypatch)
    assert configured_encoder(encoder_id=artefact_id).id == artefact_id


@needs_onnx
@pytest.mark.parametrize(
    ("env", "kind"),
    [("onnx-int8", OnnxEncoder), ("torch", SentenceTransformerEncoder)],
)
def test_a_float_artefact_gets_a_float_encoder_keeping_a_torch_choice(
    env: str, kind: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENCODER_ENV, env)
    encoder = configured_encoder(encoder_id=FLOAT_ID)
    assert type(encoder) is kind
    assert encoder.id == FLOAT_ID


class _Named:
    """A fake encoder under a real encoder's id, its vectors turned by `sign`
    (two precisions of one model: same texts, different vectors)."""

    def __init__(self, id_: str, sign: float) -> None:
        self._id, self._sign, self.inner = id_, sign, FakeEncoder()

    @property
    def id(self) -> str:
        return self._id

    def encode(self, texts: Sequence[str]) -> Vectors:
        vectors: Vectors = (self._sign * self.inner.encode(texts)).astype(np.float32)
        return vectors


def test_one_cache_file_keeps_float_and_int8_vectors_apart(tmp_path: Path) -> None:
    # both encoders share ~/.cache/graph-dispatch/embeddings.sqlite in
    # production: a text embedded by one must be a miss for the other
    db = tmp_path / "embeddings.sqlite"
    float_, int8 = _Named(FLOAT_ID, 1.0), _Named(INT8_ID, -1.0)
    a = CachedEncoder(float_, path=db).encode(["route this prompt"])
    b = CachedEncoder(int8, path=db).encode(["route this prompt"])
    assert int8.inner.texts == 1  # a miss: the float row was not served
    assert float(a[0] @ b[0]) == pytest.approx(-1.0)
    # reopened, each id reads back its own row and encodes nothing
    again_float = CachedEncoder(_Named(FLOAT_ID, 1.0), path=db)
    again_int8 = CachedEncoder(_Named(INT8_ID, -1.0), path=db)
    np.testing.assert_array_equal(again_float.encode(["route this prompt"]), a)
    np.testing.assert_array_equal(again_int8.encode(["route this prompt"]), b)
    assert again_float.misses == again_int8.misses == 0


# -- appended hidden states ------------------------------------------------------------

LAYERED_ID = f"{FLOAT_ID}:layers-2-4"


def test_an_encoder_id_records_the_appended_layers_and_gives_them_back() -> None:
    assert layers_suffix(()) == ""
    assert layers_suffix((2, 4)) == ":layers-2-4"
    assert split_layers(LAYERED_ID) == (FLOAT_ID, (2, 4))
    assert split_layers(f"{INT8_ID}:layers-3") == (INT8_ID, (3,))
    assert split_layers(FLOAT_ID) == (FLOAT_ID, ())
    assert SentenceTransformerEncoder(layers=(2, 4)).id == LAYERED_ID


def test_a_malformed_layers_suffix_is_refused_naming_the_id() -> None:
    with pytest.raises(ConfigError, match="malformed layers") as caught:
        split_layers(f"{FLOAT_ID}:layers-two")
    assert "layers-two" in str(caught.value)


def test_the_sentence_vector_is_the_leading_columns_of_a_layered_row() -> None:
    assert base_width(FLOAT_ID, 384) == 384
    assert base_width(LAYERED_ID, 1152) == 384
    assert base_width(f"{INT8_ID}:layers-3", 768) == 384


@pytest.mark.parametrize("layers", [(6,), (-1,), (2, 2)])
def test_layers_the_model_cannot_append_are_refused_naming_the_argument(
    layers: tuple[int, ...],
) -> None:
    # MiniLM has six blocks: hidden states 0..5 enter them, the sixth output
    # is the sentence vector itself
    with pytest.raises(ConfigError, match="out of range or repeated") as caught:
        SentenceTransformerEncoder(layers=layers)
    assert "SentenceTransformerEncoder(layers=...)" in str(caught.value)
    assert "0 to 5" in str(caught.value)
    if onnx_available():
        with pytest.raises(ConfigError, match="OnnxEncoder"):
            OnnxEncoder(layers=layers)


@needs_onnx
@pytest.mark.parametrize(
    ("env", "artefact_id", "precision"),
    [
        (None, LAYERED_ID, "float32"),
        ("onnx-int8", LAYERED_ID, "float32"),
        (None, f"{INT8_ID}:layers-2-4", "int8"),
    ],
)
def test_a_layered_artefact_gets_an_encoder_appending_the_same_layers(
    env: str | None,
    artefact_id: str,
    precision: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _choose(env, monkeypatch)
    encoder = configured_encoder(encoder_id=artefact_id)
    assert isinstance(encoder, OnnxEncoder)
    assert (encoder.layers, encoder.precision) == ((2, 4), precision)
    assert encoder.id == artefact_id


def test_the_default_memory_cache_is_bounded_in_bytes_not_rows() -> None:
    # a layered row is three times a plain one: the cache holds a third as many
    from dispatch.routing.features import MEMORY_CACHE_BYTES, default_encoder

    plain = default_encoder(disk_cache=False)
    layered = default_encoder(disk_cache=False, layers=(2, 4))
    assert plain.max_items == 50_000
    assert layered.max_items == MEMORY_CACHE_BYTES // (4 * 384 * 3)
    assert layered.id.endswith(":layers-2-4")


def test_a_model_folder_without_a_layer_count_cannot_append_layers(
    tmp_path: Path,
) -> None:
    # the layer range comes from the folder's config.json; without it the
    # error names the file instead of failing on first encode
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="layer count") as caught:
        SentenceTransformerEncoder(tmp_path, layers=(2,))
    assert "config.json" in str(caught.value)
    assert SentenceTransformerEncoder(tmp_path).layers == ()  # plain still fine
