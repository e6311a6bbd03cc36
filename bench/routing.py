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

Our router is the production shape: `CachedEncoder` with its SQLite file (in a
temporary directory) around `OnnxEncoder`, a capability head with lexical
n-gram features, and the rules layer for the tier. A breakdown of where one
decision's time goes, and the encoder alone at 1 and 2 onnxruntime threads,
follow each comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dispatch import Hop, RulesRouter
from dispatch.routing import CachedEncoder
from dispatch.routing._onnx import DEFAULT_THREADS, OnnxEncoder
from dispatch.routing._st import default_model_path
from dispatch.routing.classifier import CapabilityRouter
from dispatch.routing.features import embed, router_text
from dispatch.routing.semantic import default_utterances
from dispatch.routing.train import fit_capability

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MAX_TOKENS = 256
"""sentence-transformers' truncation for MiniLM; both routers read this much."""

Timed = Callable[[str], object]


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


def _ours(examples: dict[str, list[str]], cache: Path) -> CapabilityRouter:
    onnx = OnnxEncoder()
    texts = [t for ts in examples.values() for t in ts]
    labels = [c for c, ts in examples.items() for _ in ts]
    head = fit_capability(embed(onnx, texts), labels, prompts=texts)
    return CapabilityRouter(CachedEncoder(onnx, path=cache / "emb.sqlite"), head)


def _aurelio(examples: dict[str, list[str]], encoder: Any) -> Timed:
    from semantic_router import IndexedRouter, Route

    routes = [Route(name=c, utterances=list(ts)) for c, ts in examples.items()]
    router = IndexedRouter(encoder=encoder, routes=routes)
    return lambda p: router(p)


def _hf_encoder() -> Any:
    from semantic_router.encoders import HuggingFaceEncoder

    return HuggingFaceEncoder(
        name=str(default_model_path()),
        device="cpu",
        tokenizer_kwargs={"model_max_length": MAX_TOKENS},
    )


def _onnx_dense(onnx: OnnxEncoder) -> Any:
    """Our encoder behind semantic-router's `DenseEncoder` interface."""
    from semantic_router.encoders import DenseEncoder

    class OnnxDense(DenseEncoder):  # type: ignore[misc]
        def __call__(self, docs: list[Any]) -> list[list[float]]:
            vectors: list[list[float]] = onnx.encode(list(docs)).tolist()
            return vectors

    return OnnxDense(name="onnx-minilm")


def _interleaved(fns: dict[str, Timed], prompts: list[str]) -> dict[str, list[float]]:
    """Seconds per call of each function on each prompt, alternating the order."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    for i, p in enumerate(prompts):
        for name in order if i % 2 == 0 else reversed(order):
            start = time.perf_counter()
            fns[name](p)
            times[name].append(time.perf_counter() - start)
    return times


def _line(label: str, times: list[float], unit: float = 1e3, name: str = "ms") -> str:
    return (
        f"{label:<44}: p50 {_p(times, 50) * unit:7.2f} {name}"
        f"  p99 {_p(times, 99) * unit:7.2f} {name}"
    )


def _compare(
    title: str, prompts: list[str], ours: CapabilityRouter, theirs: dict[str, Timed]
) -> None:
    decide: Timed = lambda p: ours.decide(Hop(specialist="b", prompt=p))  # noqa: E731
    for p in prompts[:5]:
        for fn in (decide, *theirs.values()):
            fn(p + " (warm-up)")
    timed = prompts[5:]
    times = _interleaved({"ours": decide, **theirs}, timed)
    hit = _interleaved({"hit": decide}, timed)["hit"]
    print(f"-- {title}: {len(timed)} prompts, each new to every router")
    print(_line("graph-dispatch classifier (onnx)", times["ours"]))
    for name in theirs:
        print(_line(f"semantic-router, {name}", times[name]))
    print(_line("graph-dispatch, same prompt again (hit)", hit, 1e6, "µs"))
    for name in theirs:
        ratio = _p(times["ours"], 50) / _p(times[name], 50)
        print(f"{'ratio p50 vs ' + name:<44}: {ratio:.2f}")
    _breakdown(ours, timed)


def _breakdown(ours: CapabilityRouter, prompts: list[str]) -> None:
    """Where one decision goes: encoder, lexical features, tier rules."""
    head = ours.head
    lexical, weights = head.lexical, head.lexical_weights
    one, two = OnnxEncoder(threads=1), OnnxEncoder(threads=2)
    one.encode(["warm"]), two.encode(["warm"])
    default = f"(default: {DEFAULT_THREADS})"
    parts: dict[str, Timed] = {
        f"encoder, 1 onnxruntime thread {default}": lambda p: one.encode(
            [router_text(p)]
        ),
        "encoder, 2 onnxruntime threads": lambda p: two.encode([router_text(p)]),
        "tier (rules layer)": lambda p: ours.tier_router.decide(
            Hop(specialist="b", prompt=p + " again")
        ),
    }
    if lexical is not None and weights is not None:
        parts["lexical n-gram features"] = lambda p: lexical.logits(p, weights)
    times = _interleaved(parts, prompts)
    for name, t in times.items():
        print(_line(f"  of which {name}", t))


def main(argv: list[str] | None = None) -> None:
    """Print p50/p99 per decision for both routers and their ratio."""
    parser = argparse.ArgumentParser(prog="python -m bench.routing")
    parser.add_argument("--n", type=int, default=150, help="prompts per comparison")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the comparisons")
    args = parser.parse_args(argv)
    if args.n < 10 or args.rounds < 1:
        parser.error("--n must be at least 10 and --rounds at least 1")
    examples = default_utterances()
    with tempfile.TemporaryDirectory() as tmp:
        ours = _ours(examples, Path(tmp))
        onnx = ours.encoder.encoder if isinstance(ours.encoder, CachedEncoder) else None
        assert isinstance(onnx, OnnxEncoder)
        theirs = {
            "HF torch encoder": _aurelio(examples, _hf_encoder()),
            "our onnx encoder": _aurelio(examples, _onnx_dense(onnx)),
        }
        for r in range(args.rounds):
            short = [
                f"Where is the runbook page number {r}-{i} about the checkout SLO?"
                for i in range(args.n + 5)
            ]
            _compare("short prompts (~17 tokens)", short, ours, theirs)
            real = _real_prompts(args.n + 5)
            if real:
                real = [f"{p} (round {r})" if r else p for p in real]
                _compare("real user prompts (alpaca/arena)", real, ours, theirs)
    big = "def f(x):\n    return x  # " + "lorem ipsum (dolor " * 10_500
    rules = RulesRouter()
    t_big = _interleaved(
        {"rules": lambda p: rules.decide(Hop(specialist="b", prompt=p))}, [big] * 21
    )["rules"]
    print(_line(f"rules layer, {len(big) // 1000} KB prompt", t_big))


if __name__ == "__main__":
    main()
