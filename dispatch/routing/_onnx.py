"""The fast `Encoder`: the installed MiniLM exported to ONNX, run by onnxruntime.

Nothing downloads. On first use the sentence-transformers model folder that is
already installed is exported once with ``torch.onnx`` into a cache directory
(``$DISPATCH_CACHE_DIR/onnx`` or ``~/.cache/graph-dispatch/onnx``), keyed by the
model folder's content; later starts only load the file. The tokenizer is the
model folder's own ``tokenizer.json`` (the Rust `tokenizers` package), and the
pooling (attention-masked mean, then L2 norm) is the one sentence-transformers
applies, so the vectors equal the torch encoder's to float32 rounding: the two
encoders share an id, a cache and trained artefacts.

The export is then fused by onnxruntime's transformer optimizer (one
``Attention``, ``SkipLayerNormalization`` and ``BiasGelu`` node per layer, one
``EmbedLayerNormalization``): 46 nodes instead of ~340 (~250 after
onnxruntime's own optimisations of the plain export). On a short prompt each
node's dispatch and its intermediate tensors cost as much as its arithmetic,
so fewer, fused nodes are cheaper. Fusion reorders float additions only;
vectors stay within ~3e-7 of the torch encoder's.

Why: one new prompt costs ~25 ms through sentence-transformers on two cores and
a few ms through onnxruntime, which is what makes an embedding router cheap
enough to sit in front of every hop.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.errors import ConfigError
from dispatch.routing._st import default_model_path
from dispatch.routing.encoder import Vectors

__all__ = (
    "DEFAULT_THREADS",
    "THREADS_ENV",
    "OnnxEncoder",
    "cache_dir",
    "export_onnx",
    "onnx_available",
)

DEFAULT_THREADS = 1
"""Intra-op threads per session: one.

A second thread splits each matrix product, which pays on an idle machine,
but every node then waits for the slower half: on two cores shared with other
work (measured here at load 10-12) one thread without spinning was the
fastest setting, 140 ms against 225 ms p50 for 128 tokens, and no slower for
17 tokens. `python -m bench.routing` prints both settings side by side;
``DISPATCH_ONNX_THREADS=2`` (or more) suits a machine with cores to spare."""

THREADS_ENV = "DISPATCH_ONNX_THREADS"
"""Overrides `DEFAULT_THREADS` for every encoder built without ``threads=``
(e.g. by `default_encoder`): more cores, more threads."""


def cache_dir() -> Path:
    """Where exported models and embedding caches live.

    ``$DISPATCH_CACHE_DIR`` when set (CI and sandboxes point it at a writable
    place), else ``~/.cache/graph-dispatch``. Read on every call, not at import.
    """
    root = os.environ.get("DISPATCH_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "graph-dispatch"


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
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_tokens: int | None = None,
        threads: int | None = None,
        spin: bool = False,
    ) -> None:
        """Check the folder now; export and load the session on first `encode`.

        Raises:
            ConfigError: the folder has no ``tokenizer.json``, or the thread
                count (argument or ``$DISPATCH_ONNX_THREADS``) is not a whole
                number of at least 1.
        """
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not (self.model_path / "tokenizer.json").is_file():
            raise ConfigError(
                "no tokenizer.json in the model folder", file=str(self.model_path)
            )
        self.threads = _threads(threads)
        self.max_tokens = max_tokens or _st_max_length(self.model_path)
        self.spin = spin
        self._session: Any = None
        self._tokenizer: Any = None
        self._types = False

    @property
    def id(self) -> str:
        """Same id as `SentenceTransformerEncoder` on the same folder: same vectors."""
        return f"st:{self.model_path.name}:{self.model_path.parent.name}"

    def _load(self) -> None:
        """Export (once, cached) and open the session and the tokenizer.

        Runs on first `encode`, so constructing an encoder (e.g. to read its
        `id`) never pays for the export or the session.
        """
        import onnxruntime as ort  # noqa: PLC0415 - optional dependency
        from tokenizers import Tokenizer  # noqa: PLC0415

        onnx_file = export_onnx(self.model_path)
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
        # The file pads to a fixed 128; pad a batch to its longest text only
        # (one text: no padding at all).
        pad = tokenizer.token_to_id("[PAD]")
        tokenizer.enable_padding(pad_id=pad or 0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._types = any(
            i.name == "token_type_ids" for i in self._session.get_inputs()
        )

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised float32 rows, one per text: ``(len(texts), 384)`` for MiniLM.

        Texts are padded to the batch's longest (truncated at `max_tokens`);
        the attention mask keeps padding out of the mean, as in
        sentence-transformers, so a text's vector does not depend on its batch.
        One text (the live hop) takes a shorter path: no padding, no mask
        arithmetic, and ``encode`` rather than the tokenizer's thread-pooled
        ``encode_batch``.
        """
        if self._session is None:
            self._load()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if len(texts) == 1:
            ids = np.array([self._tokenizer.encode(texts[0]).ids], dtype=np.int64)
            mask = np.ones_like(ids)
        else:
            encodings = self._tokenizer.encode_batch(list(texts))
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        if len(texts) == 1:
            pooled = hidden.mean(axis=1)
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(
                weights.sum(axis=1), 1e-9
            )
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(
            np.float32, copy=False
        )
        return vectors


