"""`dispatch route`'s PROMPT is decoded like a request: the bytes typed, as UTF-8
with undecodable bytes replaced, stripped; a blank prompt is refused."""

from __future__ import annotations

import os

import pytest

from dispatch import ConfigError
from dispatch.cli.inputs import read_prompt


def test_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    typed = os.fsdecode(b"caf\xe9 \xed\xa0\x80 ")  # as Python decodes argv
    text = read_prompt(typed)
    assert text == "caf\ufffd \ufffd\ufffd\ufffd"
    assert text.encode("utf-8")  # no lone surrogate left for an encoder


def test_text_is_kept_and_only_its_ends_are_stripped() -> None:
    assert read_prompt("  Sort this list,\n then sum it. \n") == (
        "Sort this list,\n then sum it."
    )
    assert read_prompt("naïve café ✓") == "naïve café ✓"


@pytest.mark.parametrize("prompt", ["", " ", "\n\t\r "])
def test_a_blank_prompt_is_a_config_error_naming_the_argument(prompt: str) -> None:
    with pytest.raises(ConfigError, match=r"^PROMPT: the prompt is empty$"):
        read_prompt(prompt)
