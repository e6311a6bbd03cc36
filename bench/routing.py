"""Decision latency of one new prompt, encoder included: graph-dispatch's trained
capability router (MiniLM on onnxruntime) vs aurelio's `semantic-router`
(`IndexedRouter` + its `HuggingFaceEncoder` on the same installed MiniLM), same
prompts, same run; plus a cache hit and the rules layer on a 200 KB prompt.

Run: ``python -m bench.routing`` (needs ``pip install 'graph-dispatch[bench]'``).
Prompts: the real-user part of ``../shared/data/capabilities_dev.jsonl`` when
present, else generated ones. Every timed prompt is new to both routers.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dispatch import Hop, RulesRouter
from dispatch.routing import CachedEncoder
from dispatch.routing._onnx import OnnxEncoder
from dispatch.routing._st import default_model_path
from dispatch.routing.classifier import CapabilityRouter
from dispatch.routing.features import embed
from dispatch.routing.semantic import default_utterances
from dispatch.routing.train import fit_capability

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
N = 150


def _prompts() -> list[str]:
    path = DATA / "capabilities_dev.jsonl"
    if path.is_file():
        from dispatch.routing.replay import read_replay

        real = [
            r.prompt
            for r in read_replay(path)
            if r.source.startswith(("alpacaeval", "arena"))
        ]
        return real[:N]
    return []


def _times(fn: Callable[[str], object], prompts: list[str]) -> list[float]:
    out = []
    for p in prompts:
        start = time.perf_counter()
        fn(p)
        out.append(time.perf_counter() - start)
    return out


def _p(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100)[int(q) - 1] if q < 100 else max(times)


def _ours(examples: dict[str, list[str]]) -> CapabilityRouter:
    onnx = OnnxEncoder()
    texts = [t for ts in examples.values() for t in ts]
    labels = [c for c, ts in examples.items() for _ in ts]
    head = fit_capability(embed(onnx, texts), labels, prompts=texts)
    return CapabilityRouter(CachedEncoder(onnx), head)


def _aurelio(examples: dict[str, list[str]]) -> Callable[[str], object]:
    from semantic_router import IndexedRouter, Route
    from semantic_router.encoders import HuggingFaceEncoder

    encoder = HuggingFaceEncoder(name=str(default_model_path()), device="cpu")
    routes = [Route(name=c, utterances=list(ts)) for c, ts in examples.items()]
    router = IndexedRouter(encoder=encoder, routes=routes)
    return lambda p: router(p)


def _compare(
    name: str,
    prompts: list[str],
    ours: CapabilityRouter,
    theirs: Callable[[str], object],
) -> None:
    for p in prompts[:5]:
        ours.decide(Hop(specialist="b", prompt=p + " warm"))
        theirs(p + " warm")
    t_ours = _times(lambda p: ours.decide(Hop(specialist="b", prompt=p)), prompts)
    t_theirs = _times(theirs, prompts)
    t_hit = _times(lambda p: ours.decide(Hop(specialist="b", prompt=p)), prompts)
    ms = 1e3
    print(f"-- {name}: {len(prompts)} prompts, new to both routers")
    print(
        f"graph-dispatch classifier (onnx)         : p50 {_p(t_ours, 50) * ms:7.2f} ms"
        f"  p99 {_p(t_ours, 99) * ms:7.2f} ms"
    )
    print(
        f"semantic-router IndexedRouter (HF torch) : p50 {_p(t_theirs, 50) * ms:7.2f} ms"
        f"  p99 {_p(t_theirs, 99) * ms:7.2f} ms"
    )
    print(
        f"graph-dispatch, cache hit                : p50 {_p(t_hit, 50) * 1e6:7.1f} µs"
        f"  p99 {_p(t_hit, 99) * 1e6:7.1f} µs"
    )
    print(
        "ratio graph-dispatch / semantic-router   : "
        f"{_p(t_ours, 50) / _p(t_theirs, 50):.2f} (p50)"
    )


def main() -> None:
    """Print p50/p99 per decision for both routers and their ratio."""
    examples = default_utterances()
    ours = _ours(examples)
    theirs = _aurelio(examples)
    short = [
        f"Where is the runbook page number {i} about the checkout SLO?"
        for i in range(N)
    ]
    _compare("short prompts (~15 tokens)", short, ours, theirs)
    real = _prompts()
    if real:
        _compare(
            "real user prompts (alpaca/arena, up to 256 tokens)", real, ours, theirs
        )
    big = "def f(x):\n    return x  # " + "lorem ipsum (dolor " * 10_500
    rules = RulesRouter()
    t_big = _times(lambda p: rules.decide(Hop(specialist="b", prompt=p)), [big] * 20)
    print(
        f"rules layer, {len(big) // 1000} KB prompt: p50 {_p(t_big, 50) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
