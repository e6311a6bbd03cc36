"""The bounded view of a prompt that the text-reading layers scan.

The rules layer, the lexical n-grams and the structural features all read a
prompt's first and last `EDGE_CHARS` characters: their work stays bounded on a
200 KB prompt, and the kind of request shows in an opening instruction as well
as in the closing question.
"""

from __future__ import annotations

__all__ = ("EDGE_CHARS", "both_ends")

EDGE_CHARS = 2000
"""Characters read from each end of a long prompt."""


def both_ends(prompt: str, edge: int = EDGE_CHARS, *, sep: str = "\n") -> str:
    """The first and last `edge` characters joined by `sep` (all of a shorter prompt)."""
    if len(prompt) <= 2 * edge:
        return prompt
    return prompt[:edge] + sep + prompt[-edge:]
