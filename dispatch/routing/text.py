"""The bounded view of a prompt that the text-reading layers scan.

The rules layer, the lexical n-grams and the structural features all read a
prompt's first and last `EDGE_CHARS` characters: their work stays bounded on a
200 KB prompt, and the kind of request shows in an opening instruction as well
as in the closing question.
"""

from __future__ import annotations

import re

__all__ = ("EDGE_CHARS", "both_ends", "well_formed")

_SURROGATE = re.compile("[\ud800-\udfff]")

EDGE_CHARS = 2000
"""Characters read from each end of a long prompt."""


def both_ends(prompt: str, edge: int = EDGE_CHARS, *, sep: str = "\n") -> str:
    """The first and last `edge` characters joined by `sep` (all of a shorter prompt)."""
    if len(prompt) <= 2 * edge:
        return prompt
    return prompt[:edge] + sep + prompt[-edge:]


def well_formed(text: str) -> str:
    """`text` with each lone surrogate replaced by one U+FFFD (unchanged when it has none).

    Python keeps undecodable bytes as lone surrogates (``surrogateescape``:
    argv, some subprocess output), and such a string cannot be encoded as
    UTF-8: a tokenizer or a hash of it raises. The embedding layers take every
    text through here, so a stray byte in a tool result costs a replacement
    character, not the hop.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text
