"""The fast `Encoder`: the installed MiniLM exported to ONNX, run by onnxruntime.

The export (once, cached, offline) lives in `dispatch.routing._onnx_export`.
The tokenizer is the model folder's own ``tokenizer.json`` (the Rust
`tokenizers` package), and the pooling (attention-masked mean, then L2 norm)
is the one sentence-transformers applies, so the float32 encoder's vectors
equal the torch encoder's to float32 rounding: the two share an id, a cache
and trained artefacts.

Two precisions, two encoders. ``float32`` (the default) is the fused export.
``int8`` runs the same graph with quantised weights: ~40 % less encoder time
per short prompt, but vectors that differ (cosine ~0.99 to the float ones), so it
has its own id (``...:onnx-int8-q1``): the embedding cache keys rows by id and
an artefact refuses an encoder whose id is not the one it was trained with,
so float and int8 vectors never meet. `configured_encoder` chooses between
them and the torch fallback from ``$DISPATCH_ENCODER`` (or from the id a
trained artefact names).

Why: one new prompt costs ~25 ms through sentence-transformers on two cores and
a few ms through onnxruntime, which is what makes an embedding router cheap
enough to sit in front of every hop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing._onnx_export import (
    INT8_FORMAT,
    cache_dir,
    check_cache_dir,
    export_int8,
    export_onnx,
    export_taps,
    layer_output,
)
from dispatch.routing._st import (
    SentenceTransformerEncoder,
    checked_layers,
    default_model_path,
)
from dispatch.routing.encoder import Encoder, Vectors, layers_suffix, split_layers
from dispatch.routing.text import well_formed

__all__ = (
    "DEFAULT_THREADS",
    "ENCODER_ENV",
    "THREADS_ENV",
    "EncoderChoice",
    "OnnxEncoder",
    "Precision",
    "cache_dir",
    "configured_encoder",
    "export_int8",
    "export_onnx",
    "onnx_available",
)

Precision = Literal["float32", "int8"]
"""The ONNX encoder's weights: the fused float32 export, or it quantised."""

EncoderChoice = Literal["auto", "onnx", "onnx-int8", "torch"]
"""Values of ``$DISPATCH_ENCODER`` (see `configured_encoder`)."""

ENCODER_ENV = "DISPATCH_ENCODER"
"""Chooses the encoder `configured_encoder` (hence `default_encoder`, and so
``dispatch train``/``eval``/``route``) builds: ``auto`` (default: ``onnx`` when
onnxruntime is installed, else ``torch``), ``onnx``, ``onnx-int8`` or
``torch``."""

DEFAULT_THREADS = 2
"""Intra-op threads per session: two, or the machine's cores if fewer.

Measured with `python -m bench.routing` and interleaved session timings on
this 2-core machine, one new ~17-token prompt, p50 (README, "Decision
latency"): idle (load 0.6-1), the second thread cuts the encoder from 9.5 to
6.6 ms (float32) and from 5.6 to 3.9 ms (int8); with two busy processes
beside it (load ~3) it costs -7 % (int8) to +10 % (float32); with the other
engineers' test runs (load 3.5-6) +4 to +7 %. Only a machine loaded far past
its cores (load 10-12) made one thread clearly better (140 against 225 ms
for 128 tokens): set ``DISPATCH_ONNX_THREADS=1`` there, or more on a machine
with cores to spare."""

THREADS_ENV = "DISPATCH_ONNX_THREADS"
"""Overrides `DEFAULT_THREADS` for every encoder built without ``threads=``
(e.g. by `default_encoder`): more cores, more threads."""


def onnx_available() -> bool:
    """True when onnxruntime and tokenizers are importable.

    Checked by import rather than by metadata, so a broken install counts as
    absent and `default_encoder` falls back to sentence-transformers. The
    one-time export also needs torch and transformers, which the fallback
    encoder installs anyway.
    """
    try:
        import onnxruntime  # noqa: F401, PLC0415
        import tokenizers  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


