"""Decision latency of one prompt: rules layer vs semantic layer (encoder included,
and on a cache hit), same run. Run: ``python -m bench.routing``."""

from __future__ import annotations

import statistics
import time

from dispatch import Hop, RulesRouter
from dispatch.routing import CachedEncoder, SemanticRouter
from dispatch.routing._st import SentenceTransformerEncoder
from dispatch.routing.semantic import default_utterances

PROMPTS = [
    f"Where is the runbook page number {i} about the checkout SLO?" for i in range(60)
]


def _p50_ms(fn: object, prompts: list[str]) -> float:
    times = []
    for p in prompts:
        start = time.perf_counter()
        fn(Hop(specialist="b", prompt=p))  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    """Print p50 latency per decision for each layer."""
    rules = RulesRouter()
    semantic = SemanticRouter(
        CachedEncoder(SentenceTransformerEncoder()), default_utterances()
    )
    semantic.decide(Hop(specialist="b", prompt="warm up"))
    r = _p50_ms(rules.decide, PROMPTS)
    miss = _p50_ms(semantic.decide, PROMPTS)
    hit = _p50_ms(semantic.decide, PROMPTS)
    print(f"rules layer, one prompt                 : {r:.3f} ms (p50)")
    print(f"semantic layer, torch encoder, new text : {miss:.3f} ms (p50)")
    print(f"semantic layer, cache hit               : {hit * 1000:.1f} µs (p50)")
    print(f"ratio semantic (new text) / rules       : {miss / r:.0f}x")


if __name__ == "__main__":
    main()
