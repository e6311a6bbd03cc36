"""Numbers JSON can hold but a float cannot: a 400-digit integer as a cost,
a quality or a price is a `ConfigError` naming the file, the line (or the
model key) and the field, never an `OverflowError` traceback; one past
Python's digit limit, or nesting past its recursion limit, likewise."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from dispatch import ConfigError
from dispatch.routing.replay import read_models, read_replay

HUGE = "1" + "0" * 400
"""An integer JSON reads exactly and `float()` cannot convert."""
GOOD = json.dumps(
    {"prompt": "Add two numbers.", "outcomes": {"m": {"quality": 1, "cost_usd": 0.1}}}
)


def replay(tmp_path: Path, quality: str, cost: str) -> Path:
    path = tmp_path / "outcomes.jsonl"
    bad = (
        f'{{"prompt": "x", "outcomes": {{"m": {{"quality": {quality}, '
        f'"cost_usd": {cost}}}}}}}'
    )
    path.write_text(f"{GOOD}\n{bad}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("quality", "cost", "field"),
    [("1", HUGE, "cost_usd"), (HUGE, "0.1", "quality"), ("1", f"-{HUGE}", "cost_usd")],
)
def test_a_huge_integer_outcome_names_the_file_the_line_and_the_field(
    tmp_path: Path, quality: str, cost: str, field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        read_replay(replay(tmp_path, quality, cost), need_outcomes=True)
    message = str(info.value)
    assert message.startswith(
        f"{tmp_path / 'outcomes.jsonl'}: line 2: outcomes['m'] is malformed: "
        f"{field} is not a finite number"
    ), message
    assert len(message) < 300, message  # the 401 digits are cut, not echoed


def test_an_integer_past_pythons_digit_limit_names_the_line(tmp_path: Path) -> None:
    digits = "9" * (sys.get_int_max_str_digits() + 1)
    with pytest.raises(ConfigError, match=r"outcomes\.jsonl: line 2: .*too long"):
        read_replay(replay(tmp_path, "1", digits), need_outcomes=True)


def test_json_nested_past_the_recursion_limit_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.jsonl"
    path.write_text(f"{GOOD}\n{'[' * 100_000}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"outcomes\.jsonl: line 2: .*nested too"):
        read_replay(path, need_outcomes=True)


MODEL = {"tier": "small", "provider": "p", "price_out_per_mtok": 0.2}


@pytest.mark.parametrize("price", [HUGE, f"-{HUGE}"])
def test_a_huge_integer_price_names_the_model_key_and_the_field(
    tmp_path: Path, price: str
) -> None:
    path = tmp_path / "models.json"
    entry = json.dumps(MODEL)[:-1] + f', "price_in_per_mtok": {price}}}'
    path.write_text(f'{{"m": {entry}}}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_models(path)
    message = str(info.value)
    assert re.match(
        r".*models\.json: m\.price_in_per_mtok: bad price_in_per_mtok", message
    )
    assert len(message) < 300, message


def test_a_models_file_past_the_digit_limit_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    digits = "9" * (sys.get_int_max_str_digits() + 1)
    path.write_text(f'{{"m": {{"price_in_per_mtok": {digits}}}}}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models\.json: .*too long"):
        read_models(path)


def test_records_remember_their_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.jsonl"
    path.write_text(f"{GOOD}\n\n{GOOD.replace('Add', 'Sum')}\n", encoding="utf-8")
    first, second = read_replay(path, need_outcomes=True)
    assert (first.file, first.line) == (str(path), 1)
    assert (second.file, second.line) == (str(path), 3)  # blank lines still count
