"""Tokens to exact USD, usage extraction from `AIMessage.usage_metadata`, estimates.

When a provider reports no usage, tokens are estimated with the common
"about four characters per token" rule for English text (OpenAI's published rule
of thumb), counted over every message's text plus a few tokens of per-message
framing, and the hop is marked ``estimated``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from langchain_core.messages import AIMessage, BaseMessage

from dispatch.types import ModelSpec, Usage

__all__ = (
    "CHARS_PER_TOKEN",
    "call_cost",
    "estimate_message_tokens",
    "estimate_tokens",
    "usage_of",
)

CHARS_PER_TOKEN = 4
"""Characters per token assumed by estimates."""
_PER_MESSAGE_TOKENS = 4
"""Role and separator tokens a chat format adds per message."""
_MILLION = Decimal(1_000_000)


def estimate_tokens(text: str) -> int:
    """Estimated tokens of `text`: ``ceil(len / 4)``, at least 1 for non-empty text."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_message_tokens(messages: Sequence[BaseMessage]) -> int:
    """Estimated input tokens of a chat request."""
    total = 0
    for m in messages:
        total += _PER_MESSAGE_TOKENS + estimate_tokens(m.text)
        if isinstance(m, AIMessage):
            for call in m.tool_calls:
                total += estimate_tokens(call["name"] + str(call["args"]))
    return total


def usage_of(message: AIMessage, request: Sequence[BaseMessage]) -> Usage:
    """Token usage of one call: the provider's `usage_metadata`, else an estimate.

    Cache-read and reasoning token details are subsets of the input/output
    counts and are not added again.
    """
    meta = message.usage_metadata
    if meta is not None and (meta.get("input_tokens") or meta.get("output_tokens")):
        # Passed through as reported: the hop checks them (dispatch.hop.checked_usage)
        # and records what was impossible, instead of failing on int("lots").
        return Usage(
            input_tokens=meta.get("input_tokens", 0),
            output_tokens=meta.get("output_tokens", 0),
        )
    out = estimate_tokens(message.text) + sum(
        estimate_tokens(c["name"] + str(c["args"])) for c in message.tool_calls
    )
    return Usage(
        input_tokens=estimate_message_tokens(request), output_tokens=out, estimated=True
    )


def call_cost(spec: ModelSpec, input_tokens: int, output_tokens: int) -> Decimal:
    """Exact USD cost of `input_tokens` in and `output_tokens` out on `spec`."""
    return (
        spec.input_per_mtok * input_tokens + spec.output_per_mtok * output_tokens
    ) / _MILLION
