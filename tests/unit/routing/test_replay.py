from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dispatch import ConfigError
from dispatch.routing.replay import Outcome, read_models, read_replay


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps(
    {
        "id": "rb-1",
        "prompt": "Write a function to add two numbers.",
        "capability": "coding",
        "source": "routerbench/mbpp",
        "outcomes": {"gpt-4": {"quality": 1.0, "cost_usd": 0.002}},
    }
)


def test_a_valid_outcome_line_is_read_with_its_outcomes(tmp_path: Path) -> None:
    [record] = read_replay(write(tmp_path, GOOD, ""), need_outcomes=True)
    assert (record.id, record.capability, record.source) == (
        "rb-1",
        "coding",
        "routerbench/mbpp",
    )
    assert record.outcomes == {"gpt-4": Outcome(quality=1.0, cost_usd=0.002)}


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: not a JSON object"),
        ('{"capability": "coding"}', "line 2: 'prompt' must be a string with text"),
        ('{"prompt": " \\n\\t "}', "line 2: 'prompt' must be a string with text"),
        ('{"prompt": "x", "capability": 3}', "line 2: 'capability' must be a string"),
        ('{"prompt": "x"}', "line 2: 'outcomes' is missing or empty"),
        (
            '{"prompt": "x", "outcomes": {"m": {"quality": 2, "cost_usd": 0}}}',
            "line 2: outcomes['m'] out of range",
        ),
        (
            '{"prompt": "x", "outcomes": {"m": {"quality": 1}}}',
            "line 2: outcomes['m'] is malformed",
        ),
    ],
)
def test_a_malformed_line_names_the_file_the_line_and_the_problem(
    tmp_path: Path, line: str, what: str
) -> None:
    path = write(tmp_path, GOOD, line)
    with pytest.raises(
        ConfigError, match=rf"data\.jsonl: {__import__('re').escape(what)}"
    ):
        read_replay(path, need_outcomes=True)


def test_capability_files_need_labels_only_when_asked(tmp_path: Path) -> None:
    path = write(tmp_path, '{"prompt": "hello", "capability": null}')
    assert read_replay(path)[0].capability is None
    with pytest.raises(ConfigError, match="line 1: 'capability' is missing"):
        read_replay(path, need_capability=True)


def test_missing_and_empty_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_replay(tmp_path / "absent.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(ConfigError, match="no records"):
        read_replay(empty)


def test_models_file_entries_need_tier_and_provider(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"gpt-4": {"tier": "large"}}))
    with pytest.raises(ConfigError, match="models.json: gpt-4: malformed model entry"):
        read_models(path)


def test_bytes_that_are_not_utf8_name_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(ConfigError, match=r"data\.jsonl: line 2: not valid UTF-8"):
        read_replay(path, need_outcomes=True)


def outcome(quality: str, cost: str) -> str:
    return f'{{"prompt": "x", "outcomes": {{"m": {{"quality": {quality}, "cost_usd": {cost}}}}}}}'


@pytest.mark.parametrize(
    ("quality", "cost"),
    [
        ("1", "NaN"),
        ("1", "Infinity"),
        ("1", "1e400"),
        ("1", '"0.1"'),
        ('"1"', "0.1"),
        ("true", "0.1"),
        ("1", "null"),
    ],
)
def test_quality_and_cost_must_be_finite_json_numbers(
    tmp_path: Path, quality: str, cost: str
) -> None:
    path = write(tmp_path, GOOD, outcome(quality, cost))
    with pytest.raises(ConfigError, match=r"data\.jsonl: line 2: outcomes\['m'\]"):
        read_replay(path, need_outcomes=True)


def test_a_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, GOOD.replace("Write", "Now write"))
    with pytest.raises(
        ConfigError,
        match=r"data\.jsonl: line 2: duplicate id 'rb-1' \(first on line 1\)",
    ):
        read_replay(path)


@pytest.mark.parametrize("key", ["id", "source"])
def test_id_and_source_must_be_strings(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, json.dumps({"prompt": "x", key: ["a"]}))
    with pytest.raises(ConfigError, match=rf"line 1: '{key}' must be a string"):
        read_replay(path)


MODEL = {
    "tier": "small",
    "provider": "p",
    "price_in_per_mtok": 0.1,
    "price_out_per_mtok": 0.2,
}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"price_in_per_mtok": -1}, "m.price_in_per_mtok"),
        ({"price_out_per_mtok": "abc"}, "m.price_out_per_mtok"),
        ({"price_in_per_mtok": float("nan")}, "m.price_in_per_mtok"),
        ({"price_in_per_mtok": float("inf")}, "m.price_in_per_mtok"),
        ({"price_in_per_mtok": True}, "m.price_in_per_mtok"),
        ({"tier": "huge"}, "m.tier"),
        ({"provider": 5}, "m.provider"),
    ],
)
def test_a_models_file_entry_with_a_bad_tier_provider_or_price_names_the_key(
    tmp_path: Path, change: dict[str, object], where: str
) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"ok": MODEL, "m": {**MODEL, **change}}))
    with pytest.raises(ConfigError, match=rf"models\.json: {re.escape(where)}: "):
        read_models(path)


def test_a_models_file_may_leave_a_price_null_and_must_be_utf8(
    tmp_path: Path,
) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"m": {**MODEL, "price_in_per_mtok": None}}))
    assert read_models(path)["m"]["price_in_per_mtok"] is None
    path.write_bytes(b'{"m": "\xff"}')
    with pytest.raises(ConfigError, match=r"models\.json: not valid UTF-8"):
        read_models(path)
