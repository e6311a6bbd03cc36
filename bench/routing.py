"""Decision latency of one new prompt, encoder included: graph-dispatch's trained
capability router (MiniLM on onnxruntime) vs aurelio's `semantic-router`
(`IndexedRouter` on the same installed MiniLM), same prompts, same run; plus a
cache hit and the rules layer on a 200 KB prompt.

Run: ``python -m bench.routing [--n 150] [--rounds 1]`` (needs
``pip install 'graph-dispatch[bench]'``). Prompts: generated short ones, then
the real-user part of ``../shared/data/capabilities_dev.jsonl`` when present.

Like with like: both routers get the same prompts in the same order, warmed on
the same five extra prompts, and every timed prompt is new to both (neither
has seen it, so each embeds it). The two are timed alternately, prompt by
prompt, so a burst of load on this shared machine hits both. semantic-router
is given its best offline configuration for this model: its
`HuggingFaceEncoder` truncating at 256 tokens like sentence-transformers (its
default, 512, would make it slower on long prompts), and, as a second line,
our onnxruntime encoder behind its `DenseEncoder` interface, which isolates
the routers' own overhead from the encoders'. The issue's ratio target is
against the first (its own MiniLM encoder).

Our router is the production shape: a memory-only `CachedEncoder` (as
`load_learned_router` builds it: live hops write no disk cache) around
`OnnxEncoder` appending the hidden states a
trained artefact's capability head reads (`CAPABILITY_LAYERS`), a capability
head with lexical n-gram features, and the rules layer for the tier. It runs twice: on the
float32 encoder (the default; vectors equal torch's) and on the opt-in int8
encoder (``DISPATCH_ENCODER=onnx-int8``; its own head, trained on its own
vectors, as ``dispatch train`` would). Every ratio divides one of ours by one
of theirs, named on its line. A breakdown of where one decision's time goes,
each encoder alone at 1 and 2 onnxruntime threads (and the float32 one
without the appended layers), follows each comparison. A spaced comparison
(`SPACING` idle before each decision, as between a live graph's hops, which
wait for model calls) shows what a decision costs when no thread of either
router is still awake from the previous one: back to back, onnxruntime's
second thread is running when the next prompt comes; idle, it has to be woken.
The breakdown also times encoder plus head with the head's n-gram and
structural features computed on a side thread while the encoder runs
(production, `dispatch.routing.overlap`) against computing them after it.
The load average is printed first and last: on this shared 2-core machine it
decides the absolute figures, the ratios much less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from dispatch import Hop, RulesRouter
from dispatch.routing import CachedEncoder
from dispatch.routing._onnx import DEFAULT_THREADS, OnnxEncoder, Precision
from dispatch.routing._st import default_model_path
from dispatch.routing.classifier import CapabilityRouter
from dispatch.routing.encoder import base_width
from dispatch.routing.features import CAPABILITY_LAYERS, embed, router_text
from dispatch.routing.semantic import default_utterances
from dispatch.routing.train import fit_capability

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MAX_TOKENS = 256
"""sentence-transformers' truncation for MiniLM; both routers read this much."""
SPACING = 0.05
"""Idle seconds before each decision in the spaced comparison."""

Timed = Callable[[str], object]

_BESIDE = "encoder + head, text features beside (default)"
_AFTER = "encoder + head, text features after"


def _real_prompts(n: int) -> list[str]:
    """Real user prompts (alpaca/arena) from the shared data, or none."""
    path = DATA / "capabilities_dev.jsonl"
    if not path.is_file():
        return []
    from dispatch.routing.replay import read_replay

    rows = read_replay(path)
    return [r.prompt for r in rows if r.source.startswith(("alpacaeval", "arena"))][:n]


def _p(times: list[float], q: int) -> float:
    """The q-th percentile (1-99) of `times`."""
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


def _ours(examples: dict[str, list[str]], precision: Precision) -> CapabilityRouter:
    onnx = OnnxEncoder(precision=precision, layers=CAPABILITY_LAYERS)
    texts = [t for ts in examples.values() for t in ts]
    labels = [c for c, ts in examples.items() for _ in ts]
    head = fit_capability(embed(onnx, texts), labels, prompts=texts)
    return CapabilityRouter(CachedEncoder(onnx), head)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return (
        f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
    )


def _aurelio(examples: dict[str, list[str]], encoder: Any) -> Timed:
    from semantic_router import IndexedRouter, Route

    routes = [Route(name=c, utterances=list(ts)) for c, ts in examples.items()]
    router = IndexedRouter(encoder=encoder, routes=routes)
    return lambda p: router(p)


def _hf_encoder() -> Any:
    from semantic_router.encoders import HuggingFaceEncoder

    return HuggingFaceEncoder(  # type: ignore[no-untyped-call, unused-ignore]
        name=str(default_model_path()),
        device="cpu",
        tokenizer_kwargs={"model_max_length": MAX_TOKENS},
    )


