"""The fast `Encoder`: the installed MiniLM exported to ONNX, run by onnxruntime.

Nothing downloads. On first use the sentence-transformers model folder that is
already installed is exported once with ``torch.onnx`` into a cache directory
(``$DISPATCH_CACHE_DIR/onnx`` or ``~/.cache/graph-dispatch/onnx``), keyed by the
model folder's content; later starts only load the file. The tokenizer is the
model folder's own ``tokenizer.json`` (the Rust `tokenizers` package), and the
pooling (attention-masked mean, then L2 norm) is the one sentence-transformers
applies, so the vectors equal the torch encoder's to float32 rounding: the two
encoders share an id, a cache and trained artefacts.

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

__all__ = ("OnnxEncoder", "cache_dir", "onnx_available")


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
        threads: onnxruntime intra-op threads.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        max_tokens: int | None = None,
        threads: int = 2,
    ) -> None:
        """Check the folder now; export and load the session on first `encode`.

        Raises:
            ConfigError: the folder has no ``tokenizer.json``.
        """
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not (self.model_path / "tokenizer.json").is_file():
            raise ConfigError(
                "no tokenizer.json in the model folder", file=str(self.model_path)
            )
        self.max_tokens = max_tokens or _st_max_length(self.model_path)
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None

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
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self.max_tokens)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Normalised float32 rows, one per text: ``(len(texts), 384)`` for MiniLM.

        Texts are padded to the batch's longest (truncated at `max_tokens`);
        the attention mask keeps padding out of the mean, as in
        sentence-transformers, so a text's vector does not depend on its batch.
        """
        if self._session is None:
            self._load()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors


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


def export_onnx(model_path: Path, target_dir: Path | None = None) -> Path:
    """The ONNX file of `model_path`'s transformer, exported once and cached.

    Uses torch (already installed for the fallback encoder) and the model files
    on disk; never the network. The export is written to a temporary name and
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
        f"{model_path.name}-{_fingerprint(model_path)}.onnx"
    )
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch  # noqa: PLC0415 - only needed for the one-time export
    from transformers import AutoModel  # noqa: PLC0415

    bert = AutoModel.from_pretrained(str(model_path), local_files_only=True)
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

    model = _Hidden()
    dummy = torch.ones((1, 8), dtype=torch.long)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about shape-dependent branches that dynamic axes cover.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
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
    tmp.replace(target)
    return target
