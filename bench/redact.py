"""Cost of `dispatch.faults.redact` on typical provider error text.

Run: ``python -m bench.redact``. Baseline, measured in the same run: one regex
pass for ``sk-`` keys, the least a redactor does. Prints µs per call for both and
the ratio.
"""

from __future__ import annotations

import re
import time

from dispatch.faults import redact

MESSAGES = [
    "Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o-mini in "
    "organization org-abc on tokens per min (TPM): Limit 200000, Used 199000, "
    "Requested 3000. Please try again in 900ms.', 'type': 'tokens', 'code': "
    "'rate_limit_exceeded'}}",
    "Error code: 401 - {'error': {'message': 'Incorrect API key provided: "
    "sk-proj-AbCdEf0123456789xyzXYZ. You can find your API key at "
    "https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error'}}",
    "HTTPStatusError: Server error '503 Service Unavailable' for url "
    "'http://localhost:11434/api/chat'",
    "Connection error.",
    "RateLimitError (429, retry after 2s)",
]
_SK = re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}")


def _per_call_us(fn: object, rounds: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for m in MESSAGES:
            fn(m)  # type: ignore[operator]
    return (time.perf_counter() - start) / (rounds * len(MESSAGES)) * 1e6


def main() -> None:
    """Print µs per call of redact and of the one-regex baseline, and their ratio."""
    baseline = _per_call_us(lambda m: _SK.sub("[REDACTED]", m))
    full = _per_call_us(redact)
    print(f"one sk- regex (baseline): {baseline:7.2f} µs per message")
    print(f"redact                  : {full:7.2f} µs per message")
    print(f"ratio                   : {full / baseline:7.1f}x")


if __name__ == "__main__":
    main()
