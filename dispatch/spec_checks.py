"""The bounds a `ModelSpec` is held to, and the check that applies them.

`dispatch.types.ModelSpec` runs `check_spec` on itself when it is built, so a
spec from code, from the registry YAML or from a price map meets the same
rule. `MAX_USD`, `MAX_TOKENS` and `MAX_TIMEOUT_S` are the one definition of
those bounds; `dispatch.types` re-exports them, and the YAML schema and the
price-map reader import them from there.

Layer 0, below `dispatch.types`: it imports nothing of the project but
`dispatch.errors` (`ModelSpec` only for the type checker), so `types` can call
it without an import cycle.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, TypeGuard

from dispatch.errors import InvalidModelSpec

if TYPE_CHECKING:
    from dispatch.types import ModelSpec

__all__ = ("MAX_TIMEOUT_S", "MAX_TOKENS", "MAX_USD", "check_spec")

MAX_USD = Decimal(10**9)
"""The largest price (USD per million tokens) or budget (USD) a config may set.

``--json`` output carries USD as floats: up to here one keeps the micro-dollar,
while a price like ``1e400`` would print as ``Infinity`` (not JSON). No real
price comes near (the dearest are under $1,000 per million tokens); a budget
with no limit is ``null``."""

MAX_TOKENS = 10**9
"""The largest context window or output cap a model may have (no model reads
a billion tokens; a larger number is a typo or a hostile file)."""

MAX_TIMEOUT_S = 3600.0
"""Longest ``timeout_s`` accepted: an hour. A call that may take longer is a
hung call the workflow should give up on, and ``inf`` would mean never."""


_PRICE_FIELDS = (
    "input_per_mtok",
    "output_per_mtok",
    "cache_read_per_mtok",
    "cache_write_per_mtok",
)
_USD = f"a Decimal >= 0 and at most {MAX_USD:,} USD per million tokens"
_TOKENS = f"a whole number of tokens in 1..{MAX_TOKENS:,}"
_SECONDS = f"a finite number of seconds > 0 and at most {MAX_TIMEOUT_S:g}"


def check_spec(spec: ModelSpec) -> None:
    """The bounds the registry schema puts on a model, checked on the final
    values whatever their source (YAML, price map or code); the first
    problem is raised.

    Raises:
        InvalidModelSpec: a malformed id; a quality outside 0..1; a price not
            a finite Decimal in 0..`MAX_USD`; a token limit outside
            1..`MAX_TOKENS`, or an output cap above the context window; a
            latency or rate limit that is not a positive whole number; a
            timeout not finite, not positive or above `MAX_TIMEOUT_S`.
    """
    mid = spec.id
    try:
        _ = spec.provider  # parses the id (`dispatch.types.parse_model_id`)
    except (ValueError, AttributeError):  # AttributeError: not a str at all
        raise InvalidModelSpec(
            str(mid), "id", "id", "malformed", found=mid, expected="'provider:model'"
        ) from None
    for capability, quality in spec.quality.items():
        if not (_is_number(quality) and 0 <= quality <= 1):
            raise InvalidModelSpec(
                mid,
                f"quality.{capability}",
                f"quality for {capability!r}",
                "outside 0..1",
                found=quality,
                expected="a number from 0 to 1",
            )
    for field in _PRICE_FIELDS:
        price = getattr(spec, field)
        if price is None and field.startswith("cache_"):
            continue  # unknown: billed at the input rate
        issue = _usd_issue(price)
        if issue:
            raise InvalidModelSpec(
                mid, field, "price", issue, found=price, expected=_USD
            )
    for field, subject in (
        ("context_window", "context window"),
        ("max_output_tokens", "output cap"),
    ):
        tokens = getattr(spec, field)
        if not (_is_whole(tokens) and 1 <= tokens <= MAX_TOKENS):
            big = _is_whole(tokens) and tokens > MAX_TOKENS
            issue = "too large to be real" if big else "not a positive whole number"
            raise InvalidModelSpec(
                mid, field, subject, issue, found=tokens, expected=_TOKENS
            )
    if spec.max_output_tokens > spec.context_window:
        raise InvalidModelSpec(
            mid,
            "max_output_tokens",
            "output cap",
            "larger than the context window",
            found=spec.max_output_tokens,
            expected=f"at most the context_window of {mid} ({spec.context_window})",
            other="context_window",
        )
    for field, subject, optional in (
        ("latency_ms", "latency", False),
        ("rpm", "rate limit", True),
        ("tpm", "rate limit", True),
    ):
        count = getattr(spec, field)
        if not ((optional and count is None) or (_is_whole(count) and count > 0)):
            raise InvalidModelSpec(
                mid,
                field,
                subject,
                "not a positive whole number",
                found=count,
                expected="a whole number > 0" + (", or None" if optional else ""),
            )
    timeout = spec.timeout_s
    if timeout is not None:
        issue = _timeout_issue(timeout)
        if issue:
            raise InvalidModelSpec(
                mid, "timeout_s", "timeout", issue, found=timeout, expected=_SECONDS
            )


def _is_whole(value: object) -> TypeGuard[int]:
    """An `int`, not a `bool` (``True`` is not a token count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    """An `int` or `float`, not a `bool`; NaN fails every bound checked on it."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _usd_issue(price: object) -> str | None:
    """What is wrong with `price` as USD per million tokens, or None."""
    if not isinstance(price, Decimal):
        return "not a Decimal"
    if not price.is_finite():
        return "not finite"
    if price < 0:
        return "negative"
    return "too large to be real" if price > MAX_USD else None


def _timeout_issue(seconds: object) -> str | None:
    """What is wrong with `seconds` as a call's timeout, or None. An `int`
    too large for a float compares exactly, so it is "too long", not an
    `OverflowError`."""
    if not _is_number(seconds):
        return "not a number"
    if isinstance(seconds, float) and not math.isfinite(seconds):
        return "not finite"
    if seconds <= 0:
        return "not positive"
    return f"longer than {MAX_TIMEOUT_S:g} s" if seconds > MAX_TIMEOUT_S else None
