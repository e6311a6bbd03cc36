"""A models file that names one model twice is refused, naming the model.

JSON lets an object repeat a key and Python keeps the last one silently, so
``{"m": {"tier": "small", ...}, "m": {"tier": "large", ...}}`` trained and
evaluated with whichever entry came last, prices and tier included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch import ConfigError
from dispatch.routing.replay import read_models


def entry(tier: str) -> str:
    return (
        f'{{"tier": "{tier}", "provider": "p", "price_in_per_mtok": 1, '
        '"price_out_per_mtok": 2}'
    )


def test_a_model_named_twice_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(
        f'{{"m": {entry("small")}, "other": {entry("medium")}, "m": {entry("large")}}}'
    )
    with pytest.raises(
        ConfigError, match=r"models\.json: m: named twice in one JSON object"
    ):
        read_models(path)


def test_the_same_key_in_two_different_entries_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(f'{{"a": {entry("small")}, "b": {entry("large")}}}')
    assert set(read_models(path)) == {"a", "b"}
