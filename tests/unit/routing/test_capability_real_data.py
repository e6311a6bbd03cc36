"""The capability head on real user prompts of the shared dev set (skipped without it).

A fake bag-of-words encoder stands in for MiniLM so the test stays fast and
offline; the lexical n-grams and the parts are the real ones. The figures the
README reports come from the real encoder (`dispatch eval capability`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from dispatch.routing.replay import ReplayRecord, read_replay
from dispatch.routing.train import fit_capability
from dispatch.testing import FakeEncoder

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
CAPABILITIES = DATA / "capabilities_dev.jsonl"
REAL_USERS = ("alpacaeval", "arena-hard-v2.0/")


def real_user_halves() -> tuple[list[ReplayRecord], list[ReplayRecord]]:
    if not CAPABILITIES.is_file():
        pytest.skip(f"no shared data at {CAPABILITIES}")
    records = read_replay(CAPABILITIES, need_capability=True)
    real = [r for r in records if r.source.startswith(REAL_USERS)]
    in_test = [int(hashlib.sha1(r.id.encode()).hexdigest(), 16) % 2 for r in real]
    train = [r for r, t in zip(real, in_test, strict=True) if not t]
    test = [r for r, t in zip(real, in_test, strict=True) if t]
    return train, test


def test_real_user_prompts_are_classified_from_other_real_user_prompts() -> None:
    train, test = real_user_halves()
    encoder = FakeEncoder(64)
    head = fit_capability(
        encoder.encode([r.prompt for r in train]),
        [str(r.capability) for r in train],
        prompts=[r.prompt for r in train],
        groups=[r.source for r in train],
    )
    assert head.parts is not None and len(head.parts) == 4  # one per source
    probs = head.predict(
        [r.prompt for r in test], encoder.encode([r.prompt for r in test])
    )
    predicted = [head.classes[i] for i in probs.argmax(axis=1)]
    accuracy = np.mean(
        [p == r.capability for p, r in zip(predicted, test, strict=True)]
    )
    assert accuracy >= 0.75, f"real-user accuracy {accuracy:.3f} on {len(test)} prompts"