class OnnxEncoder:
    """MiniLM (or any BERT-style sentence-transformers folder) on onnxruntime.

    Args:
        model_path: the sentence-transformers folder (default: the installed
            all-MiniLM-L6-v2).
        max_tokens: truncation length; sentence-transformers' own
            ``max_seq_length`` (256 for MiniLM) keeps vectors identical.
        threads: onnxruntime intra-op threads; default ``$DISPATCH_ONNX_THREADS``
            or `DEFAULT_THREADS` (see there for why).
        spin: let idle intra-op threads busy-wait for the next node. Faster
            on an idle machine, but a spinning thread steals a core from
            every other process on a loaded one; off by default.
        precision: ``float32`` (vectors equal torch's) or ``int8`` (quantised
            weights: faster, other vectors, other id; see the module
            docstring).
        layers: intermediate hidden states (HF numbering, 0 = embeddings,
            ``k`` = after block ``k``) to append to each row, each mean-pooled
            and L2-normalised like the final one: a row is then ``[final,
            layer ..]``, ``384 * (1 + len(layers))`` wide, and its first 384
            columns are exactly the plain encoder's vector. Same run, so the
            same time per prompt; another id (``...:layers-2-4``). See
            `dispatch.routing.features.CAPABILITY_LAYERS` for why the capability head reads them.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_tokens: int | None = None,
        threads: int | None = None,
        spin: bool = False,
        precision: Precision = "float32",
        layers: Sequence[int] = (),
    ) -> None:
        """Check the folder now; export and load the session on first `encode`.

        Raises:
            ConfigError: the folder has no ``tokenizer.json``, the thread
                count (argument or ``$DISPATCH_ONNX_THREADS``) is not a whole
                number of at least 1, or the precision is unknown.
            DispatchError: the export's cache directory can never be made
                (``$DISPATCH_CACHE_DIR`` names a file; `check_cache_dir`).
        """
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not (self.model_path / "tokenizer.json").is_file():
            raise ConfigError(
                "no tokenizer.json in the model folder", file=str(self.model_path)
            )
        check_cache_dir(cache_dir() / "onnx")
        self.threads = _threads(threads)
        self.max_tokens = max_tokens or _st_max_length(self.model_path)
        self.spin = spin
        if precision not in get_args(Precision):
            raise ConfigError(
                "unknown ONNX encoder precision",
                path="OnnxEncoder(precision=...)",
                found=precision,
                expected=" or ".join(get_args(Precision)),
            )
        self.precision: Precision = precision
        self.layers = checked_layers(layers, self.model_path, "OnnxEncoder(layers=...)")
        self._outputs = ["last_hidden_state", *(layer_output(k) for k in self.layers)]
        self._session: Any = None
        self._tokenizer: Any = None
        self._types = False

    @property
    def id(self) -> str:
        """float32: `SentenceTransformerEncoder`'s id on the same folder (same
        vectors); int8: that id plus ``:onnx-int8-<recipe version>``."""
        base = f"st:{self.model_path.name}:{self.model_path.parent.name}"
        if self.precision == "int8":
            base = f"{base}:{_INT8_SUFFIX}"
        return base + layers_suffix(self.layers)

    def _load(self) -> None:
        """Export (once, cached) and open the session and the tokenizer.

        Runs on first `encode`, so constructing an encoder (e.g. to read its
        `id`) never pays for the export or the session.
        """
        import onnxruntime as ort  # noqa: PLC0415 - optional dependency
        from tokenizers import Tokenizer  # noqa: PLC0415

        int8 = self.precision == "int8"
        if self.layers:
            onnx_file = export_taps(self.model_path, int8=int8)
        else:
            onnx_file = (export_int8 if int8 else export_onnx)(self.model_path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        spin = "1" if self.spin else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        options.add_session_config_entry("session.inter_op.allow_spinning", spin)
        self._session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self.max_tokens)
        # The file pads to a fixed 128; texts are run one by one, unpadded.
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._types = any(
            i.name == "token_type_ids" for i in self._session.get_inputs()
        )

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised float32 rows, one per text: ``(len(texts), 384)`` for MiniLM.

        Each text is run on its own, at its own length (truncated at
        `max_tokens`): no padding, no mask, and the mean over its tokens, as
        sentence-transformers pools. Why not padded batches: on two cores a
        batch of 64 mixed dev prompts padded to its longest cost ~100 ms per
        prompt against ~21 ms one by one (sorted batches of 8: ~27 ms), the
        padding's arithmetic outweighing what batching saves; and the int8
        encoder quantises activations with one range per call, so a batch
        neighbour would move a text's vector (cosine down to 0.987), while a
        cached or trained-on vector must be the one the live hop computes.
        """
        if self._session is None:
            self._load()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate([self._one(text) for text in texts])

    def _one(self, text: str) -> Vectors:
        """One text's ``(1, dim)`` row: tokenize, run, mean-pool, L2-normalise."""
        ids = np.array([self._tokenizer.encode(well_formed(text)).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if self._types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        states = self._session.run(self._outputs, feeds)  # each (1, tokens, dim)
        # [final, layer ..]: each state's mean over the tokens, normalised on its own
        pooled = np.concatenate(states).mean(axis=1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: Vectors = (
            (pooled / np.maximum(norms, 1e-12))
            .reshape(1, -1)
            .astype(np.float32, copy=False)
        )
        return vectors


_INT8_SUFFIX = f"onnx-int8-{INT8_FORMAT}"
"""What the int8 encoder's id adds to the float id."""


def configured_encoder(
    choice: str | None = None,
    *,
    encoder_id: str | None = None,
    layers: Sequence[int] = (),
) -> Encoder:
    """The encoder a deployment asked for, uncached (callers wrap it).

    `choice`, else ``$DISPATCH_ENCODER``, else ``auto``; but `encoder_id` (the
    id a trained artefact records) overrides a choice of the other precision:
    an artefact trained on int8 vectors gets the int8 encoder whatever the
    environment says, and a float artefact a float one, because no other
    encoder can serve it. The id's ``:layers-..`` suffix, if any, sets the
    appended hidden states (else `layers` does).

    Args:
        choice: one of `EncoderChoice`.
        encoder_id: the id the returned encoder must have, if known.
        layers: hidden states to append to each vector (see `OnnxEncoder`).

    Raises:
        ConfigError: the choice is unknown, or ``onnx``/``onnx-int8`` was asked
            for without onnxruntime installed.
    """
    where = "configured_encoder(choice=...)"
    if choice is None:
        where, choice = ENCODER_ENV, os.environ.get(ENCODER_ENV, "").strip() or "auto"
    if encoder_id is not None:
        encoder_id, layers = split_layers(encoder_id)
        int8 = encoder_id.endswith(f":{_INT8_SUFFIX}")
        if int8 != (choice == "onnx-int8"):
            where, choice = "the artefact's encoder id", "onnx-int8" if int8 else "auto"
    if choice not in get_args(EncoderChoice):
        raise ConfigError(
            "unknown encoder",
            path=where,
            found=choice,
            expected=" | ".join(get_args(EncoderChoice)),
        )
    if choice == "torch" or (choice == "auto" and not onnx_available()):
        return SentenceTransformerEncoder(layers=layers)
    if not onnx_available():
        raise ConfigError(
            f"the {choice} encoder needs onnxruntime and tokenizers",
            path=where,
            found=choice,
            expected="pip install 'graph-dispatch[semantic]'",
        )
    precision: Precision = "int8" if choice == "onnx-int8" else "float32"
    return OnnxEncoder(precision=precision, layers=layers)


def _threads(threads: int | None) -> int:
    """The argument, else ``$DISPATCH_ONNX_THREADS``, else `DEFAULT_THREADS`
    (capped at the cores); checked."""
    where = "OnnxEncoder(threads=...)"
    found: object = threads
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if not raw:
            return min(DEFAULT_THREADS, os.cpu_count() or 1)
        where, found = THREADS_ENV, raw
        try:
            threads = int(raw)
        except ValueError:
            threads = 0
    if threads < 1:
        raise ConfigError(
            "onnxruntime needs a whole number of threads, at least 1",
            path=where,
            found=found,
            expected="1, 2, ...",
        )
    return threads


def _st_max_length(model_path: Path) -> int:
    """sentence-transformers' ``max_seq_length`` for the folder (default 256).

    Truncating at the same length is what makes both encoders' vectors equal.
    """
    config = model_path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text("utf-8")).get("max_seq_length", 256))
    return 256
