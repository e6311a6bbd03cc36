"""The one-time ONNX exports of the installed MiniLM: fused float32, and int8.

Nothing downloads. On first use the sentence-transformers model folder that is
already installed is exported once with ``torch.onnx`` into a cache directory
(``$DISPATCH_CACHE_DIR/onnx`` or ``~/.cache/graph-dispatch/onnx``), keyed by the
model folder's content; later starts only load the file.

The export is fused by onnxruntime's transformer optimizer (one ``Attention``,
``SkipLayerNormalization`` and ``BiasGelu`` node per layer, one
``EmbedLayerNormalization``): 46 nodes instead of ~340 (~250 after
onnxruntime's own optimisations of the plain export). On a short prompt each
node's dispatch and its intermediate tensors cost as much as its arithmetic,
so fewer, fused nodes are cheaper. Fusion reorders float additions only;
vectors stay within ~3e-7 of the torch encoder's.

The int8 file is the fused graph with its weights quantised
(`export_int8`). For one short prompt a large part of MiniLM's time is fixed,
reading its ~42 MB of float32 transformer weights (4 tokens cost 4.9 ms, 16
tokens 9.0 ms here), so weights a quarter that size, which stay in the CPU's
cache, cut it by ~40 % (2.0 and 4.3 ms). Its
vectors are *not* the float ones (cosine ~0.99), which is why it is a separate
encoder with its own id (`dispatch.routing._onnx`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from dispatch.errors import ConfigError, DispatchError

__all__ = (
    "EXPORT_FORMAT",
    "INT8_FORMAT",
    "TAPS_FORMAT",
    "cache_dir",
    "check_cache_dir",
    "export_int8",
    "export_onnx",
    "export_taps",
    "layer_output",
)


def cache_dir() -> Path:
    """Where exported models and embedding caches live.

    ``$DISPATCH_CACHE_DIR`` when set (CI and sandboxes point it at a writable
    place), else ``~/.cache/graph-dispatch``. Read on every call, not at import.
    """
    root = os.environ.get("DISPATCH_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "graph-dispatch"


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

    Raises:
        DispatchError: the cache directory cannot be created (e.g.
            ``$DISPATCH_CACHE_DIR`` names a file); see `check_cache_dir`.
    """
    target = (target_dir or cache_dir() / "onnx") / (
        f"{model_path.name}-{_fingerprint(model_path)}-{EXPORT_FORMAT}.onnx"
    )
    if target.is_file():
        return target
    _made_dir(target.parent)
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


def check_cache_dir(directory: Path) -> None:
    """Refuse an export cache `directory` that can never be made, without making it.

    The nearest part of the path that exists must be a directory: a regular
    file there (``$DISPATCH_CACHE_DIR`` naming a file) fails every export.
    `OnnxEncoder` checks at construction, so such a setting is one error
    before anything else is built, not a warning from the embedding cache
    and then an error at the first prompt.

    It is an error, not a fallback to the torch encoder: the export is how
    the ONNX encoder exists at all, an int8 encoder (and the artefacts
    trained on it) has no torch twin, and a silent fallback would make every
    start seconds slower behind one warning. A `DispatchError`, not a
    `ConfigError`: a `ValueError` raised while a learned router probes its
    encoder would be reported as the artefact's fault.

    Raises:
        DispatchError: naming the directory and the file in its way.
    """
    for part in (directory, *directory.parents):
        if part.exists():
            if not part.is_dir():
                raise _cache_dir_error(directory, f"{part} is not a directory")
            return


def _made_dir(directory: Path) -> None:
    """Create the export's cache `directory` (and its parents).

    Raises:
        DispatchError: naming the directory and the OS's reason.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cache_dir_error(
            directory, f"{exc.filename or directory}: {exc.strerror or exc}"
        ) from None


def _cache_dir_error(directory: Path, why: str) -> DispatchError:
    """The one message for an export cache `directory` that cannot be made."""
    return DispatchError(
        f"cannot create the ONNX encoder's cache directory {directory} ({why}); "
        "point $DISPATCH_CACHE_DIR at a writable directory"
    )


def _export_plain(model_path: Path, out: Path) -> None:
    """``torch.onnx`` export of the BERT body, with eager attention.

    Eager, not SDPA: the transformer optimizer recognises the eager attention
    subgraph and fuses it; the SDPA export leaves ~40 small nodes per layer.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch  # noqa: PLC0415 - only needed for the one-time export
    from transformers import AutoModel  # noqa: PLC0415

    from dispatch.routing._st import quiet_model_loading  # noqa: PLC0415

    with quiet_model_loading():  # no "Loading weights" bar on the CLI's stderr
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