def _onnx_dense(onnx: OnnxEncoder) -> Any:
    """Our encoder behind semantic-router's `DenseEncoder` interface."""
    from semantic_router.encoders import DenseEncoder

    class OnnxDense(DenseEncoder):  # type: ignore[misc, unused-ignore]
        def __call__(self, docs: list[Any]) -> list[list[float]]:
            vectors: list[list[float]] = onnx.encode(list(docs)).tolist()
            return vectors

    return OnnxDense(name="onnx-minilm")


def _interleaved(
    fns: dict[str, Timed], prompts: list[str], gap: float = 0.0
) -> dict[str, list[float]]:
    """Seconds per call of each function on each prompt, alternating the order;
    with `gap`, the machine idles that many seconds (untimed) before each call."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    for i, p in enumerate(prompts):
        for name in order if i % 2 == 0 else reversed(order):
            if gap:
                time.sleep(gap)
            start = time.perf_counter()
            fns[name](p)
            times[name].append(time.perf_counter() - start)
    return times


def _line(label: str, times: list[float], unit: float = 1e3, name: str = "ms") -> str:
    return (
        f"{label:<44}: p50 {_p(times, 50) * unit:7.2f} {name}"
        f"  p99 {_p(times, 99) * unit:7.2f} {name}"
    )


def _deciders(ours: dict[str, CapabilityRouter]) -> dict[str, Timed]:
    """One timed call per router: a decision on a hop carrying the prompt."""
    return {
        name: (lambda r: lambda p: r.decide(Hop(specialist="b", prompt=p)))(router)
        for name, router in ours.items()
    }


def _compare(
    title: str,
    prompts: list[str],
    ours: dict[str, CapabilityRouter],
    theirs: dict[str, Timed],
) -> None:
    deciders = _deciders(ours)
    for p in prompts[:5]:
        for fn in (*deciders.values(), *theirs.values()):
            fn(p + " (warm-up)")
    timed = prompts[5:]
    times = _interleaved({**deciders, **theirs}, timed)
    first = next(iter(deciders))
    hit = _interleaved({"hit": deciders[first]}, timed)["hit"]
    print(f"-- {title}: {len(timed)} prompts, each new to every router ({_load()})")
    for name in deciders:
        print(_line(f"graph-dispatch classifier, {name}", times[name]))
    for name in theirs:
        print(_line(f"semantic-router, {name}", times[name]))
    print(_line(f"graph-dispatch, same prompt again (hit, {first})", hit, 1e6, "µs"))
    for mine in deciders:
        for name in theirs:
            ratio = _p(times[mine], 50) / _p(times[name], 50)
            print(f"{f'ratio p50, {mine} / {name}':<44}: {ratio:.2f}")
    _breakdown(ours[first], first, timed)


def _spaced(
    prompts: list[str], ours: dict[str, CapabilityRouter], theirs: dict[str, Timed]
) -> None:
    """The same comparison with the machine idle between decisions, as between
    a live graph's hops (each waits for a model call): no thread of either
    router is still awake from the previous call."""
    deciders = {
        f"graph-dispatch classifier, {name}": fn for name, fn in _deciders(ours).items()
    }
    fns = {**deciders, **{f"semantic-router, {k}": v for k, v in theirs.items()}}
    for fn in fns.values():
        fn("spaced warm-up")
    times = _interleaved(fns, prompts, gap=SPACING)
    print(
        f"-- spaced: {len(prompts)} short prompts, {SPACING * 1e3:.0f} ms idle "
        f"before each decision ({_load()})"
    )
    for name, t in times.items():
        print(_line(name, t))
    torch = times["semantic-router, HF torch"]
    for name in deciders:
        ratio = _p(times[name], 50) / _p(torch, 50)
        label = f"ratio p50, {name.rsplit(', ', 1)[1]} / HF torch (spaced)"
        print(f"{label:<44}: {ratio:.2f}")


def _breakdown(ours: CapabilityRouter, precision: str, prompts: list[str]) -> None:
    """Where one decision goes: encoder (each precision, 1 and 2 threads),
    lexical features, tier rules, and the head's text features beside or
    after the encoder (`ours`'s head on an encoder of its `precision`)."""
    head = ours.head
    lexical, weights = head.lexical, head.lexical_weights
    parts: dict[str, Timed] = {}
    layered: dict[tuple[str, int], OnnxEncoder] = {}
    for each in ("float32", "int8"):
        for threads in (1, 2):
            encoder = OnnxEncoder(
                threads=threads, precision=each, layers=CAPABILITY_LAYERS
            )
            encoder.encode(["warm"])
            layered[each, threads] = encoder
            default = " (default)" if threads == DEFAULT_THREADS else ""
            name = f"encoder {each}, {threads} thread(s){default}"
            parts[name] = (lambda e: lambda p: e.encode([router_text(p)]))(encoder)
    plain = OnnxEncoder()
    plain.encode(["warm"])
    parts["encoder float32, no layers appended"] = lambda p: plain.encode(
        [router_text(p)]
    )
    parts["tier (rules layer)"] = lambda p: ours.tier_router.decide(
        Hop(specialist="b", prompt=p + " again")
    )
    if lexical is not None and weights is not None:
        parts["lexical n-gram features"] = lambda p: lexical.logits(p, weights)
    live = layered[precision, DEFAULT_THREADS]  # the encoder `ours` runs on
    parts[_BESIDE] = lambda p: head.predict_encoding(
        p, lambda: live.encode([router_text(p)])
    )
    parts[_AFTER] = lambda p: head.predict([p], live.encode([router_text(p)]))
    times = _interleaved(parts, prompts)
    for name, t in times.items():
        print(_line(f"  of which {name}", t))
    ratio = _p(times[_BESIDE], 50) / _p(times[_AFTER], 50)
    print(f"{'ratio p50, text features beside / after':<44}: {ratio:.2f}")


def _cosine(ours: dict[str, CapabilityRouter], prompts: list[str]) -> None:
    """How far the int8 vectors are from the float32 ones, as the router embeds."""
    texts = [router_text(p) for p in prompts]
    a, b = (_sentence(ours[k].encoder.encode(texts), ours[k].encoder.id)
            for k in ("float32", "int8"))  # fmt: skip
    cosine = np.sum(a * b, axis=1)
    print(
        f"{'int8 vs float32 sentence vectors, cosine':<44}: min {cosine.min():.4f}"
        f"  p1 {np.percentile(cosine, 1):.4f}  mean {cosine.mean():.4f}"
        f"  ({len(texts)} real prompts)"
    )


def _sentence(rows: Any, encoder_id: str) -> Any:
    """The sentence-vector columns of `rows` (without the appended layers)."""
    return rows[:, : base_width(encoder_id, rows.shape[1])]


def _padded(onnx: OnnxEncoder, texts: list[str]) -> Any:
    """The bulk path `OnnxEncoder.encode` replaced (the baseline): one padded
    batch, masked mean pooling, as sentence-transformers batches."""
    tokenizer = onnx._tokenizer
    tokenizer.enable_padding()
    try:
        encodings = tokenizer.encode_batch(texts)
    finally:
        tokenizer.no_padding()
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids}
    hidden = onnx._session.run(None, feeds)[0]
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def _bulk(onnx: OnnxEncoder, prompts: list[str], batch: int = 64) -> None:
    """Bulk embedding (``dispatch train``/``eval``): padded batches vs text by
    text, alternating batch by batch, on the same dev prompts."""
    texts = [router_text(p) for p in prompts]
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    times = _interleaved(
        {"padded": lambda i: _padded(onnx, chunks[int(i)]),
         "one by one": lambda i: onnx.encode(chunks[int(i)])},
        [str(i) for i in range(len(chunks))],
    )  # fmt: skip
    per = {k: sum(v) / len(texts) for k, v in times.items()}
    for name, seconds in per.items():
        print(f"{f'bulk embedding, {name} ({batch} per call)':<44}: "
              f"{seconds * 1e3:7.2f} ms per prompt")  # fmt: skip
    ratio = per["one by one"] / per["padded"]
    print(f"{'ratio, one by one / padded batches':<44}: {ratio:.2f}")


