"""Calibrate the shipped hybrid's one threshold: when do the rules answer, and
when does the semantic layer (MiniLM on the built-in utterances) decide?

The stack is the one ``dispatch route --router hybrid`` builds (`cli_router`):
rules first, and their decision stands when its confidence is at least the
threshold. On ``../shared/data/capabilities_dev.jsonl`` the script routes every
prompt through both layers once, sweeps the threshold, and chooses it on one
half (sha1 of the id) and scores it on the other, both ways, so the threshold
shipped in `dispatch.cli.routers.HYBRID_THRESHOLD` is a measurement, not a guess.

Run: ``python -m bench.hybrid_threshold`` (needs the ``semantic`` extra).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.progress import Progress

from dispatch.cli.options import RouterChoice
from dispatch.cli.routers import HYBRID_THRESHOLD, cli_router
from dispatch.eval.metrics import per_class_scores
from dispatch.registry import Registry
from dispatch.routing.hybrid import HybridRouter
from dispatch.routing.replay import ReplayRecord, read_replay
from dispatch.types import Hop

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
REAL_USERS = ("alpacaeval", "arena")


def _macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return per_class_scores(truth, predicted)[1]


def _choose(
    rules: Sequence[tuple[str, float]],
    semantic: Sequence[str],
    truth: Sequence[str],
    thresholds: Sequence[float],
) -> float:
    """The threshold with the best macro-F1 (the lowest of equals)."""
    best_t, best = thresholds[-1], -1.0
    for t in thresholds:
        predicted = [
            r if c >= t else s for (r, c), s in zip(rules, semantic, strict=True)
        ]
        score = _macro_f1(truth, predicted)
        if score > best:
            best_t, best = t, score
    return best_t


def _score(
    records: Sequence[ReplayRecord],
    rules: Sequence[tuple[str, float]],
    semantic: Sequence[str],
    t: float,
) -> str:
    truth = [str(r.capability) for r in records]
    predicted = [r if c >= t else s for (r, c), s in zip(rules, semantic, strict=True)]
    acc = sum(p == y for p, y in zip(predicted, truth, strict=True)) / len(truth)
    real = [i for i, r in enumerate(records) if r.source.startswith(REAL_USERS)]
    real_acc = sum(predicted[i] == truth[i] for i in real) / max(1, len(real))
    return (
        f"accuracy {acc:.3f}, macro-F1 {_macro_f1(truth, predicted):.3f}, "
        f"real users {real_acc:.3f} (n={len(real)})"
    )


def main() -> int:
    """Print the sweep, the threshold each half chooses and its held-out score."""
    path = DATA / "capabilities_dev.jsonl"
    if not path.is_file():
        print(f"{path} is missing (the shared benchmark data)", file=sys.stderr)
        return 2
    records = list(read_replay(path, need_capability=True))
    router = cli_router(RouterChoice.HYBRID, Registry.from_config())
    assert isinstance(router, HybridRouter)
    rules_layer, semantic_layer = router.layers
    rules: list[tuple[str, float]] = []
    semantic: list[str] = []
    with Progress() as bar:
        task = bar.add_task("routing the dev prompts", total=len(records))
        for r in records:
            hop = Hop(specialist="eval", prompt=r.prompt)
            d = rules_layer.decide(hop)
            rules.append((d.capability, d.confidence))
            semantic.append(semantic_layer.decide(hop).capability)
            bar.advance(task)
    thresholds = sorted({c for _, c in rules} | {1.01})
    half = [int(hashlib.sha1(r.id.encode()).hexdigest(), 16) % 2 == 0 for r in records]

    def part(flag: bool) -> list[int]:
        return [i for i, h in enumerate(half) if h is flag]

    print(f"{len(records)} prompts; rules alone, semantic alone, then the sweep:")
    print(f"  rules only       : {_score(records, rules, semantic, 0.0)}")
    print(f"  semantic only    : {_score(records, rules, semantic, 1.01)}")
    for t in thresholds:
        print(f"  threshold {t:5.3f}  : {_score(records, rules, semantic, t)}")
    for name, fit, held in (("A", True, False), ("B", False, True)):
        fi, hi = part(fit), part(held)
        t = _choose(
            [rules[i] for i in fi],
            [semantic[i] for i in fi],
            [str(records[i].capability) for i in fi],
            thresholds,
        )
        score = _score(
            [records[i] for i in hi],
            [rules[i] for i in hi],
            [semantic[i] for i in hi],
            t,
        )
        print(f"chosen on half {name}: {t:.3f}; held-out half: {score}")
    print(f"shipped HYBRID_THRESHOLD = {HYBRID_THRESHOLD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
