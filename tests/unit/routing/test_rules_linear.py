"""The rules layer stays fast on huge prompts: linear patterns, bounded scan."""

from __future__ import annotations

import time

import pytest

from dispatch import Hop, RulesRouter

HUGE = {
    "no closing parenthesis": "f(" + "a" * 200_000,
    "digits": "1" * 200_000,
    "blank lines": "\n" * 200_000,
    "code": "def foo(x): return x+1\n" * 9_000,
    "mixed": "where is 3 + 4 (see docs) ; \n\n  " * 7_000,
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_a_200_kb_prompt_is_decided_in_milliseconds(name: str) -> None:
    router = RulesRouter()
    hop = Hop(specialist="s", prompt=HUGE[name])
    router.decide(hop)
    start = time.perf_counter()
    decision = router.decide(hop)
    elapsed = time.perf_counter() - start
    # 5 ms on an idle machine (bench.routing: ~2 ms); the slack absorbs a loaded CI box.
    assert elapsed < 0.05, f"{name}: {elapsed * 1e3:.1f} ms"
    assert decision.tier == "large"  # the length still counts


def test_the_length_signal_uses_the_whole_prompt() -> None:
    short = RulesRouter().decide(Hop(specialist="s", prompt="hello there"))
    assert short.tier == "small"