def main(argv: list[str] | None = None) -> None:
    """Print p50/p99 per decision for both routers and their ratio."""
    parser = argparse.ArgumentParser(prog="python -m bench.routing")
    parser.add_argument("--n", type=int, default=150, help="prompts per comparison")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the comparisons")
    args = parser.parse_args(argv)
    if args.n < 10 or args.rounds < 1:
        parser.error("--n must be at least 10 and --rounds at least 1")
    examples = default_utterances()
    print(f"python -m bench.routing --n {args.n}: {_load()}")
    ours = {
        "float32": _ours(examples, "float32"),
        "int8": _ours(examples, "int8"),
    }
    onnx = OnnxEncoder()  # the sentence vector alone, as semantic-router reads
    theirs = {
        "HF torch": _aurelio(examples, _hf_encoder()),
        "our onnx float32": _aurelio(examples, _onnx_dense(onnx)),
    }
    for r in range(args.rounds):
        short = [
            f"Where is the runbook page number {r}-{i} about the checkout SLO?"
            for i in range(args.n + 5)
        ]
        _compare("short prompts (~17 tokens)", short, ours, theirs)
        spaced = [f"Which team owns the billing queue {r}-{i}?" for i in range(40)]
        _spaced(spaced, ours, {"HF torch": theirs["HF torch"]})
        real = _real_prompts(args.n + 5)
        if real:
            real = [f"{p} (round {r})" if r else p for p in real]
            _compare("real user prompts (alpaca/arena)", real, ours, theirs)
            _cosine(ours, real)
            _bulk(onnx, _real_prompts(args.n + 5) + short[: args.n // 2])
    big = "def f(x):\n    return x  # " + "lorem ipsum (dolor " * 10_500
    rules = RulesRouter()
    t_big = _interleaved(
        {"rules": lambda p: rules.decide(Hop(specialist="b", prompt=p))}, [big] * 21
    )["rules"]
    print(_line(f"rules layer, {len(big) // 1000} KB prompt", t_big))
    print(f"end: {_load()}")


if __name__ == "__main__":
    main()
