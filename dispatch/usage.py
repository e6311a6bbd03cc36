"""A provider's reported usage is input: check it before it is billed.

Providers report token counts in ``usage_metadata``; graph-dispatch bills them
exactly. A count that is negative, not a number, or more than the model can
have processed would corrupt the ledger (a negative cost refunds the budget; a
huge one blows through a hard limit), so each count is checked first:

* not a non-negative integer (``-5``, ``"lots"``, NaN), or impossible: input
  above the model's context window or far above what was sent (`INPUT_SLACK`
  times its conservative estimate, and at least `INPUT_SLACK_TOKENS` more: a
  provider cannot have read much more than it was given), output above the
  model's output limit. A count that cannot be true says nothing, so it is
  replaced by graph-dispatch's own bound: the input estimate that was reserved,
  and the call's output cap. The hop is billed what was reserved, no more;
* output above the hop's cap but within the model's limit is kept: it is real
  spend (a provider that ignored the cap), and the ledger's overrun rule closes
  a hard budget after it.

* the prompt-cache details (``input_token_details.cache_read`` /
  ``cache_creation``) are parts of the input: each must be a count, and
  together no more than the input. An impossible split is dropped and every
  input token billed at the dearer of the input and cache-write rates.

What was wrong is returned as text for the hop record (`usage_anomaly`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from langchain_core.messages import BaseMessage

from dispatch.cost import estimate_message_tokens
from dispatch.types import ModelChoice, ModelSpec, Usage

__all__ = ("INPUT_SLACK", "INPUT_SLACK_TOKENS", "checked_usage")

INPUT_SLACK = 3
"""How far reported input may exceed the conservative estimate of what was sent
before it is treated as impossible (the estimate is under the real count for
about 5 % of texts, by at most ~2x, e.g. Armenian in cl100k)..."""
INPUT_SLACK_TOKENS = 4096
"""...and by at least this many tokens: content the text estimate cannot see
(an image, a provider's own framing) is real input, not an anomaly."""


def checked_usage(
    usage: Usage,
    choice: ModelChoice,
    request: Sequence[BaseMessage],
    *,
    sent_tokens: int = 0,
) -> tuple[Usage, str | None]:
    """`usage` made safe to bill, and what was wrong with it (None if nothing)."""
    problems: list[str] = []
    spec = choice.model

    def count(value: object, fallback: int, limit: int, what: str, bound: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{what} {value!r} is not a number")
            return fallback
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{what} {value!r} is not finite")
            return fallback
        n = math.ceil(value)
        if n < 0:
            problems.append(f"{what} {n} is negative")
            return fallback
        if n > limit:
            problems.append(f"{what} {n} exceeds {bound} {limit}")
            return fallback
        return n

    limit_in, bound_in = spec.context_window, "the model's limit"
    sent_bound = max(INPUT_SLACK * sent_tokens, sent_tokens + INPUT_SLACK_TOKENS)
    if 0 < sent_tokens and sent_bound < limit_in:
        limit_in, bound_in = sent_bound, "the bound of what was sent,"
    tokens_in = count(usage.input_tokens, -1, limit_in, "input", bound_in)
    input_reported = tokens_in >= 0
    if not input_reported:  # replaced by our own estimate of what was sent
        tokens_in = min(
            spec.context_window, sent_tokens or estimate_message_tokens(request)
        )
    tokens_out = count(
        usage.output_tokens,
        choice.max_output_tokens,
        spec.max_output_tokens,
        "output",
        "the model's limit",
    )
    cache_read, cache_write = 0, 0
    if input_reported and (usage.cache_read_tokens or usage.cache_write_tokens):
        cache_read, cache_write = _cache_split(usage, spec, tokens_in, count, problems)
    checked = Usage(
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        estimated=usage.estimated or bool(problems),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
    return checked, "; ".join(problems) or None


def _cache_split(
    usage: Usage,
    spec: ModelSpec,
    tokens_in: int,
    count: Callable[[object, int, int, str, str], int],
    problems: list[str],
) -> tuple[int, int]:
    """The (cache read, cache write) parts of `tokens_in`, or the conservative
    split when what was reported cannot be true."""
    before = len(problems)
    read = count(usage.cache_read_tokens, 0, tokens_in, "cache read", "input")
    write = count(usage.cache_write_tokens, 0, tokens_in, "cache creation", "input")
    if len(problems) == before and read + write > tokens_in:
        problems.append(
            f"cache read {read} + cache creation {write} exceed input {tokens_in}"
        )
    if len(problems) == before:
        return read, write
    # An impossible split says nothing about which tokens were cached: bill
    # every input token at the dearer of the input and cache-write rates.
    if spec.cache_write_rate > spec.input_per_mtok:
        return 0, tokens_in
    return 0, 0
