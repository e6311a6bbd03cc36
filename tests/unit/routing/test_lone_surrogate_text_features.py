"""The capability head's n-grams and the bar mix's prompt hash take a prompt with
a lone surrogate (an undecodable byte Python kept) as its repaired text.

Both hashed the prompt's UTF-8 bytes and raised ``UnicodeEncodeError`` on it:
``dispatch train`` on a replay line with ``"\\ud800"`` in its prompt failed with
the codec's message, and a live hop on such a prompt lost its routing.
"""

from __future__ import annotations

import numpy as np

from dispatch.routing.learned import prompt_unit
from dispatch.routing.lexical import BUCKETS, LexicalFeatures

BROKEN = "fix the caf\udce9 python bug"  # b"caf\xe9" decoded with surrogateescape
REPAIRED = "fix the caf\ufffd python bug"
OTHERS = ["write a poem about the sea", "who won the 1998 world cup?"]


def test_lexical_features_fit_and_transform_a_lone_surrogate_as_u_fffd() -> None:
    broken = LexicalFeatures.fit([BROKEN, *OTHERS])
    repaired = LexicalFeatures.fit([REPAIRED, *OTHERS])
    assert np.array_equal(broken.idf, repaired.idf)
    got = broken.transform([BROKEN]).toarray()
    assert np.array_equal(got, repaired.transform([REPAIRED]).toarray())
    assert got.any()


def test_a_live_prompt_with_a_lone_surrogate_gets_the_repaired_texts_logits() -> None:
    features = LexicalFeatures.fit([REPAIRED, *OTHERS])
    weights = np.random.default_rng(0).random((2 * BUCKETS, 3), dtype=np.float32)
    assert np.allclose(
        features.logits(BROKEN, weights), features.logits(REPAIRED, weights)
    )


def test_the_mix_hash_of_a_prompt_with_a_lone_surrogate_is_its_repaired_texts() -> None:
    assert prompt_unit(BROKEN) == prompt_unit(REPAIRED)