def _threads(threads: int | None) -> int:
    """The argument, else ``$DISPATCH_ONNX_THREADS``, else `DEFAULT_THREADS`; checked."""
    where = "OnnxEncoder(threads=...)"
    found: object = threads
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if not raw:
            return DEFAULT_THREADS
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


def _fingerprint(model_path: Path) -> str:
    """A short key for the folder's content: config, tokenizer, weight sizes.

    Weights are keyed by name and size rather than hashed, so a start does
    not read ~90 MB of weights just to find the cached export.
    """
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json"):
        file = model_path / name
        if file.is_file():
            digest.update(file.read_bytes())
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(
        model_path.glob("*.bin")
    ):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:16]


EXPORT_FORMAT = "fused1"
"""Part of the cached file's name: bump it when the export changes, so an old
cache file is never mistaken for the current graph."""


def export_onnx(model_path: Path, target_dir: Path | None = None) -> Path:
    """The fused ONNX file of `model_path`'s transformer, exported once and cached.

    Uses torch (already installed for the fallback encoder) and the model files
    on disk; never the network. The file is written to a temporary name and
    renamed, so a crash never leaves a half-written model behind.

    Args:
        model_path: the sentence-transformers folder.
        target_dir: where to cache the file; default ``cache_dir() / "onnx"``.

    Returns:
        The path of the ``.onnx`` file (inputs ``input_ids``,
        ``attention_mask``, ``token_type_ids``; output ``last_hidden_state``;
        batch and token axes dynamic).
    """
    target = (target_dir or cache_dir() / "onnx") / (
        f"{model_path.name}-{_fingerprint(model_path)}-{EXPORT_FORMAT}.onnx"
    )
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    plain = target.with_suffix(f".plain{os.getpid()}")
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        _export_plain(model_path, plain)
        _fuse(plain, tmp, model_path)
        tmp.replace(target)
    finally:
        plain.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return target


def _export_plain(model_path: Path, out: Path) -> None:
    """``torch.onnx`` export of the BERT body, with eager attention.

    Eager, not SDPA: the transformer optimizer recognises the eager attention
    subgraph and fuses it; the SDPA export leaves ~40 small nodes per layer.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch  # noqa: PLC0415 - only needed for the one-time export
    from transformers import AutoModel  # noqa: PLC0415

    bert = AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager"
    )
    bert.eval()

    class _Hidden(torch.nn.Module):
        # Keyword call: the transformers forward's positional order varies by version.
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.bert(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state

    dummy = torch.ones((1, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about shape-dependent branches that dynamic axes cover.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "token_type_ids": {0: "batch", 1: "tokens"},
                "last_hidden_state": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )


def _fuse(plain: Path, out: Path, model_path: Path) -> None:
    """onnxruntime's BERT optimizer: attention, layer-norm and GELU fusion.

    Offline graph rewriting only (``opt_level=0``: the session applies its
    own optimisations at load). The fused operators compute the same float32
    arithmetic in another order, so vectors move by float rounding only (the
    integration test pins them to the torch encoder's).

    When the optimizer cannot run or does not recognise the graph (no
    ``onnx`` package, a folder that is not BERT-shaped, another transformers
    or onnxruntime version), the unfused graph is kept with a warning: it
    gives the same vectors, only slower (the integration test checks that
    the installed MiniLM is fused).
    """
    config = json.loads((model_path / "config.json").read_text("utf-8"))
    try:
        from onnxruntime.transformers.optimizer import (  # noqa: PLC0415
            optimize_model,
        )

        heads, width = config["num_attention_heads"], config["hidden_size"]
        layers = int(config["num_hidden_layers"])
    except (ImportError, KeyError) as exc:
        _unfused(plain, out, f"{type(exc).__name__}: {exc}")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = optimize_model(
            str(plain),
            model_type="bert",
            num_heads=int(heads),
            hidden_size=int(width),
            opt_level=0,
        )
    fused = model.get_fused_operator_statistics().get("Attention", 0)
    if fused != layers:
        _unfused(plain, out, f"fused {fused} of {layers} attention layers")
        return
    model.save_model_to_file(str(out))


def _unfused(plain: Path, out: Path, why: str) -> None:
    """Keep the plain export as the cached graph, and say so once (at export)."""
    warnings.warn(
        f"ONNX encoder left unfused ({why}): same vectors, more time per prompt",
        RuntimeWarning,
        stacklevel=4,
    )
    plain.replace(out)