INT8_FORMAT = "q1"
"""The quantisation recipe's version: part of the int8 file's name *and* of the
int8 encoder's id, so changing the recipe (hence the vectors) can never reuse
an old file, a cached embedding or a trained artefact."""


def export_int8(model_path: Path, target_dir: Path | None = None) -> Path:
    """The fused export with int8 weights, quantised once and cached.

    Dynamic quantisation (onnxruntime's ``quantize_dynamic``): the weights of
    every ``MatMul`` and fused ``Attention`` node become uint8 with one scale
    per output channel; activations are quantised per call from their actual
    range. uint8 weights (not int8) because on AVX2 without VNNI onnxruntime's
    u8s8 kernel can saturate its 16-bit sums, which moved some vectors by a
    cosine of 0.04-0.2 here; u8u8 cannot. The embedding table stays float
    (a gather, not a product). Offline: needs only the ``onnx`` package
    (already a dependency of the fusion step).

    Args:
        model_path: the sentence-transformers folder.
        target_dir: where to cache the file; default ``cache_dir() / "onnx"``.

    Returns:
        The path of the int8 ``.onnx`` file (same inputs and output as
        `export_onnx`'s).

    Raises:
        ConfigError: the ``onnx`` package (or onnxruntime's quantisation
            tools) cannot be imported.
    """
    fused = export_onnx(model_path, target_dir)
    target = fused.with_name(f"{fused.stem}-int8{INT8_FORMAT}.onnx")
    if target.is_file():
        return target
    try:
        import onnx  # noqa: PLC0415 - only needed for the one-time quantisation
        from onnxruntime.quantization import (  # noqa: PLC0415
            QuantType,
            quantize_dynamic,
        )
    except ImportError as exc:
        raise ConfigError(
            f"the int8 encoder needs the onnx package to quantise once ({exc})",
            expected="pip install 'graph-dispatch[semantic]'",
        ) from exc
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    # the quantiser logs advice to the root logger: mute it for this one step
    muted = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                fused,
                tmp,
                op_types_to_quantize=["MatMul", "Attention"],
                per_channel=True,
                weight_type=QuantType.QUInt8,
                # the fused contrib nodes defeat ONNX shape inference; every
                # tensor the quantiser cannot type is float32
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        tmp.replace(target)
    finally:
        logging.disable(muted)
        tmp.unlink(missing_ok=True)
    return target


TAPS_FORMAT = "taps1"
"""Part of the tapped file's name: bump it when `export_taps` changes."""


def layer_output(layer: int) -> str:
    """The graph output `export_taps` adds for hidden state `layer` (HF numbering:
    0 is the embedding layer's output, ``k`` the output of transformer block ``k``)."""
    return f"hidden_state_{layer}"


def export_taps(model_path: Path, int8: bool = False) -> Path:
    """The fused (or int8) export with every intermediate hidden state as an output.

    The graph computes exactly what the base export computes; it only also
    returns the input of each fused ``Attention`` node of the float graph,
    which is the hidden state entering that transformer block: hidden state
    0 (the embeddings) for the first block, ``k`` for block ``k``. The
    quantiser keeps those tensors' names (layer normalisation is not
    quantised), so the int8 graph is tapped at the same names.
    `dispatch.routing._onnx` pools the ones it is asked for
    (`OnnxEncoder(layers=...)`). Cached beside the base file, written to a
    temporary name and renamed, offline.

    Raises:
        ConfigError: the ``onnx`` package cannot be imported, or the float
            export has no fused ``Attention`` nodes to tap (it was left
            unfused).
    """
    fused = export_onnx(model_path)
    base = export_int8(model_path) if int8 else fused
    target = base.with_name(f"{base.stem}-{TAPS_FORMAT}.onnx")
    if target.is_file():
        return target
    try:
        import onnx  # noqa: PLC0415 - only needed for the one-time rewrite
        from onnx import helper  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"layer features need the onnx package to rewrite the graph once ({exc})",
            expected="pip install 'graph-dispatch[semantic]'",
        ) from exc
    taps = [
        n.input[0]
        for n in onnx.load(str(fused), load_external_data=False).graph.node
        if n.op_type == "Attention"
    ]
    model = onnx.load(str(base))
    produced = {name for node in model.graph.node for name in node.output}
    if not taps or not set(taps) <= produced:
        raise ConfigError(
            "layer features need the fused ONNX graph (its Attention inputs were "
            "not found)",
            file=str(base),
        )
    for layer, tensor in enumerate(taps):
        name = layer_output(layer)
        model.graph.node.append(
            helper.make_node("Identity", [tensor], [name], name=f"tap_{layer}")
        )
        model.graph.output.append(
            helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        onnx.save(model, str(tmp))
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
